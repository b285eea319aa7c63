import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

/// The normaliser and pre-tokenizer alone against the Rust ones (`normalizer` in
/// Tests/Fixtures/tokenizers/cases.json): the normalised string and the words, compared scalar by scalar.
final class NormalizerTests: XCTestCase {
    func testNormalizerAndPreTokenizerMatchTheFastTokenizer() throws {
        let tok = try TokenizerFixtures.tokenizer()
        let cases = try Golden.json(GoldenCaseTests.File.self, TokenizerFixtures.url("cases.json")).normalizer
        XCTAssertGreaterThan(cases.count, 50)
        func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }
        for c in cases {
            let normalized = tok.normalizer.normalize(c.text[...]).map(\.value)
            XCTAssertEqual(normalized, scalars(c.normalized), "normalised \(c.text.debugDescription)")
            let words = tok.normalizer.words(c.text[...]).map { $0.map(\.value) }
            XCTAssertEqual(words, c.words.map(scalars), "words of \(c.text.debugDescription)")
        }
    }

    /// The fast tokenizer's order (strip accents, then lowercase, one scalar at a time), its whitespace
    /// (White_Space) and its removed characters (Cc, Cf, Co).
    func testOrderAndWhitespace() {
        let n = BertNormalizer()
        XCTAssertEqual(String(String.UnicodeScalarView(n.normalize("İstanbul ẞ Ǆ"))), "istanbul ß ǆ")
        // U+2028 and U+3000 are whitespace (White_Space), U+200B is removed (Cf), U+0085 is removed (Cc).
        XCTAssertEqual(n.words("a\u{2028}b\u{3000}c\u{200B}d\u{85}e").map { String(String.UnicodeScalarView($0)) },
                       ["a", "b", "cde"])
        // Chinese characters and punctuation are words of their own.
        XCTAssertEqual(n.words("ab中c,d").map { String(String.UnicodeScalarView($0)) }, ["ab", "中", "c", ",", "d"])
    }
}
