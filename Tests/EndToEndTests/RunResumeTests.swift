import FeatureStore
import Foundation
import TestSupport
import XCTest

/// `pipeline run` end to end on the bundled sample: outputs, no work on a re-run, `--set` recomputing one stage,
/// `--dry-run` and `status` reasons, `--only` and `--force`.
final class RunResumeTests: XCTestCase {
    func testRunThenRerunDoesNoWork() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "rerun")
        let first = try h.run("run", ["extract"])
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        XCTAssertTrue(first.stdout.contains("mfcc: 14 computed, 0 reused"), first.stdout)
        for feature in ["mfcc", "melspec"] {
            for split in ["train", "dev", "test"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: h.cache.appendingPathComponent("meld/\(feature)/\(split).h5").path))
            }
        }
        let before = try h.snapshot()
        let second = try h.run("run", ["extract"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("mfcc: 0 computed, 14 reused"), second.stdout)
        XCTAssertTrue(second.stdout.contains("melspec: 0 computed, 14 reused"), second.stdout)
        XCTAssertEqual(try h.snapshot(), before, "a re-run with nothing changed must not touch the cache")

        let dry = try h.run("run", ["extract", "--dry-run"])
        XCTAssertEqual(dry.status, 0)
        XCTAssertTrue(dry.stdout.contains("nothing to do"), dry.stdout)
        let status = try h.run("status", ["extract"])
        XCTAssertTrue(status.stdout.contains("mfcc       train  done"), status.stdout)
    }

    func testSetRecomputesOnlyThatStage() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "set")
        XCTAssertEqual(try h.run("run", ["extract", "--quiet"]).status, 0)
        let melBefore = try h.snapshot().filter { $0.key.hasPrefix("/meld/melspec") }

        let dry = try h.run("run", ["extract", "--set", "mfcc.n_mfcc=20", "--dry-run"])
        XCTAssertTrue(dry.stdout.contains("8 params changed"), dry.stdout)   // train mfcc: 8 items
        let mel = dry.stdout.split(separator: "\n").filter { $0.hasPrefix("melspec") }
        XCTAssertTrue(mel.allSatisfy { $0.contains("nothing to do") }, dry.stdout)

        let status = try h.run("status", ["extract", "--set", "mfcc.n_mfcc=20"])
        XCTAssertTrue(status.stdout.contains("params changed"), status.stdout)

        let r = try h.run("run", ["extract", "--set", "mfcc.n_mfcc=20", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("mfcc: 14 computed, 0 reused"), r.stdout)
        XCTAssertTrue(r.stdout.contains("melspec: 0 computed, 14 reused"), r.stdout)
        XCTAssertEqual(try h.snapshot().filter { $0.key.hasPrefix("/meld/melspec") }, melBefore)
        let f = try FeatureFile(url: h.cache.appendingPathComponent("meld/mfcc/train.h5"))
        XCTAssertEqual(try f.shape(of: "features"), [8, 20, 401])
    }

    func testOnlyAndForce() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "only")
        let r = try h.run("run", ["extract", "--only", "mfcc", "--splits", "dev", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("mfcc: 3 computed"), r.stdout)
        XCTAssertFalse(r.stdout.contains("melspec"), r.stdout)
        let forced = try h.run("run", ["extract", "--only", "mfcc", "--splits", "dev", "--force", "mfcc", "--dry-run"])
        XCTAssertTrue(forced.stdout.contains("3 forced"), forced.stdout)
    }

    func testCacheContentsAndLabels() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "content")
        XCTAssertEqual(try h.run("run", ["extract", "--quiet"]).status, 0)
        let f = try FeatureFile(url: h.cache.appendingPathComponent("meld/mfcc/train.h5"))
        XCTAssertEqual(try f.readStrings("keys"), ["train/dia0_utt0", "train/dia0_utt1", "train/dia0_utt2", "train/dia0_utt3",
                                                    "train/dia1_utt0", "train/dia1_utt1", "train/dia1_utt2", "train/dia1_utt3"])
        XCTAssertEqual(try f.readInt64s("valid"), Array(repeating: 1, count: 8))
        XCTAssertEqual(try f.readInt64s("emotion"), [0, 0, 1, 2, 2, 3, 4, 6])   // neutral joy surprise anger sadness disgust fear
        XCTAssertEqual(try f.readInt64s("sentiment"), [0, 0, 1, 2, 1, 2, 2, 2])  // neutral positive negative
        XCTAssertEqual(try f.readInt64s("n_frames")[0], 401)                     // a 6 s clip fills all 401 frames
        XCTAssertEqual(try f.readFloats("coef_mean").count, 13)
        let mel = try FeatureFile(url: h.cache.appendingPathComponent("meld/melspec/dev.h5"))
        let offsets = try mel.readInt64s("offsets")
        XCTAssertEqual(offsets.count, 4)
        XCTAssertEqual(try mel.shape(of: "values"), [Int(offsets.last!), 40])
        XCTAssertEqual(try mel.shape(of: "frame_times"), [Int(offsets.last!)])
        let inspect = try h.run("inspect", ["train/dia0_utt0", "--cache", h.cache.path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("mfcc: valid=1 features[13, 401]"), inspect.stdout)
    }

    /// Trainers read the cache without this project's code: Debian's h5py and h5dump.
    func testCacheReadsWithH5pyAndH5dump() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
              try runProcess("/usr/bin/python3", ["-c", "import h5py"]).status == 0 else {
            throw XCTSkip("Debian's python3-h5py is not installed (apt-get install python3-h5py)")
        }
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "h5py")
        XCTAssertEqual(try h.run("run", ["extract", "--quiet"]).status, 0)
        let script = """
            import h5py, sys, json
            root = sys.argv[1]
            with h5py.File(root + '/meld/mfcc/train.h5', 'r') as f:
                keys = f['keys'].asstr()[:]
                x = f['features'][3]
                out = dict(keys=list(keys), shape=list(f['features'].shape), emo=[int(v) for v in f['emotion'][:]],
                           labels=[s.decode() if isinstance(s, bytes) else s for s in f.attrs['emotion_labels']],
                           row3_finite=bool((x == x).all()), fp=len(f.attrs['fingerprint']))
            with h5py.File(root + '/meld/melspec/test.h5', 'r') as f:
                o = f['offsets'][:]
                out['mel_rows'] = int(o[-1]); out['mel_shape'] = list(f['values'].shape)
                out['item1'] = list(f['values'][o[1]:o[2]].shape)
            print(json.dumps(out))
            """
        let r = try runProcess("/usr/bin/python3", ["-c", script, h.cache.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(out["shape"] as? [Int], [8, 13, 401])
        XCTAssertEqual((out["keys"] as? [String])?.first, "train/dia0_utt0")
        XCTAssertEqual(out["labels"] as? [String], ["neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"])
        XCTAssertEqual(out["row3_finite"] as? Bool, true)
        XCTAssertEqual(out["fp"] as? Int, 64)
        XCTAssertEqual((out["mel_shape"] as? [Int])?.first, out["mel_rows"] as? Int)
        XCTAssertEqual((out["item1"] as? [Int])?.last, 40)
        let dump = try runProcess("h5dump", ["-H", h.cache.appendingPathComponent("meld/mfcc/train.h5").path])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        XCTAssertTrue(dump.stdout.contains("DATASET \"features\""), dump.stdout)
        let full = try runProcess("h5dump", ["-d", "/features", "-s", "0,0,0", "-c", "1,1,4",
                                             h.cache.appendingPathComponent("meld/mfcc/dev.h5").path])
        XCTAssertEqual(full.status, 0, full.stderr)
    }

    func testProgressIsPlainLinesWhenNotATerminal() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "progress")
        let r = try h.run("run", ["extract", "--splits", "dev"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("progress: mfcc       3/3 items"), r.stderr)
        XCTAssertFalse(r.stderr.contains("\u{1B}["), "no terminal escapes in a log")
    }
}
