import Datasets
import Foundation
import XCTest

/// `MELDAnnotations.parse` on small inline CSVs, one quirk or fault each.
final class CSVParsingTests: XCTestCase {
    static let header = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime"

    /// A well-formed row for dia`d`_utt`u`.
    static func row(_ d: Any, _ u: Any, text: String = "Okay.", emotion: String = "neutral",
                    start: String = "00:16:41,587") -> String {
        "1,\(text),Monica,\(emotion),neutral,\(d),\(u),7,9,\"\(start)\",\"00:16:43,047\""
    }

    func parse(_ lines: [String], newline: String = "\n", trailing: Bool = true, split: Split = .dev) throws
        -> (utterances: [Utterance], errors: [CSVRowError]) {
        let text = lines.joined(separator: newline) + (trailing ? newline : "")
        return try MELDAnnotations.parse(Data(text.utf8), split: split)
    }

    func key(_ d: Int, _ u: Int, _ split: Split = .dev) -> UtteranceKey {
        UtteranceKey(split: split, dialogueID: d, utteranceID: u)
    }

    func testCRLFAndLFAndMissingTrailingNewlineGiveTheSameRows() throws {
        let lines = [Self.header, Self.row(0, 1), Self.row(0, 0)]
        let lf = try parse(lines)
        XCTAssertEqual(lf.utterances.map(\.key), [key(0, 0), key(0, 1)], "sorted by key")
        XCTAssertEqual(lf.errors.count, 0)
        for (newline, trailing) in [("\r\n", true), ("\r\n", false), ("\n", false), ("\r", true)] {
            let other = try parse(lines, newline: newline, trailing: trailing)
            XCTAssertEqual(other.utterances, lf.utterances, "newline \(newline.debugDescription), trailing \(trailing)")
            XCTAssertEqual(other.errors.count, 0)
        }
        let u = lf.utterances[0]
        XCTAssertEqual(u.text, "Okay.")
        XCTAssertEqual(u.speaker, "Monica")
        XCTAssertEqual([u.season, u.episode], [7, 9])
        XCTAssertEqual(u.startTime, 1001.587)
        XCTAssertEqual(u.endTime, 1003.047)
    }

    func testQuotedCommaAndDoubledQuotes() throws {
        let (utterances, errors) = try parse([
            Self.header,
            Self.row(0, 0, text: "\"Great, let's go then!\""),
            Self.row(0, 1, text: "\"… realize, \"\"Hey, you're not Bob.\"\"\""),
            Self.row(0, 2, text: "\"\""),
        ])
        XCTAssertEqual(errors.map(\.description), [])
        XCTAssertEqual(utterances.map(\.text), ["Great, let's go then!", "… realize, \"Hey, you're not Bob.\"", ""])
    }

    func testMalformedRowsBecomeErrorsAndGoodRowsSurvive() throws {
        let (utterances, errors) = try parse([
            Self.header,                                            // line 1
            Self.row(1, 0),                                         // 2 good
            "1,Too few,Monica,neutral,neutral,1,1,7,9,\"00:16:41,587\"", // 3
            Self.row("x1", 2),                                      // 4
            Self.row(1, 3, emotion: "happy"),                       // 5
            Self.row(1, 4, start: "16:41"),                         // 6
            Self.row(1, 5),                                         // 7 good
            Self.row(1, 0, text: "Second dia1_utt0"),               // 8
            "1,\"Never closed,Monica,neutral,neutral,1,6,7,9,0:16:41.587,0:16:43.047", // 9
            Self.row(1, 7),                                         // 10 good
            "1,Season,Monica,neutral,neutral,1,8,S7,9,\"00:16:41,587\",\"00:16:43,047\"", // 11
            "1,Sentiment,Monica,joy,glad,1,9,7,9,\"00:16:41,587\",\"00:16:43,047\"", // 12
            // A stray quote that pairs with the next one swallows four fields.
            "1,\"Stray,Monica,neutral,neutral,1,10,7,9,\"00:16:41,587\",\"00:16:43,047\"", // 13
        ])
        XCTAssertEqual(utterances.map(\.key), [key(1, 0), key(1, 5), key(1, 7)])
        XCTAssertEqual(utterances[0].text, "Okay.", "the first of two duplicate rows is kept")
        let expected: [(line: Int, reason: String, key: UtteranceKey?)] = [
            (3, "wrong_field_count", nil),
            (4, "bad_id", nil),
            (5, "bad_label", key(1, 3)),
            (6, "bad_time", key(1, 4)),
            (8, "duplicate_key", key(1, 0)),
            (9, "unterminated_quote", nil),
            (11, "bad_id", key(1, 8)),
            (12, "bad_label", key(1, 9)),
            (13, "wrong_field_count", nil),
        ]
        XCTAssertEqual(errors.count, expected.count, errors.map(\.description).joined(separator: "\n"))
        for (e, x) in zip(errors, expected) {
            XCTAssertEqual(e.line, x.line, e.description)
            XCTAssertEqual(e.reason, x.reason, e.description)
            XCTAssertEqual(e.key, x.key, e.description)
            XCTAssertEqual(e.split, .dev)
        }
        XCTAssertTrue(errors[2].message.contains("happy"), errors[2].message)
    }

    func testColumnsAreFoundByHeaderName() throws {
        // Dyadic's order: no `Sr No.`, extra `Old_*` columns; `Dialogue_ID` is still the key.
        let (utterances, errors) = try parse([
            "Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Old_Dialogue_ID,Old_Utterance_ID,Season,Episode,StartTime,EndTime",
            "\"Oh, hi.\",Ross,surprise,positive,4,2,17,5,1,3,\"0:01:02,5\",\"0:01:03.25\"",
        ], split: .test)
        XCTAssertEqual(errors.count, 0)
        XCTAssertEqual(utterances, [Utterance(key: key(4, 2, .test), text: "Oh, hi.", speaker: "Ross", emotion: .surprise,
                                              sentiment: .positive, season: 1, episode: 3,
                                              startTime: 62.5, endTime: 63.25)])
    }

    func testRepairAppliesToTextAndSpeaker() throws {
        let (utterances, _) = try parse([Self.header, "1,It\u{92}s\u{A0} fine\u{85},Richard\u{92}s Date,joy,positive,0,0,1,1,\"0:00:01,0\",\"0:00:02,0\""])
        XCTAssertEqual(utterances.first?.text, "It\u{2019}s  fine\u{2026}")
        XCTAssertEqual(utterances.first?.speaker, "Richard\u{2019}s Date")
    }

    func testMissingColumnOrEmptyFileThrows() {
        XCTAssertThrowsError(try MELDAnnotations.parse(Data("Utterance,Speaker\nhi,Ross\n".utf8), split: .train)) {
            guard case DatasetError.missingColumn(_, let column) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(column, "Emotion")
        }
        for empty in ["", "\n", "\r\n\r\n"] {
            XCTAssertThrowsError(try MELDAnnotations.parse(Data(empty.utf8), split: .train), empty.debugDescription) {
                guard case DatasetError.unreadable = $0 else { return XCTFail("\($0)") }
            }
        }
    }

    func testHeaderOnlyGivesNoRows() throws {
        let (utterances, errors) = try parse([Self.header])
        XCTAssertEqual(utterances.count + errors.count, 0)
    }
}
