import FeatureStore
import Foundation
import TestSupport
import XCTest

/// The frames and faces stages on bad and unusual video, through the CLI: each case has a documented outcome,
/// recorded against the item, and nothing else is lost.
///
/// | clip | frames | faces |
/// |---|---|---|
/// | audio only (no video stream) | failed, `no_video_stream` | failed, same reason |
/// | video cut mid-stream (moov first) | valid: the frames before the cut (as ffmpeg gives them) | valid |
/// | moov atom cut off | failed, `corrupt_container` | failed |
/// | one frame | valid, 1 row (frame 0 at 0 s) | valid, 1 row |
/// | portrait, odd size (181x321) | valid, width/height as decoded | valid, crops still size x size |
final class VideoStageTests: XCTestCase {
    func makeDataset() throws -> (root: URL, harness: CLIHarness) {
        let root = try TestPaths.makeTempDir("video").appendingPathComponent("MELD.Raw")
        let clips = root.appendingPathComponent("train_splits")
        try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
        func clip(_ name: String) -> String { clips.appendingPathComponent(name + ".mp4").path }
        // dia0_utt0: audio only.
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "sine=f=300:d=1", "-c:a", "aac", clip("dia0_utt0")])
        // dia0_utt1: 48 frames at 24 fps, moov first, then cut at 60% of its bytes.
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=2", "-c:v", "libx264", "-g", "12",
                                 "-movflags", "+faststart", clip("dia0_utt1")])
        let cut = try Data(contentsOf: URL(fileURLWithPath: clip("dia0_utt1")))
        try cut.prefix(cut.count * 6 / 10).write(to: URL(fileURLWithPath: clip("dia0_utt1")))
        // dia0_utt2: moov at the end, cut off.
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=1", "-c:v", "libx264", clip("dia0_utt2")])
        let noMoov = try Data(contentsOf: URL(fileURLWithPath: clip("dia0_utt2")))
        try noMoov.prefix(noMoov.count / 2).write(to: URL(fileURLWithPath: clip("dia0_utt2")))
        // dia0_utt3: a single frame.
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=24", "-frames:v", "1", "-c:v", "libx264", clip("dia0_utt3")])
        // dia0_utt4: portrait, odd size.
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=1", "-vf", "scale=181:321", "-c:v", "libx264", "-pix_fmt", "yuv444p",
                                 clip("dia0_utt4")])
        var csv = DatasetMaker.header
        for u in 0..<5 { csv += DatasetMaker.row(u + 1, 0, u) }
        try csv.write(to: root.appendingPathComponent("train_sent_emo.csv"), atomically: true, encoding: .utf8)
        return (root, try CLIHarness(datasetRoot: root, label: "video-cache"))
    }

    func testBadAndUnusualVideoHaveDocumentedOutcomes() throws {
        let (_, h) = try makeDataset()
        let r = try h.run("run", ["extract", "--only", "faces", "--set", "faces.detector=haar", "--splits", "train", "--quiet"])
        XCTAssertEqual(r.status, 1, "two clips fail: exit 1\n" + r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("train/dia0_utt0") && r.stdout.contains("no_video_stream"), r.stdout)
        XCTAssertTrue(r.stdout.contains("train/dia0_utt2") && r.stdout.contains("corrupt_container"), r.stdout)

        let frames = try FeatureFile(url: h.cache.appendingPathComponent("meld/frames/train.h5"))
        XCTAssertEqual(try frames.readInt64s("valid"), [0, 1, 0, 1, 1])
        let n = try frames.readInt64s("n_frames")
        XCTAssertGreaterThan(n[1], 0, "the frames before the cut are kept")
        XCTAssertLessThan(n[1], 5, "the cut clip gives fewer than its 5 sampled frames")
        XCTAssertEqual(n[3], 1, "one-frame clip")
        XCTAssertEqual(n[4], 3, "24 frames at stride 10: frames 0, 10, 20")
        XCTAssertEqual(try frames.readInt64s("width")[4], 181)
        XCTAssertEqual(try frames.readInt64s("height")[4], 321)
        let offsets = try frames.readInt64s("offsets")
        let index = try frames.readInt64s("frame_index")
        XCTAssertEqual(Array(index[Int(offsets[4])..<Int(offsets[5])]), [0, 10, 20])
        let times = try frames.readFloats("values")
        XCTAssertEqual(times[Int(offsets[4]) + 1], 10.0 / 24, accuracy: 1e-3)

        let faces = try FeatureFile(url: h.cache.appendingPathComponent("meld/faces/train.h5"))
        XCTAssertEqual(try faces.readInt64s("valid"), [0, 1, 0, 1, 1])
        XCTAssertEqual(try faces.shape(of: "values").dropFirst(), [160, 160, 3])
        XCTAssertEqual(try faces.readInt64s("offsets"), offsets, "one faces row per sampled frame")
        XCTAssertEqual(try faces.readInt64s("frame_valid"), [Int64](repeating: 0, count: Int(offsets.last!)),
                       "test patterns have no faces: every frame masked, no failure")
        XCTAssertEqual(try faces.readInt64s("n_faces"), [0, 0, 0, 0, 0])

        // Re-running does nothing; the failures stay listed.
        let again = try h.run("run", ["extract", "--only", "faces", "--set", "faces.detector=haar", "--splits", "train", "--quiet"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stdout.contains("0 computed") || !again.stdout.contains(" computed, "), again.stdout)
    }

    /// FER-2013 style: Haar cascade, 48x48 gray crops.
    func testGrayFortyEightCrops() throws {
        let (_, h) = try makeDataset()
        let r = try h.run("run", ["extract", "--only", "faces", "--set", "faces.detector=haar", "--set", "faces.size=48",
                                  "--set", "faces.crop=gray", "--splits", "train", "--quiet"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let faces = try FeatureFile(url: h.cache.appendingPathComponent("meld/faces/train.h5"))
        XCTAssertEqual(try faces.shape(of: "values").dropFirst(), [48, 48, 1])
    }

    /// Audio shorter than one HuBERT frame (400 samples, 25 ms) fails as `too_short`; its MFCC is still valid.
    func testAudioShorterThanOneHubertFrameIsTooShort() throws {
        let root = try TestPaths.makeTempDir("short").appendingPathComponent("MELD.Raw")
        let clips = root.appendingPathComponent("train_splits")
        try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
        // One AAC frame at 48 kHz: 1024 samples, 341 after resampling to 16 kHz.
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "sine=f=440:r=48000:d=0.01", "-c:a", "aac",
                                 clips.appendingPathComponent("dia0_utt0.mp4").path])
        try (DatasetMaker.header + DatasetMaker.row(1, 0, 0)).write(to: root.appendingPathComponent("train_sent_emo.csv"),
                                                                     atomically: true, encoding: .utf8)
        let h = try CLIHarness(datasetRoot: root, label: "short-cache")
        let r = try h.run("run", ["extract", "--only", "hubert,mfcc", "--splits", "train", "--quiet"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("train/dia0_utt0 [hubert] too_short"), r.stdout)
        XCTAssertEqual(try FeatureFile(url: h.cache.appendingPathComponent("meld/mfcc/train.h5")).readInt64s("valid"), [1])
    }
}
