import Datasets
import Foundation
import TestSupport
import XCTest

/// `MELDLayout` on temporary folder trees shaped like the observed MELD.Raw layouts (empty files).
final class MELDLayoutTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws { root = try TestPaths.makeTempDir("layout") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// Creates empty files (and their folders) at `paths` below root.
    func touch(_ paths: [String], contents: String = "") throws {
        for path in paths {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
    }

    func names(_ clips: [String: URL]) -> [String: String] {
        clips.mapValues { String($0.path.dropFirst(root.path.count + 1)) }
    }

    func testNestedTarballLayout() throws {
        try touch([
            "MELD.Raw/train_sent_emo.csv", "MELD.Raw/dev_sent_emo.csv", "MELD.Raw/test_sent_emo.csv",
            "MELD.Raw/train/train_splits/dia0_utt0.mp4", "MELD.Raw/train/train_splits/dia0_utt1.mp4",
            "MELD.Raw/train/train_splits/._dia0_utt0.mp4", "MELD.Raw/train/train_splits/.DS_Store",
            "MELD.Raw/train/train_splits/dia0_utt2.txt",
            "MELD.Raw/dev/dev_splits_complete/dia0_utt0.mp4", "MELD.Raw/dev/dev_splits_complete/dia110_utt8.mp4",
            "MELD.Raw/test/output_repeated_splits_test/dia0_utt0.mp4",
            "MELD.Raw/test/output_repeated_splits_test/final_videos_testdia0_utt0.mp4",
            "MELD.Raw/test/output_repeated_splits_test/final_videos_testdia1_utt3.mp4",
            "MELD.Raw/test/output_repeated_splits_test/dia93_utt5.mp4",
            "MELD.Raw/test/output_repeated_splits_test/notes.mp4",
        ])
        let layout = try MELDLayout(root: root)
        for split in Split.allCases {
            XCTAssertEqual(layout.csvURL(for: split)?.path,
                           root.appendingPathComponent("MELD.Raw/\(split.rawValue)_sent_emo.csv").path)
        }
        XCTAssertEqual(names(layout.clips(for: .train)), [
            "dia0_utt0": "MELD.Raw/train/train_splits/dia0_utt0.mp4",
            "dia0_utt1": "MELD.Raw/train/train_splits/dia0_utt1.mp4",
        ], "hidden ._ files and non-mp4 files are ignored")
        XCTAssertEqual(names(layout.clips(for: .test)), [
            "dia0_utt0": "MELD.Raw/test/output_repeated_splits_test/dia0_utt0.mp4",
            "dia1_utt3": "MELD.Raw/test/output_repeated_splits_test/final_videos_testdia1_utt3.mp4",
            "dia93_utt5": "MELD.Raw/test/output_repeated_splits_test/dia93_utt5.mp4",
        ], "the plain name wins; the final_videos_test name stands in only when the plain one is absent")

        let testFolder = "MELD.Raw/test/output_repeated_splits_test/"
        let annotatedTest: Set = [UtteranceKey("test/dia0_utt0")!, UtteranceKey("test/dia1_utt3")!,
                                  UtteranceKey("train/dia93_utt5")!]
        XCTAssertEqual(layout.unannotatedClips(for: .test, annotated: annotatedTest).map(\.path),
                       ["dia93_utt5.mp4", "notes.mp4"].map { root.appendingPathComponent(testFolder + $0).path },
                       "a key of another split does not annotate; an unparseable name is listed")
        XCTAssertEqual(layout.unannotatedClips(for: .dev, annotated: [UtteranceKey("dev/dia0_utt0")!]).map(\.lastPathComponent),
                       ["dia110_utt8.mp4"])
        XCTAssertEqual(layout.unannotatedClips(for: .train, annotated: []).map(\.lastPathComponent),
                       ["dia0_utt0.mp4", "dia0_utt1.mp4"])
    }

    func testDoublyNestedFlatLayout() throws {
        try touch([
            "MELD.Raw/MELD.Raw/train_sent_emo.csv",
            "MELD.Raw/MELD.Raw/train_splits/dia5_utt2.mp4",
            "MELD.Raw/MELD.Raw/dev_splits_complete/dia1_utt0.mp4",
            "MELD.Raw/MELD.Raw/MELD/test_sent_emo.csv",
            "MELD.Raw/MELD.Raw/MELD/deeper/too/deep/dev_sent_emo.csv",
        ])
        let layout = try MELDLayout(root: root)
        XCTAssertEqual(layout.csvURL(for: .train)?.lastPathComponent, "train_sent_emo.csv")
        XCTAssertEqual(layout.csvURL(for: .test)?.path, root.appendingPathComponent("MELD.Raw/MELD.Raw/MELD/test_sent_emo.csv").path)
        XCTAssertNil(layout.csvURL(for: .dev), "deeper than the search depth")
        XCTAssertEqual(names(layout.clips(for: .train)), ["dia5_utt2": "MELD.Raw/MELD.Raw/train_splits/dia5_utt2.mp4"])
        XCTAssertEqual(Array(layout.clips(for: .dev).keys), ["dia1_utt0"])
        XCTAssertEqual(layout.clips(for: .test), [:], "no test clip folder")
        XCTAssertEqual(layout.unannotatedClips(for: .test, annotated: []), [])
        XCTAssertThrowsError(try layout.loadAnnotations(split: .dev)) {
            guard case DatasetError.csvNotFound(.dev, _) = $0 else { return XCTFail("\($0)") }
        }
    }

    func testShallowestCopyWins() throws {
        try touch(["a/b/train_sent_emo.csv", "z/train_sent_emo.csv",
                   "a/b/train_splits/dia1_utt1.mp4", "z/train_splits/dia2_utt2.mp4"])
        let layout = try MELDLayout(root: root)
        XCTAssertEqual(layout.csvURL(for: .train)?.path, root.appendingPathComponent("z/train_sent_emo.csv").path)
        XCTAssertEqual(Array(layout.clips(for: .train).keys), ["dia2_utt2"])
    }

    func testLoadAnnotations() throws {
        try touch(["MELD.Raw/dev_sent_emo.csv"], contents: CSVParsingTests.header + "\r\n" + CSVParsingTests.row(0, 0) + "\r\n")
        let (utterances, errors) = try MELDLayout(root: root).loadAnnotations(split: .dev)
        XCTAssertEqual(utterances.map(\.key.description), ["dev/dia0_utt0"])
        XCTAssertEqual(errors.count, 0)
    }

    func testMissingRootThrows() {
        XCTAssertThrowsError(try MELDLayout(root: root.appendingPathComponent("absent"))) {
            guard case DatasetError.rootNotFound = $0 else { return XCTFail("\($0)") }
        }
    }

    /// The sample bundled with the repository (`Samples/MELD.Raw`) is found as the engine will use it.
    func testBundledSample() throws {
        let sample = TestPaths.repoRoot.appendingPathComponent("Samples/MELD.Raw")
        guard FileManager.default.fileExists(atPath: sample.path) else { throw XCTSkip("Samples/MELD.Raw is absent") }
        let layout = try MELDLayout(root: sample)
        for split in Split.allCases {
            let (utterances, errors) = try layout.loadAnnotations(split: split)
            XCTAssertEqual(errors.map(\.description), [], "\(split)")
            let clips = layout.clips(for: split)
            XCTAssertFalse(clips.isEmpty, "\(split)")
            XCTAssertTrue(Set(clips.keys).isSubset(of: Set(utterances.map(\.key.clipName))), "\(split)")
        }
    }
}
