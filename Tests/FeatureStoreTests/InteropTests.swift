import FeatureStore
import Foundation
import TestSupport
import XCTest

/// Trainers read the cache without this project's code: Debian's h5py 3.7 (HDF5 1.10.8) and h5dump 1.10.8.
final class InteropTests: XCTestCase {
    /// Checks what `trainerScript` printed against the synthetic cache.
    func checkTrainerView(_ out: [String: Any], _ cache: SyntheticCache, line: UInt = #line) {
        XCTAssertEqual(out["keys"] as? [String], cache.keys, line: line)
        XCTAssertEqual(out["features_shape"] as? [Int], [cache.nItems, 13, 401], line: line)
        XCTAssertEqual(out["features_virtual"] as? Bool, true, line: line)
        XCTAssertEqual(out["features_sources"] as? [String], cache.shards.map { "shards/" + $0.fileName }, line: line)
        let sum = cache.features.reduce(0.0) { $0 + Double($1) }
        XCTAssertEqual(out["features_sum"] as? Double ?? .nan, sum, accuracy: 1e-6 * abs(sum), "NaN here means a missing source", line: line)
        XCTAssertEqual((out["feature_row2"] as? [Double])?.map(Float.init), Array(cache.features[2 * 5213..<2 * 5213 + 5]), line: line)
        XCTAssertEqual(out["offsets"] as? [Int], cache.offsets.map(Int.init), line: line)
        XCTAssertEqual(out["values_shape"] as? [Int], [Int(cache.offsets.last!), 40], line: line)
        // Item 4 is shard 1's second item: 3 frames.
        let local = cache.shards[1].offsets
        XCTAssertEqual((out["item4"] as? [Double])?.map(Float.init),
                       Array(cache.shards[1].values[Int(local[1]) * 40..<Int(local[2]) * 40]), line: line)
        XCTAssertEqual((out["frame_times"] as? [Double])?.map(Float.init), cache.frameTimes, line: line)
        XCTAssertEqual(out["valid"] as? [Int], cache.shards.flatMap(\.valid).map(Int.init), line: line)
        XCTAssertEqual(out["emotion"] as? [Int], [0, 1, 2, 3, 4, 5, 6, 0, 1], line: line)
        XCTAssertEqual(out["fingerprint_type"] as? String, "str", "string attributes read as str", line: line)
        XCTAssertEqual(out["fingerprint"] as? String, "index-fp", line: line)
        XCTAssertEqual(out["labels"] as? [String], ["neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"], line: line)
        XCTAssertEqual(out["layout_version"] as? Int, 1, line: line)
    }

