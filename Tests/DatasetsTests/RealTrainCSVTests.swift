import Datasets
import Foundation
import TestSupport
import XCTest

/// The two real train CSVs under `../shared/data/meld` (MELD-DATA.md): upstream HEAD (UTF-8, CRLF) and the
/// tarball's pre-conversion encoding (LF, cp1252 punctuation as C1 control characters).
final class RealTrainCSVTests: XCTestCase {
    static let headName = "train_sent_emo.csv"
    static let tarballName = "train_sent_emo.tarball-encoding.csv"

    func load(_ name: String) throws -> (utterances: [Utterance], errors: [CSVRowError]) {
        guard let shared = TestPaths.shared else {
            throw XCTSkip("the real MELD CSVs are not here: ../shared/data/meld is absent (set MELD_SHARED_DIR to its parent)")
        }
        let url = shared.appendingPathComponent("data/meld").appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        let start = Date()
        let parsed = try MELDAnnotations.parse(data, split: .train, path: url.path)
        print(String(format: "parsed %@ (%d bytes) in %.3f s", name, data.count, Date().timeIntervalSince(start)))
        return parsed
    }

    /// Acceptance: both files give the same 9989 rows with identical text after repairing the cp1252 C1 characters.
    func testBothTrainFilesGiveTheSameRowsAfterRepair() throws {
        let head = try load(Self.headName), tarball = try load(Self.tarballName)
        XCTAssertEqual(head.utterances.count, 9989)
        XCTAssertEqual(tarball.utterances.count, 9989)
        XCTAssertEqual(head.errors.map(\.description), [])
        XCTAssertEqual(tarball.errors.map(\.description), [])
        XCTAssertEqual(head.utterances.map(\.key), tarball.utterances.map(\.key))

        var differing: [String] = []
        for (h, t) in zip(head.utterances, tarball.utterances) where h != t {
            differing.append("\(h.key): HEAD \(debug(h.text)) / \(debug(h.speaker)); "
                + "tarball \(debug(t.text)) / \(debug(t.speaker))")
        }
        if !differing.isEmpty { print("rows that differ after repair:\n" + differing.joined(separator: "\n")) }
        XCTAssertEqual(differing.count, 0, "rows that differ after repair (printed above)")
    }

    func testTrainCountsMatchMELDData() throws {
        let (utterances, _) = try load(Self.headName)
        XCTAssertEqual(Set(utterances.map(\.key.dialogueID)).count, 1038)
        XCTAssertFalse(utterances.contains { $0.key.dialogueID == 60 }, "Dialogue_ID 60 is absent upstream")
        XCTAssertEqual(utterances.map(\.key), utterances.map(\.key).sorted())

        let emotions = Dictionary(grouping: utterances, by: \.emotion).mapValues(\.count)
        XCTAssertEqual(Emotion.allCases.map { emotions[$0] ?? 0 }, [4710, 1743, 1205, 1109, 683, 271, 268],
                       "neutral joy surprise anger sadness disgust fear")
        let sentiments = Dictionary(grouping: utterances, by: \.sentiment).mapValues(\.count)
        XCTAssertEqual([Sentiment.neutral, .negative, .positive].map { sentiments[$0] ?? 0 }, [4710, 2945, 2334])
        let surprise = utterances.filter { $0.emotion == .surprise }
        XCTAssertEqual(surprise.filter { $0.sentiment == .positive }.count, 591)
        XCTAssertEqual(Set(utterances.map(\.speaker)).count, 260)
        XCTAssertEqual(utterances.filter { $0.speaker == "Richard\u{2019}s Date" }.count, 3)
    }

    func testTextIsRepairedInBothFiles() throws {
        for name in [Self.headName, Self.tarballName] {
            let (utterances, _) = try load(name)
            let leftovers = utterances.filter { u in
                (u.text + u.speaker).unicodeScalars.contains { (0x80...0xA0).contains($0.value) }
            }
            XCTAssertEqual(leftovers.map(\.key.description), [], "\(name): C1 or NBSP left")
            let byKey = Dictionary(uniqueKeysWithValues: utterances.map { ($0.key, $0) })
            func text(_ d: Int, _ u: Int) -> String { byKey[UtteranceKey(split: .train, dialogueID: d, utteranceID: u)]!.text }
            XCTAssertTrue(utterances[0].text.contains("company\u{2019}s"), "\(name) line 2: \(utterances[0].text)")
            XCTAssertEqual(utterances.map { $0.text.filter { $0 == "\u{2019}" }.count }.reduce(0, +), 3547, name)
            // Line 7183: `Oh!\xa0 All right.\xa0 Now…` in the tarball, two spaces at HEAD (PR #28).
            XCTAssertTrue(utterances.contains { $0.text == "Oh!  All right.  Now, let's not do this!" }, name)
            // Line 105: doubled quotes inside a quoted field.
            XCTAssertTrue(text(9, 10).hasSuffix("realize, \"Hey, you're not Bob.\""), "\(name): \(text(9, 10))")
        }
    }

    func testTwoDigitFractionIsAFraction() throws {
        let (utterances, _) = try load(Self.headName)
        let u = try XCTUnwrap(utterances.first { $0.key == UtteranceKey("train/dia437_utt2") })
        // `"00:06:45,489","00:06:47,28"`: the 2-digit fraction is the EndTime.
        XCTAssertEqual(u.startTime, 405.489)
        XCTAssertEqual(u.endTime, 407.28)
        XCTAssertEqual(u.duration, 1.791, accuracy: 1e-9)
        XCTAssertEqual([u.season, u.episode], [8, 19])
    }

    private func debug(_ s: String) -> String {
        s.unicodeScalars.map { $0.value < 0x20 || (0x7F...0xA0).contains($0.value)
            ? String(format: "\\u{%X}", $0.value) : String($0) }.joined()
    }
}
