import Datasets
import Foundation
import TestSupport
import Tokenizers
import XCTest

/// Every MELD train utterance against `BertTokenizerFast` (Tests/Fixtures/tokenizers/meld_train_ids.txt, ids of
/// `tok(text, truncation=True, max_length=128)` per `dia{D}_utt{U}`), from both encodings of the train CSV in
/// `../shared/data/meld/`, read with the Datasets module (which repairs the cp1252 C1 characters and NBSP).
final class MELDGoldenTests: XCTestCase {
    static let trainRows = 9989

    /// key → golden ids.
    static func goldenIDs(_ name: String = "meld_train_ids.txt") throws -> [String: [Int32]] {
        var golden: [String: [Int32]] = [:]
        for line in try TokenizerFixtures.lines(name) {
            let fields = line.split(separator: " ")
            golden[String(fields[0])] = fields.dropFirst().map { Int32($0)! }
        }
        return golden
    }

    /// The train utterances of one CSV file, by clip name (`dia0_utt0`).
    static func utterances(_ file: String) throws -> [Utterance] {
        let url = try TokenizerFixtures.requireMELD(file)
        let (utterances, errors) = try MELDAnnotations.parse(Data(contentsOf: url), split: .train, path: url.path)
        XCTAssertEqual(errors.count, 0, "\(file): \(errors.prefix(3))")
        return utterances
    }

    func checkTrainFile(_ file: String) throws {
        let tok = try TokenizerFixtures.tokenizer()
        let golden = try Self.goldenIDs()
        XCTAssertEqual(golden.count, Self.trainRows, "rows in meld_train_ids.txt")
        let utterances = try Self.utterances(file)
        XCTAssertEqual(utterances.count, Self.trainRows, "rows in \(file)")
        let encodings = tok.encodeBatch(utterances.map { ($0.text, nil) }, maxLength: 128)
        var matched = 0
        var mismatches: [String] = []
        for (u, e) in zip(utterances, encodings) {
            let key = u.key.clipName
            guard let expected = golden[key] else { mismatches.append("\(key): no golden row"); continue }
            if e.ids == expected && e.tokenTypeIds.allSatisfy({ $0 == 0 }) && e.attentionMask.allSatisfy({ $0 == 1 }) {
                matched += 1
            } else if mismatches.count < 20 {
                mismatches.append("\(key) \(u.text.debugDescription)\n  ours   \(e.ids)\n  theirs \(expected)")
            }
        }
        print("\(file): \(matched) of \(utterances.count) train utterances give the golden ids")
        XCTAssertEqual(matched, Self.trainRows, "\(file): mismatches:\n" + mismatches.joined(separator: "\n"))
    }

    /// The upstream file (UTF-8, CRLF, proper punctuation).
    func testTrainUTF8MatchesGolden() throws {
        try checkTrainFile("train_sent_emo.csv")
    }

    /// The tarball's file (cp1252 punctuation as C1 controls, NBSP): after the repair, the same ids.
    func testTrainTarballEncodingMatchesGolden() throws {
        try checkTrainFile("train_sent_emo.tarball-encoding.csv")
    }

    /// Context pairs built from the real dialogues (Tests/Fixtures/tokenizers/meld_context_ids.txt): the first
    /// segment is the previous utterances as `Speaker: text` joined by a space, the second the utterance itself.
    func testContextPairsFromRealDialogues() throws {
        let tok = try TokenizerFixtures.tokenizer()
        var expected: [String: (n0: Int, ids: [Int32])] = [:]
        for line in try TokenizerFixtures.lines("meld_context_ids.txt") {
            let f = line.split(separator: " ")
            expected[String(f[0])] = (Int(f[1])!, f.dropFirst(2).map { Int32($0)! })
        }
        XCTAssertGreaterThan(expected.count, 300)
        let utterances = try Self.utterances("train_sent_emo.tarball-encoding.csv")
        var history: [Int: [String]] = [:]
        var checked = 0
        for u in utterances {  // sorted by key: dialogues in order, utterances in order within each
            let line = "\(u.speaker): \(u.text)"
            defer { history[u.key.dialogueID, default: []].append(line) }
            guard let want = expected[u.key.clipName] else { continue }
            let first = (history[u.key.dialogueID] ?? []).joined(separator: " ")
            let e = tok.encode(first, pair: line, maxLength: 128)
            XCTAssertEqual(e.ids, want.ids, u.key.clipName)
            XCTAssertEqual(e.tokenTypeIds, [Int32](repeating: 0, count: want.n0)
                           + [Int32](repeating: 1, count: want.ids.count - want.n0), u.key.clipName)
            XCTAssertEqual(e.attentionMask, [Int32](repeating: 1, count: want.ids.count), u.key.clipName)
            checked += 1
        }
        XCTAssertEqual(checked, expected.count)
    }

    /// All train utterances, timed (the budget is for release builds: well under a second).
    func testSpeedOfTheWholeTrainSplit() throws {
        let tok = try TokenizerFixtures.tokenizer()
        let texts = try Self.utterances("train_sent_emo.csv").map(\.text)
        var start = Date()
        var total = 0
        for text in texts { total += tok.encode(text, maxLength: 128).count }
        let serial = Date().timeIntervalSince(start)
        start = Date()
        _ = tok.encodeBatch(texts.map { ($0, nil) }, maxLength: 128)
        let batch = Date().timeIntervalSince(start)
        print(String(format: "tokenised %d utterances (%d ids): %.3f s one by one, %.3f s as a batch",
                     texts.count, total, serial, batch))
        #if DEBUG
        XCTAssertLessThan(serial, 20, "debug build")
        #else
        XCTAssertLessThan(serial, 1, "release build")
        #endif
    }
}