    func testH5pyReadsIndexAndShards() throws {
        _ = try requireH5py()
        let cache = try SyntheticCache.make("h5py")
        defer { try? FileManager.default.removeItem(at: cache.root) }
        checkTrainerView(try runH5pyJSON(trainerScript, [cache.index.path]), cache)

        // A shard on its own.
        let shardScript = #"""
        import h5py, json, sys
        with h5py.File(sys.argv[1], 'r') as f:
            print(json.dumps(dict(keys=list(f['keys'].asstr()[:]), chunks=list(f['features'].chunks),
                                  values_chunks=list(f['values'].chunks), mode=f['features'].attrs['index_mode'],
                                  compression=f['features'].compression, fp=f.attrs['fingerprint'],
                                  partial=[float(x) for x in f['partial_sum'][:]])))
        """#
        let out = try runH5pyJSON(shardScript, [cache.url(cache.shards[1]).path])
        XCTAssertEqual(out["keys"] as? [String], cache.shards[1].keys)
        XCTAssertEqual(out["chunks"] as? [Int], [1, 13, 401])
        XCTAssertEqual(out["values_chunks"] as? [Int], [16, 40], "chunks clamp to the row count")
        XCTAssertEqual(out["mode"] as? String, "virtual")
        XCTAssertTrue(out["compression"] is NSNull)
        XCTAssertEqual(out["fp"] as? String, "fp-1")
        XCTAssertEqual(out["partial"] as? [Double], [1, 4])
    }

    func testH5dumpReadsIndexAndShards() throws {
        let h5dump = try requireH5dump()
        let cache = try SyntheticCache.make("h5dump")
        defer { try? FileManager.default.removeItem(at: cache.root) }
        let elsewhere = URL(fileURLWithPath: "/")
        let header = try runProcess(h5dump, ["-H", "-p", cache.index.path], currentDirectory: elsewhere)
        XCTAssertEqual(header.status, 0, header.stderr)
        XCTAssertTrue(header.stdout.contains("DATASET \"features\""), header.stdout)
        XCTAssertTrue(header.stdout.contains("VIRTUAL"), "h5dump -H -p shows the VDS layout:\n\(header.stdout)")
        XCTAssertTrue(header.stdout.contains("shards/train-00001.h5"), header.stdout)
        XCTAssertEqual(header.stderr, "")

        // The data itself, through the VDS, from another working directory: item 3 = shard 1's first item.
        let data = try runProcess(h5dump, ["-d", "/features", "-s", "3,0,0", "-c", "1,1,3", cache.index.path],
                                  currentDirectory: elsewhere)
        XCTAssertEqual(data.status, 0, data.stderr)
        XCTAssertTrue(data.stdout.contains("1000, 1000.25, 1000.5"), data.stdout)
        let whole = try runProcess(h5dump, [cache.index.path], currentDirectory: elsewhere)
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertFalse(whole.stdout.contains("nan"), "a fill value means a source was not found")

        let shard = try runProcess(h5dump, ["-H", cache.url(cache.shards[0]).path])
        XCTAssertEqual(shard.status, 0, shard.stderr)
        XCTAssertTrue(shard.stdout.contains("DATASET \"partial_sum\""), shard.stdout)
    }

    /// Move the whole folder (index + shards): reads still work, from Swift, h5py and h5dump.
    func testFolderCanMove() throws {
        let original = try SyntheticCache.make("move")
        let parent = try TestPaths.makeTempDir("moved")
        defer {
            try? FileManager.default.removeItem(at: original.root)
            try? FileManager.default.removeItem(at: parent)
        }
        let moved = SyntheticCache(root: parent.appendingPathComponent("somewhere/else"))
        try FileManager.default.createDirectory(at: moved.root.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: original.root, to: moved.root)
        XCTAssertFalse(FileManager.default.fileExists(atPath: original.index.path))

        let f = try FeatureFile(url: moved.index)
        XCTAssertNoThrow(try f.verifyVirtualSources())
        XCTAssertEqual(try f.readFloats("features"), moved.features)
        XCTAssertEqual(try f.readFloats("values"), moved.values)
        XCTAssertEqual(try f.readFloatRows("frame_times", rows: 5..<8), Array(moved.frameTimes[5..<8]))

        if (try? requireH5py()) != nil {
            checkTrainerView(try runH5pyJSON(trainerScript, [moved.index.path]), moved)
        }
        if let h5dump = try? requireH5dump() {
            let r = try runProcess(h5dump, ["-d", "/values", moved.index.path], currentDirectory: URL(fileURLWithPath: "/"))
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertFalse(r.stdout.contains("nan"), r.stdout)
        }
    }
    /// Files h5py writes (vlen and ASCII strings, int16/uint32, bytes and str attributes, no creation order)
    /// read through FeatureFile too.
    func testFeatureFileReadsH5pyWrittenFiles() throws {
        let python = try requireH5py()
        let dir = try TestPaths.makeTempDir("foreign")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("foreign.h5")
        let script = #"""
        import h5py, numpy as np, sys
        with h5py.File(sys.argv[1], 'w') as f:
            f['vlen'] = np.array(['a', 'ünï', ''], dtype=h5py.string_dtype())
            f['ascii'] = np.array([b'xy', b'z'], dtype='S2')
            f['i16'] = np.array([-3, 4], dtype='int16')
            f['u32'] = np.array([7, 4000000000], dtype='uint32')
            f['f64'] = np.arange(6, dtype='float64').reshape(3, 2)
            f.create_group('group')
            f.attrs['s'] = 'text'
            f.attrs['b'] = np.bytes_(b'bytes')
            f.attrs['ints'] = np.array([1, 2], dtype='int32')
            f.attrs['x'] = 2.5
        """#
        let r = try runProcess(python, ["-c", script, url.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let f = try FeatureFile(url: url)
        XCTAssertEqual(try f.datasetNames(), ["ascii", "f64", "i16", "u32", "vlen"], "by name; groups left out")
        XCTAssertEqual(try f.readStrings("vlen"), ["a", "ünï", ""])
        XCTAssertEqual(try f.readStrings("ascii"), ["xy", "z"])
        XCTAssertEqual(try f.readInt64s("i16"), [-3, 4])
        XCTAssertEqual(try f.readInt64s("u32"), [7, 4_000_000_000])
        XCTAssertThrowsError(try f.elementType(of: "i16")) { XCTAssertTrue("\($0)".contains("int16"), "\($0)") }
        XCTAssertEqual(try f.readFloatRows("f64", rows: 1..<3), [2, 3, 4, 5])
        XCTAssertEqual(f.attributes, ["s": .string("text"), "b": .string("bytes"), "ints": .ints([1, 2]), "x": .double(2.5)])
    }
}
