import FeatureStore
import Foundation
import TestSupport
import XCTest

/// Bad input gets a specific, recorded reason; the run goes on, ends with a summary and exit status 1, and
/// nothing already done is lost.
final class BadInputTests: XCTestCase {
    /// The sample plus a dialogue of defective items (train dia90), added after a first clean run.
    func testDefectiveClipsAreRecordedAndNothingElseIsLost() throws {
        let root = try DatasetMaker.copyOfSample("bad")
        let clips = root.appendingPathComponent("train/train_splits")
        let h = try CLIHarness(datasetRoot: root, label: "bad")
        let clean = try h.run("run", ["extract", "--shard-size", "4", "--quiet"])
        XCTAssertEqual(clean.status, 0, clean.stderr)

        // utt0: truncated MP4 (moov atom missing); utt1: no clip at all; utt2: no audio stream;
        // utt3: 0.05 s clip; utt4: 60 s clip; then a malformed CSV row (too few fields).
        let good = clips.appendingPathComponent("dia0_utt0.mp4")
        let tmp = try TestPaths.makeTempDir("badsrc")
        let full = tmp.appendingPathComponent("full.mp4")
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "sine=f=300:d=3", "-f", "lavfi", "-i", "testsrc2=s=160x90:d=3",
                                 "-c:a", "aac", "-c:v", "libx264", "-preset", "ultrafast", full.path])
        let bytes = try Data(contentsOf: full)
        try bytes.prefix(bytes.count * 4 / 10).write(to: clips.appendingPathComponent("dia90_utt0.mp4"))
        try DatasetMaker.ffmpeg(["-i", good.path, "-an", "-c:v", "copy", clips.appendingPathComponent("dia90_utt2.mp4").path])
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=0.05", "-c:a", "aac", clips.appendingPathComponent("dia90_utt3.mp4").path])
        try DatasetMaker.ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=60", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=5:d=60",
                                 "-c:a", "aac", "-c:v", "libx264", "-preset", "ultrafast", clips.appendingPathComponent("dia90_utt4.mp4").path])
        var csv = try String(contentsOf: root.appendingPathComponent("train_sent_emo.csv"), encoding: .utf8)
        for u in 0...4 { csv += DatasetMaker.row(100 + u, 90, u, end: u == 4 ? "00:01:01,000" : "00:00:03,000") }
        csv += "200,This row lost its fields,Joey,joy\r\n"
        try csv.write(to: root.appendingPathComponent("train_sent_emo.csv"), atomically: true, encoding: .utf8)

        let r = try h.run("run", ["extract", "--shard-size", "4", "--quiet"])
        XCTAssertEqual(r.status, 1, "some items failed → exit 1\n" + r.stdout + r.stderr)
        // The 8 good train items sit in two untouched shards, dev and test are untouched: reused, not recomputed.
        XCTAssertTrue(r.stdout.contains("mfcc: 5 computed, 14 reused"), r.stdout)
        // One line per item and reason: "train/dia90_utt0 [faces, frames, melspec, mfcc] corrupt_container: ...".
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func failure(_ key: String, _ reason: String) -> String? { lines.first { $0.contains(key + " [") && $0.contains("] " + reason) } }
        func stages(_ line: String?) -> Set<String> {
            guard let line, let a = line.firstIndex(of: "["), let b = line.firstIndex(of: "]") else { return [] }
            return Set(line[line.index(after: a)..<b].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        let media: Set<String> = ["melspec", "mfcc", "frames", "faces"]
        XCTAssertTrue(stages(failure("train/dia90_utt0", "corrupt_container")).isSuperset(of: media), r.stdout)
        XCTAssertTrue(r.stdout.contains("moov atom not found"), r.stdout)
        XCTAssertTrue(stages(failure("train/dia90_utt1", "missing_clip")).isSuperset(of: media), r.stdout)
        XCTAssertTrue(stages(failure("train/dia90_utt2", "no_audio_stream")).isSuperset(of: ["melspec", "mfcc"]), r.stdout)
        XCTAssertTrue(stages(failure("train/dia90_utt3", "no_video_stream")).isSuperset(of: ["frames", "faces"]), r.stdout)
        XCTAssertTrue(r.stdout.contains("wrong_field_count"), r.stdout)
        XCTAssertFalse(lines.contains { $0.contains("train/dia90_utt3 [") && ($0.contains("mfcc") || $0.contains("melspec")) },
                       "a 0.05 s clip is valid audio output")
        XCTAssertFalse(r.stdout.contains("dia90_utt4"), "a 60 s clip is valid output")
        XCTAssertFalse(lines.contains { $0.contains(" [text") || $0.contains(", text") }, "text needs no media: never fails here")

        let f = try FeatureFile(url: h.cache.appendingPathComponent("meld/mfcc/train.h5"))
        let keys = try f.readStrings("keys"), valid = try f.readInt64s("valid"), frames = try f.readInt64s("n_frames")
        func at(_ k: String) -> Int { keys.firstIndex(of: k)! }
        XCTAssertEqual(keys.count, 13)
        XCTAssertEqual(valid[at("train/dia90_utt0")], 0)
        XCTAssertEqual(valid[at("train/dia90_utt1")], 0)
        XCTAssertEqual(valid[at("train/dia90_utt2")], 0)
        XCTAssertEqual(valid[at("train/dia90_utt3")], 1)
        XCTAssertEqual(frames[at("train/dia90_utt3")], 7)     // one AAC frame: 1024 samples, as ffmpeg gives → 1 + 1024/160
        XCTAssertEqual(valid[at("train/dia90_utt4")], 1)
        XCTAssertEqual(frames[at("train/dia90_utt4")], 401)
        XCTAssertEqual(valid.filter { $0 == 1 }.count, 10)
        let mel = try FeatureFile(url: h.cache.appendingPathComponent("meld/melspec/train.h5"))
        let off = try mel.readInt64s("offsets")
        let i4 = at("train/dia90_utt4")
        XCTAssertEqual(off[i4 + 1] - off[i4], 6001)            // 60 s at hop 160, variable length kept whole
        XCTAssertEqual(off[at("train/dia90_utt1") + 1] - off[at("train/dia90_utt1")], 0)

        // status lists the failures; a re-run does no work and still exits 1.
        let status = try h.run("status", ["extract"])
        XCTAssertTrue(status.stdout.contains("no_audio_stream"), status.stdout)
        let again = try h.run("run", ["extract", "--shard-size", "4", "--quiet"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stdout.contains("mfcc: 0 computed, 19 reused"), again.stdout)

        // probe reports the same problems, lists the clip with no CSV row, writes its manifest.
        try Data().write(to: clips.appendingPathComponent("dia500_utt0.mp4"))
        let probe = try h.run("probe", ["--splits", "train", "--quiet"])
        XCTAssertEqual(probe.status, 1, probe.stdout)
        XCTAssertTrue(probe.stdout.contains("PROBLEM train/dia90_utt0: corrupt_container"), probe.stdout)
        XCTAssertTrue(probe.stdout.contains("PROBLEM train/dia90_utt1: missing_clip"), probe.stdout)
        XCTAssertTrue(probe.stdout.contains("unannotated") && probe.stdout.contains("dia500_utt0.mp4"), probe.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: h.manifests.appendingPathComponent("meld-probe.json").path))
    }

    func testUnreadablePipelineFileIsExit2() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "badyaml")
        let file = try TestPaths.makeTempDir("yaml").appendingPathComponent("broken.yaml")
        try "name: x\nstages: [unclosed\n".write(to: file, atomically: true, encoding: .utf8)
        let r = try h.run("run", [file.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("is not valid YAML"), r.stderr)
        let missing = try h.run("run", ["no-such-pipeline"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no pipeline `no-such-pipeline`"), missing.stderr)
        let unknownKind = try TestPaths.makeTempDir("yaml").appendingPathComponent("kind.yaml")
        try "name: x\nstages:\n  a: {kind: nope}\n".write(to: unknownKind, atomically: true, encoding: .utf8)
        let k = try h.run("run", [unknownKind.path])
        XCTAssertEqual(k.status, 2)
        XCTAssertTrue(k.stderr.contains("unknown kind `nope`"), k.stderr)
    }

    func testBadSetIsExit2WithAMessageThatSaysWhatToFix() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "badset")
        let cases: [(String, String)] = [
            ("mfcc.n_mfcc=abc", "parameter `n_mfcc` = abc is not a valid int"),
            ("mfcc.nope=1", "unknown parameter `nope`"),
            ("nostage.x=1", "no stage `nostage`"),
            ("mfcc", "expected STAGE.PARAM=VALUE"),
            ("mfcc.n_mfcc=99", "n_mfcc must be between 1 and n_mels"),
        ]
        for (set, message) in cases {
            let r = try h.run("run", ["extract", "--set", set, "--dry-run"])
            XCTAssertEqual(r.status, 2, "--set \(set)")
            XCTAssertTrue(r.stderr.contains(message), "--set \(set): \(r.stderr)")
        }
        let splits = try h.run("run", ["extract", "--splits", "train,val"])
        XCTAssertEqual(splits.status, 2)
        XCTAssertTrue(splits.stderr.contains("unknown split `val`"), splits.stderr)
        let nowhere = try CLIHarness(datasetRoot: URL(fileURLWithPath: "/nonexistent/MELD.Raw"), label: "noroot")
        let root = try nowhere.run("run", ["extract"])
        XCTAssertEqual(root.status, 2, root.stderr)
        XCTAssertTrue(root.stderr.contains("dataset root not found: /nonexistent/MELD.Raw"), root.stderr)
    }
}
