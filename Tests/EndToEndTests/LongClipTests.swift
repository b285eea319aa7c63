import FeatureStore
import Foundation
import TestSupport
import XCTest

/// MELD has clips of 300 s (mis-cut test dia38_utt4): extracting one must keep memory bounded.
final class LongClipTests: XCTestCase {
    func testThreeHundredSecondClipRunsInBoundedMemory() throws {
        let root = try TestPaths.makeTempDir("long").appendingPathComponent("MELD.Raw")
        let clips = root.appendingPathComponent("output_repeated_splits_test")
        try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
        // 48 kHz stereo AAC + a small H.264 track, like a mis-cut MELD clip (video kept tiny to make it fast).
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "sine=f=220:r=48000:d=300", "-f", "lavfi", "-i", "anoisesrc=r=48000:d=300:a=0.1",
                                 "-f", "lavfi", "-i", "color=c=gray:s=64x36:r=5:d=300", "-filter_complex", "[0:a][1:a]amerge=inputs=2[a]",
                                 "-map", "[a]", "-map", "2:v", "-c:a", "aac", "-c:v", "libx264", "-preset", "ultrafast",
                                 clips.appendingPathComponent("dia38_utt4.mp4").path])
        let csv = DatasetMaker.header + DatasetMaker.row(1, 38, 4, start: "00:10:00,000", end: "00:15:04,900")
        try csv.write(to: root.appendingPathComponent("test_sent_emo.csv"), atomically: true, encoding: .utf8)

        let h = try CLIHarness(datasetRoot: root, label: "long")
        let before = childPeakRSSKiB()
        let r = try h.run("run", ["extract", "--splits", "test", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let peakMiB = Double(childPeakRSSKiB()) / 1024
        print(String(format: "300 s clip: pipeline peak RSS %.0f MiB (largest child so far before: %.0f MiB)", peakMiB, Double(before) / 1024))
        // 300 s of 16 kHz float32 is 19 MB; the log-mel of it ~5 MB. Bounded means no per-second growth beyond that.
        XCTAssertLessThan(peakMiB, 400, "peak RSS of the run on a 300 s clip")

        let f = try FeatureFile(url: h.cache.appendingPathComponent("meld/mfcc/test.h5"))
        XCTAssertEqual(try f.readInt64s("n_frames"), [401])
        // 300 s at hop 160 is 30001 frames; the AAC encoder's end padding (kept, as ffmpeg keeps it) may add one.
        let total = try f.readInt64s("total_frames")[0]
        XCTAssertTrue((30001...30003).contains(total), "total_frames \(total)")
        let mel = try FeatureFile(url: h.cache.appendingPathComponent("meld/melspec/test.h5"))
        XCTAssertEqual(try mel.readInt64s("offsets"), [0, total], "log-mel keeps the whole clip")
    }

    /// The largest peak resident set of any waited-for child process, in KiB (Linux reports ru_maxrss in KiB).
    func childPeakRSSKiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return usage.ru_maxrss
    }
}
