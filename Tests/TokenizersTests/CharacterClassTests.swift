import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

/// Every code point U+0000–U+10FFFF against the Rust normaliser and pre-tokenizer
/// (Tests/Fixtures/tokenizers/charclasses.txt, written by Tools/make_tokenizer_goldens.py): which characters
/// `clean_text` removes or turns into spaces, which are Chinese, which are punctuation, which are nonspacing
/// marks; the strip_accents output and the lowercase mapping of each one.
final class CharacterClassTests: XCTestCase {
    struct Reference {
        var classes = [UInt8](repeating: 0, count: 0x110000)
        var strip: [UInt32: [UInt32]] = [:]
        var lower: [UInt32: [UInt32]] = [:]
    }

    static func reference() throws -> Reference {
        var ref = Reference()
        for line in try TokenizerFixtures.lines("charclasses.txt") {
            let f = line.split(separator: " ")
            if f[0] == "strip" || f[0] == "lower" {
                let cp = UInt32(f[1], radix: 16)!
                let mapped = f.dropFirst(2).map { UInt32($0, radix: 16)! }
                if f[0] == "strip" { ref.strip[cp] = mapped } else { ref.lower[cp] = mapped }
            } else {
                let first = Int(f[0], radix: 16)!, last = Int(f[1], radix: 16)!
                for cp in first...last { ref.classes[cp] = f[2].utf8.first! }
            }
        }
        return ref
    }

    /// Our class of a scalar, in the fixture's letters.
    static func ourClass(_ s: Unicode.Scalar) -> Character {
        if CharacterClasses.isRemovedByCleanText(s) { return "R" }
        if CharacterClasses.isWhitespace(s) { return "W" }
        if CharacterClasses.isChinese(s) { return "C" }
        if CharacterClasses.isPunctuation(s) { return "P" }
        if CharacterClasses.isNonspacingMark(s) { return "M" }
        return "."
    }

    func testEveryCodePoint() throws {
        let ref = try Self.reference()
        let stripOnly = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false)
        let lowerOnly = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true)
        var classDiffs: [String] = [], stripDiffs: [String] = [], lowerDiffs: [String] = []
        for v in UInt32(0)...0x10FFFF {
            guard let s = Unicode.Scalar(v) else {
                XCTAssertEqual(ref.classes[Int(v)], UInt8(ascii: "S"))
                continue
            }
            let theirs = Character(Unicode.Scalar(ref.classes[Int(v)]))
            let ours = Self.ourClass(s)
            if ours != theirs { classDiffs.append(String(format: "U+%04X ours %@ theirs %@", v, String(ours), String(theirs))) }

            if theirs != "R" && theirs != "W" {
                let stripped = stripOnly.normalize(String(s)[...]).map(\.value)
                var expected = ref.strip[v] ?? (theirs == "M" ? [] : [v])
                if (0xAC00...0xD7A3).contains(v) {  // Hangul syllables: the algorithmic decomposition
                    let i = v - 0xAC00
                    expected = [0x1100 + i / 588, 0x1161 + (i % 588) / 28] + (i % 28 == 0 ? [] : [0x11A7 + i % 28])
                }
                if stripped != expected {
                    stripDiffs.append(String(format: "U+%04X ours %@ theirs %@", v, "\(stripped)", "\(expected)"))
                }
            }
            let lowered = lowerOnly.normalize(String(s)[...]).map(\.value)
            if lowered != ref.lower[v] ?? [v] {
                lowerDiffs.append(String(format: "U+%04X ours %@ theirs %@", v, "\(lowered)", "\(ref.lower[v] ?? [v])"))
            }
        }
        XCTAssertEqual(classDiffs.count, 0, "classes differ:\n" + classDiffs.prefix(40).joined(separator: "\n"))
        XCTAssertEqual(stripDiffs.count, 0, "strip_accents differs:\n" + stripDiffs.prefix(40).joined(separator: "\n"))
        XCTAssertEqual(lowerDiffs.count, 0, "lowercase differs:\n" + lowerDiffs.prefix(40).joined(separator: "\n"))
    }
}
