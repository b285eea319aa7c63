import Datasets
import Foundation
import XCTest

/// `MELDTime`, `MELDText` and `UtteranceKey` on hand-made inputs.
final class TextAndTimeTests: XCTestCase {
    func testTimes() {
        let cases: [(String, Double)] = [
            ("00:06:47,28", 407.28),     // the 2-digit fraction is 0.28 s, not 28 ms
            ("0:12:32,632", 752.632),
            ("00:16:16,059", 976.059),
            ("1:00:00.5", 3600.5),
            ("00:00:03.795", 3.795),     // EmoryNLP's dot
            (" 00:00:00,000 ", 0),
        ]
        for (text, seconds) in cases { XCTAssertEqual(MELDTime.parse(text), seconds, text) }
        let garbage = ["", "garbage", "00:06:47", "00:06:47,", "00:06:47,1234", "000:06:47,28", "00:6:47,28",
                       "00:06:7,28", "00:60:00,0", "00:00:60,0", "-0:00:01,0", "00:06:47,2x", "00:06,47,28",
                       "00:06:47:28", "1:2:3:4,5", "00:06:47,+28"]
        for text in garbage { XCTAssertNil(MELDTime.parse(text), text) }
    }

    func testDecodeFallsBackToCP1252() {
        XCTAssertEqual(MELDText.decode(Data([0x92])), "\u{2019}")
        XCTAssertEqual(MELDText.decode(Data("It".utf8) + [0x92, 0x73, 0x20, 0x85, 0xE9, 0xA0, 0x81]),
                       "It\u{2019}s \u{2026}\u{E9}\u{A0}\u{81}")
        XCTAssertEqual(MELDText.decode(Data("company’s é".utf8)), "company’s é", "valid UTF-8 is kept")
        XCTAssertEqual(MELDText.decode(Data([0xEF, 0xBB, 0xBF] + Array("Sr No.".utf8))), "Sr No.", "BOM dropped")
        XCTAssertEqual(MELDText.decode(Data()), "")
    }

    func testRepair() {
        XCTAssertEqual(MELDText.repair("company\u{92}s \u{85}\u{97}\u{91}x\u{93}y\u{94}\u{96}"),
                       "company\u{2019}s \u{2026}\u{2014}\u{2018}x\u{201C}y\u{201D}\u{2013}")
        XCTAssertEqual(MELDText.repair("Oh!\u{A0} All right."), "Oh!  All right.")
        XCTAssertEqual(MELDText.repair("\u{80}\u{99}\u{9F}"), "\u{20AC}\u{2122}\u{178}")
        XCTAssertEqual(MELDText.repair("\u{81}\u{8D}"), "\u{81}\u{8D}", "undefined in cp1252: kept")
        let untouched = "Plain text, “quotes”, é, ó, â€™ and  double  spaces\t"
        XCTAssertEqual(MELDText.repair(untouched), untouched)
    }

    func testUtteranceKey() throws {
        let key = try XCTUnwrap(UtteranceKey("train/dia0_utt0"))
        XCTAssertEqual(key, UtteranceKey(split: .train, dialogueID: 0, utteranceID: 0))
        XCTAssertEqual(UtteranceKey("test/dia187_utt12")?.clipName, "dia187_utt12")
        XCTAssertEqual(UtteranceKey("dev/dia3_utt1")?.description, "dev/dia3_utt1")
        for bad in ["", "train", "train/", "valid/dia0_utt0", "train/dia_utt0", "train/dia0utt0", "train/dia-1_utt0",
                    "train/dia0_utt0.mp4", "train/dia0_utt0/x", "/dia0_utt0"] {
            XCTAssertNil(UtteranceKey(bad), bad)
        }
        let keys = ["test/dia0_utt0", "dev/dia10_utt0", "train/dia2_utt10", "train/dia2_utt9", "train/dia10_utt0"]
            .compactMap(UtteranceKey.init)
        XCTAssertEqual(keys.sorted().map(\.description),
                       ["train/dia2_utt9", "train/dia2_utt10", "train/dia10_utt0", "dev/dia10_utt0", "test/dia0_utt0"])
        XCTAssertEqual(Split.allCases.sorted(), [.train, .dev, .test])
        XCTAssertEqual(String(decoding: try JSONEncoder().encode([key]), as: UTF8.self), "[\"train\\/dia0_utt0\"]")
        XCTAssertEqual(try JSONDecoder().decode([UtteranceKey].self, from: Data("[\"dev/dia1_utt2\"]".utf8)),
                       [UtteranceKey(split: .dev, dialogueID: 1, utteranceID: 2)])
    }

    func testLabelIndices() {
        XCTAssertEqual(Emotion.allCases.map(\.rawValue), ["neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"])
        XCTAssertEqual(Emotion.fear.index, 6)
        XCTAssertEqual(Sentiment.allCases.map(\.index), [0, 1, 2])
        XCTAssertEqual(Sentiment.negative.index, 2)
    }
}
