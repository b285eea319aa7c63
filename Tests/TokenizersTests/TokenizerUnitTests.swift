import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

/// The parts that need no download: truncation arithmetic, vocabulary loading and its errors, WordPiece on a
/// tiny vocabulary, special tokens in text.
final class TokenizerUnitTests: XCTestCase {
    /// A tiny vocab.txt in a temporary folder.
    func makeVocab(_ tokens: [String], _ name: String = "vocab.txt") throws -> URL {
        let dir = try TestPaths.makeTempDir("tok")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        try (tokens.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static let tiny = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "aff", "##a", "a", "b",
                       "!", "cafe", "##s", "hello", "x", "##x"]

    func testLongestFirstLengths() {
        let f = BertTokenizer.truncatedLengths
        // Fits: unchanged.
        XCTAssertTrue(f(3, 3, 6) == (3, 3))
        XCTAssertTrue(f(0, 0, 0) == (0, 0))
        // Only the longer one is cut.
        XCTAssertTrue(f(2, 15, 7) == (2, 5))
        XCTAssertTrue(f(15, 2, 7) == (5, 2))
        // Both cut: the shorter gets budget/2, the longer the rest; equal lengths give the extra to the second.
        XCTAssertTrue(f(10, 10, 7) == (3, 4))
        XCTAssertTrue(f(10, 10, 6) == (3, 3))
        XCTAssertTrue(f(15, 7, 7) == (4, 3))
        XCTAssertTrue(f(7, 15, 7) == (3, 4))
        // The shorter alone exceeds the budget.
        XCTAssertTrue(f(12, 13, 7) == (3, 4))
        XCTAssertTrue(f(5, 3, 0) == (0, 0))
        XCTAssertTrue(f(5, 3, 1) == (1, 0))
        // Never longer than the input, never over the budget.
        for a in 0...20 {
            for b in 0...20 {
                for m in 0...25 {
                    let (x, y) = f(a, b, m)
                    XCTAssert(x <= a && y <= b && x >= 0 && y >= 0, "\(a) \(b) \(m)")
                    XCTAssert(x + y == min(a + b, m), "\(a) \(b) \(m) -> \(x) \(y)")
                }
            }
        }
    }

    func testWordPieceOnATinyVocabulary() throws {
        let tok = try BertTokenizer(vocabURL: makeVocab(Self.tiny))
        XCTAssertEqual(tok.vocabSize, Self.tiny.count)
        XCTAssertEqual(tok.tokenize("unaffable"), ["un", "##aff", "##able"])
        XCTAssertEqual(tok.tokenize("UnAffAble!"), ["un", "##aff", "##able", "!"])
        XCTAssertEqual(tok.tokenize("Cafés"), ["cafe", "##s"])
        XCTAssertEqual(tok.tokenize("unaffablez xx"), ["[UNK]", "x", "##x"])  // one unmatched piece: whole word
        XCTAssertEqual(tok.tokenize(String(repeating: "a", count: 100)).count, 100)
        XCTAssertEqual(tok.tokenize(String(repeating: "a", count: 101)), ["[UNK]"])
        XCTAssertEqual(tok.tokenize("a[MASK]b [mask]"), ["a", "[MASK]", "b", "[UNK]", "[UNK]", "[UNK]"])
        XCTAssertEqual(tok.tokenize("[CLS][CLS]"), ["[CLS]", "[CLS]"])
        let e = tok.encode("hello", pair: "x", maxLength: 8, padToMaxLength: true)
        XCTAssertEqual(e.ids, [2, 15, 3, 16, 3, 0, 0, 0])
        XCTAssertEqual(e.tokenTypeIds, [0, 0, 0, 1, 1, 0, 0, 0])
        XCTAssertEqual(e.attentionMask, [1, 1, 1, 1, 1, 0, 0, 0])
        XCTAssertEqual(e.tokens, ["[CLS]", "hello", "[SEP]", "x", "[SEP]", "[PAD]", "[PAD]", "[PAD]"])
        // Below the special tokens' count nothing is truncated (as in the reference).
        XCTAssertEqual(tok.encode("a a a", maxLength: 1).ids, [2, 10, 10, 10, 3])
        XCTAssertEqual(tok.encode("a a a", maxLength: 2).ids, [2, 3])
        XCTAssertEqual(tok.encode("a a a", maxLength: nil).ids, [2, 10, 10, 10, 3])
        XCTAssertEqual(tok.encode("a", pair: "", maxLength: 128).ids, [2, 10, 3, 3])
    }

    func testOptions() throws {
        let url = try makeVocab(Self.tiny + ["Cafés", "É"])
        let cased = try BertTokenizer(vocabURL: url, options: .init(lowercase: false))
        XCTAssertEqual(cased.tokenize("Cafés É"), ["Cafés", "É"])
        let stripOnly = try BertTokenizer(vocabURL: url, options: .init(lowercase: false, stripAccents: true))
        XCTAssertEqual(stripOnly.tokenize("cafés"), ["cafe", "##s"])
        let short = try BertTokenizer(vocabURL: url, options: .init(maxInputCharsPerWord: 4))
        XCTAssertEqual(short.tokenize("cafe cafes"), ["cafe", "[UNK]"])
    }

    func testVocabularyErrors() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/vocab.txt")
        XCTAssertThrowsError(try BertTokenizer(vocabURL: missing)) { error in
            guard case TokenizerError.missingVocab(let path) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, missing.path)
        }
        XCTAssertThrowsError(try BertTokenizer(vocabURL: makeVocab(["[UNK]", "[CLS]", "", "[SEP]"]))) { error in
            guard case TokenizerError.badVocab(_, let line, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 3)
        }
        XCTAssertThrowsError(try BertTokenizer(vocabURL: makeVocab(["[UNK]", "a", "[CLS]", "a"]))) { error in
            guard case TokenizerError.badVocab(_, let line, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 4)
            XCTAssertTrue(message.contains("line 2"), message)
        }
        XCTAssertThrowsError(try BertTokenizer(vocabURL: makeVocab(["[PAD]", "[UNK]", "[CLS]"]))) { error in
            guard case TokenizerError.unknownSpecialToken(let token) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(token, "[SEP]")
            XCTAssertTrue("\(error)".contains("[SEP]"))
        }
    }

    func testCRLFVocabularyAndFolderFallback() throws {
        let url = try makeVocab(Self.tiny)
        let crlf = url.deletingLastPathComponent().appendingPathComponent("crlf.txt")
        try Self.tiny.joined(separator: "\r\n").write(to: crlf, atomically: true, encoding: .utf8)
        XCTAssertEqual(try BertTokenizer(vocabURL: crlf).tokenize("unaffable"), ["un", "##aff", "##able"])
        // A folder without tokenizer.json: vocab.txt and tokenizer_config.json's do_lower_case.
        let folder = url.deletingLastPathComponent()
        try #"{"do_lower_case": false}"#.write(to: folder.appendingPathComponent("tokenizer_config.json"),
                                                atomically: true, encoding: .utf8)
        let tok = try BertTokenizer(folder: folder)
        XCTAssertFalse(tok.options.lowercase)
        XCTAssertEqual(tok.tokenize("Hello hello"), ["[UNK]", "hello"])
    }

    func testTokenizerJSONErrors() throws {
        let dir = try TestPaths.makeTempDir("tokjson")
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("tokenizer.json")
        try #"{"model": {"type": "BPE", "vocab": {}}}"#.write(to: json, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BertTokenizer(folder: dir)) { error in
            guard case TokenizerError.badVocab = error else { return XCTFail("\(error)") }
        }
        try #"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 2}}}"#
            .write(to: json, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BertTokenizer(folder: dir)) { error in
            guard case TokenizerError.badVocab = error else { return XCTFail("\(error)") }
        }
        try #"{"model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}}}"#
            .write(to: json, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BertTokenizer(folder: dir)) { error in  // no normalizer
            guard case TokenizerError.badVocab(_, _, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("BertNormalizer"), message)
        }
        try #"""
            {"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2,
             "[SEP]": 3, "hi": 4}}, "normalizer": {"type": "BertNormalizer", "lowercase": false,
             "strip_accents": null, "handle_chinese_chars": true, "clean_text": true},
             "added_tokens": [{"id": 3, "content": "[SEP]"}]}
            """#.write(to: json, atomically: true, encoding: .utf8)
        let tok = try BertTokenizer(folder: dir)
        XCTAssertFalse(tok.options.lowercase)
        XCTAssertEqual(tok.tokenize("hi Hi[SEP]hi [CLS]"), ["hi", "[UNK]", "[SEP]", "hi", "[UNK]", "[UNK]", "[UNK]"])
    }
}
