import Foundation
import TestSupport
import Tokenizers
import XCTest

/// Synthetic strings against `BertTokenizerFast` (Tests/Fixtures/tokenizers/cases.json, written by
/// Tools/make_tokenizer_goldens.py): ids, token types, attention masks and tokens must be equal exactly.
final class GoldenCaseTests: XCTestCase {
    struct Case: Decodable {
        var name: String
        var text: String
        var pair: String?
        var max_length: Int?
        var pad: Bool
        var ids: [Int32]
        var token_type_ids: [Int32]
        var attention_mask: [Int32]
        var tokens: [String]
    }

    struct NormalizerCase: Decodable {
        var text: String
        var normalized: String
        var words: [String]
    }

    struct File: Decodable {
        var generator: String
        var cases: [Case]
        var normalizer: [NormalizerCase]
    }

    static func cases() throws -> [Case] {
        try Golden.json(File.self, TokenizerFixtures.url("cases.json")).cases
    }

    func testEveryCaseMatchesTheFastTokenizer() throws {
        let tok = try TokenizerFixtures.tokenizer()
        let cases = try Self.cases()
        XCTAssertGreaterThan(cases.count, 100)
        var failed: [String] = []
        for c in cases {
            let e = tok.encode(c.text, pair: c.pair, maxLength: c.max_length, padToMaxLength: c.pad)
            let expected = Encoding(ids: c.ids, tokenTypeIds: c.token_type_ids, attentionMask: c.attention_mask,
                                    tokens: c.tokens)
            if e != expected {
                failed.append(c.name)
                XCTFail("""
                    case \(c.name) (max_length \(c.max_length.map(String.init) ?? "none"), pad \(c.pad)):
                      text   \(c.text.debugDescription)
                      pair   \(c.pair?.debugDescription ?? "none")
                      ours   \(e.tokens)
                      theirs \(c.tokens)
                      ids ours \(e.ids) theirs \(c.ids)
                      types ours \(e.tokenTypeIds) theirs \(c.token_type_ids)
                      mask ours \(e.attentionMask) theirs \(c.attention_mask)
                    """)
            }
        }
        print("tokenizer golden cases: \(cases.count - failed.count) of \(cases.count) equal")
    }

    /// The context option's cases (previous utterances, then the utterance, as `Speaker: text`).
    func testContextPairs() throws {
        let tok = try TokenizerFixtures.tokenizer()
        let context = try Self.cases().filter { $0.name.hasPrefix("context_") }
        XCTAssertGreaterThanOrEqual(context.count, 5)
        for c in context {
            let e = tok.encode(c.text, pair: c.pair, maxLength: c.max_length)
            XCTAssertEqual(e.ids, c.ids, c.name)
            XCTAssertEqual(e.tokenTypeIds, c.token_type_ids, c.name)
            XCTAssertEqual(e.attentionMask, c.attention_mask, c.name)
            XCTAssertLessThanOrEqual(e.count, 128, c.name)
        }
    }

    /// The batch call gives what one call per item gives, in order.
    func testBatchEqualsSingleCalls() throws {
        let tok = try TokenizerFixtures.tokenizer()
        let cases = try Self.cases()
        let items = (0..<5).flatMap { _ in cases.map { ($0.text, $0.pair) } }
        let batch = tok.encodeBatch(items, maxLength: 128)
        XCTAssertEqual(batch.count, items.count)
        for (i, item) in items.enumerated() {
            XCTAssertEqual(batch[i], tok.encode(item.0, pair: item.1, maxLength: 128), "item \(i)")
        }
    }

    /// tokenizer.json and vocab.txt (+ tokenizer_config.json) give the same tokenizer.
    func testVocabTxtAndTokenizerJSONAgree() throws {
        let folder = try TokenizerFixtures.requireMiniLM()
        let fromJSON = try TokenizerFixtures.tokenizer()
        let fromTxt = try BertTokenizer(vocabURL: folder.appendingPathComponent("vocab.txt"))
        XCTAssertEqual(fromJSON.vocabSize, 30522)
        XCTAssertEqual(fromTxt.vocabSize, 30522)
        XCTAssertEqual(fromJSON.options, fromTxt.options)
        for (token, id) in [("[PAD]", 0), ("[UNK]", 100), ("[CLS]", 101), ("[SEP]", 102), ("[MASK]", 103)] {
            XCTAssertEqual(fromJSON.id(of: token), Int32(id), token)
            XCTAssertEqual(fromTxt.id(of: token), Int32(id), token)
        }
        for c in try Self.cases() {
            XCTAssertEqual(fromTxt.encode(c.text, pair: c.pair, maxLength: c.max_length, padToMaxLength: c.pad),
                           fromJSON.encode(c.text, pair: c.pair, maxLength: c.max_length, padToMaxLength: c.pad),
                           c.name)
        }
    }

    func testTokenizeHasNoSpecialTokensAroundIt() throws {
        let tok = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tok.tokenize("Ross’s sandwich!"), ["ross", "’", "s", "sandwich", "!"])
        XCTAssertEqual(tok.tokenize("Hello [SEP] world"), ["hello", "[SEP]", "world"])
        XCTAssertEqual(tok.tokenize(""), [])
        let e = tok.encode("How are you?", pair: "Fine.", maxLength: 128)
        XCTAssertEqual(e.ids, [101, 2129, 2024, 2017, 1029, 102, 2986, 1012, 102])
        XCTAssertEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1])
    }
}
