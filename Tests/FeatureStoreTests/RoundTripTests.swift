import FeatureStore
import Foundation
import TestSupport
import XCTest

final class RoundTripTests: XCTestCase {
    /// Three shards with different item and frame counts (one with no sequence rows), then the index: every
    /// column of the index is the concatenation, offsets are global and end at the values' row count.
    func testIndexIsTheConcatenationOfItsShards() throws {
        let cache = try SyntheticCache.make("roundtrip")
        defer { try? FileManager.default.removeItem(at: cache.root) }
        let f = try FeatureFile(url: cache.index)
        let n = cache.nItems

        XCTAssertEqual(try f.datasetNames(), ["keys", "dialogue_id", "valid", "features", "values", "offsets",
                                              "frame_times", "n_frames", "emotion"], "perShard columns stay out; order kept")
        XCTAssertEqual(try f.readStrings("keys"), cache.keys)
        XCTAssertEqual(try f.readInt64s("dialogue_id"), cache.shards.flatMap(\.dialogueIDs).map(Int64.init))
        XCTAssertEqual(try f.readInt64s("valid"), cache.shards.flatMap(\.valid).map(Int64.init))
        XCTAssertEqual(try f.elementType(of: "valid"), .uint8)
        XCTAssertEqual(try f.readInt64s("n_frames"), cache.shards.flatMap(\.nFrames).map(Int64.init))
        XCTAssertEqual(try f.readInt64s("emotion"), [0, 1, 2, 3, 4, 5, 6, 0, 1])

        XCTAssertEqual(try f.shape(of: "features"), [n, 13, 401])
        XCTAssertTrue(try f.isVirtual("features"))
        XCTAssertEqual(try f.virtualSourceFiles(of: "features"), cache.shards.map { "shards/" + $0.fileName })
        XCTAssertEqual(try f.readFloats("features"), cache.features)
        XCTAssertNoThrow(try f.verifyVirtualSources())

        let offsets = try f.readInt64s("offsets")
        XCTAssertEqual(offsets, cache.offsets)
        XCTAssertEqual(offsets.count, n + 1)
        XCTAssertEqual(try f.shape(of: "values"), [Int(offsets.last!), 40])
        XCTAssertEqual(try f.shape(of: "frame_times"), [Int(offsets.last!)])
        XCTAssertEqual(try f.virtualSourceFiles(of: "values").count, 2, "the shard with no frames is not a source")
        XCTAssertEqual(try f.readFloats("values"), cache.values)
        XCTAssertEqual(try f.readFloats("frame_times"), cache.frameTimes)
        XCTAssertFalse(try f.isVirtual("offsets"))

        // Item by item through the global offsets, across shard boundaries (a hyperslab of the VDS).
        var item = 0
        for shard in cache.shards {
            let local = shard.offsets
            for i in 0..<shard.n {
                let rows = Int(offsets[item])..<Int(offsets[item + 1])
                let expected = Array(shard.values[Int(local[i]) * 40..<Int(local[i + 1]) * 40])
                XCTAssertEqual(try f.readFloatRows("values", rows: rows), expected, "item \(item)")
                item += 1
            }
        }
        XCTAssertEqual(try f.readFloatRows("features", rows: 3..<5), Array(cache.features[3 * 5213..<5 * 5213]))
        XCTAssertEqual(try f.readFloatRows("values", rows: 2..<2), [])
        XCTAssertThrowsError(try f.readFloatRows("values", rows: 0..<(Int(offsets.last!) + 1)))

        // Attributes: the caller's, plus where the shards are.
        var expected = SyntheticCache.attributes
        expected["shard_files"] = .strings(cache.shards.map { "shards/" + $0.fileName })
        expected["shard_fingerprints"] = .strings(["fp-0", "fp-1", "fp-2"])
        XCTAssertEqual(f.attributes, expected)
    }

    /// A shard reads back exactly, including its per-dataset index modes, attributes and chunk-independent values.
    func testShardRoundTrip() throws {
        let dir = try TestPaths.makeTempDir("shard")
        defer { try? FileManager.default.removeItem(at: dir) }
        let shard = SyntheticShard(index: 7, frames: [2, 0, 3])
        let url = dir.appendingPathComponent(shard.fileName)
        try ShardWriter.write(shard.content, to: url)
        let f = try FeatureFile(url: url)
        for column in shard.content.columns {
            XCTAssertEqual(try f.readColumn(column.name), Column(name: column.name, data: column.data, rowShape: column.rowShape,
                                                                indexMode: column.indexMode), column.name)
            XCTAssertEqual(try f.datasetAttributes(of: column.name), ["index_mode": .string(column.indexMode.rawValue)])
        }
        XCTAssertEqual(try f.shape(of: "partial_sum"), [2])
        XCTAssertEqual(try f.readDoubles("partial_sum"), [7, 3])
        XCTAssertEqual(f.attributes, shard.content.attributes)
        XCTAssertThrowsError(try f.readFloats("keys")) { XCTAssertTrue("\($0)".contains("'keys' holds string"), "\($0)") }
        XCTAssertThrowsError(try f.readStrings("features"))
        XCTAssertThrowsError(try f.readInt64s("values"))
        XCTAssertThrowsError(try f.shape(of: "nope")) { error in
            XCTAssertTrue(error is HDF5Error, "\(error)")
            XCTAssertTrue("\(error)".contains("nope"), "\(error)")
        }
    }

    /// Every element type and empty columns survive a round trip; empty datasets are contiguous.
    func testAllTypesAndEmptyColumns() throws {
        let dir = try TestPaths.makeTempDir("types")
        defer { try? FileManager.default.removeItem(at: dir) }
        let columns = [
            Column(name: "f32", data: .float32([1.5, -0, .infinity, .nan]), rowShape: [2], chunkRows: 8),
            Column(name: "f64", data: .float64([1e300, -1e-300])),
            Column(name: "i8", data: .int8([-128, 127])),
            Column(name: "u8", data: .uint8([0, 255])),
            Column(name: "i32", data: .int32([.min, .max])),
            Column(name: "i64", data: .int64([.min, .max])),
            Column(name: "s", data: .strings(["", "a", "ünïcode"])),
            Column(name: "empty_f", data: .float32([]), rowShape: [40], chunkRows: 64),
            Column(name: "empty_s", data: .strings([])),
        ]
        let url = dir.appendingPathComponent("t.h5")
        try ShardWriter.write(ShardContent(columns: columns), to: url)
        let f = try FeatureFile(url: url)
        for c in columns {
            let back = try f.readColumn(c.name)
            if case .float32(let v) = c.data, case .float32(let w) = back.data {
                XCTAssertEqual(v.map(\.bitPattern), w.map(\.bitPattern), c.name)
            } else {
                XCTAssertEqual(back.data, c.data, c.name)
            }
            XCTAssertEqual(try f.shape(of: c.name), c.shape, c.name)
            XCTAssertEqual(try f.elementType(of: c.name), c.data.elementType, c.name)
        }
        XCTAssertEqual(try f.readDoubles("f32").count, 4)
        XCTAssertEqual(try f.readInt64s("u8"), [0, 255])
    }

    /// Invalid columns are refused before anything is written.
    func testInvalidColumnsAreRefused() throws {
        let dir = try TestPaths.makeTempDir("invalid")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.h5")
        let bad: [(Column, String)] = [
            (Column(name: "f", data: .float32([1, 2, 3]), rowShape: [2]), "do not divide"),
            (Column(name: "a/b", data: .int32([1])), "name"),
            (Column(name: "z", data: .int32([1]), rowShape: [0]), "≤ 0"),
            (Column(name: "c", data: .int32([1]), chunkRows: 0), "chunkRows"),
            (Column(name: "s", data: .strings(["a"]), indexMode: .virtual), "cannot be virtual"),
            (Column(name: "s", data: .strings(["a\u{0}b"])), "NUL"),
            (Column(name: "o", data: .int64([1, 2]), indexMode: .offsets), "start with 0"),
            (Column(name: "o", data: .int64([0, 2, 1]), indexMode: .offsets), "decrease"),
            (Column(name: "o", data: .float32([0]), indexMode: .offsets), "integer"),
        ]
        for (column, words) in bad {
            XCTAssertThrowsError(try ShardWriter.write(ShardContent(columns: [column]), to: url)) { error in
                XCTAssertTrue(error is FeatureStoreError, "\(error)")
                XCTAssertTrue("\(error)".contains(words) && "\(error)".contains("'\(column.name)'"), "\(error)")
            }
        }
        let twice = ShardContent(columns: [Column(name: "x", data: .int32([1])), Column(name: "x", data: .int32([2]))])
        XCTAssertThrowsError(try ShardWriter.write(twice, to: url)) { XCTAssertTrue("\($0)".contains("twice"), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// No shards: with a schema, zero-length datasets of the right types (offsets `[0]`); without, only extras.
    func testEmptyShardList() throws {
        let dir = try TestPaths.makeTempDir("empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("dev.h5")
        let schema = SyntheticShard(index: 0, frames: [1]).content.columns.map(\.schema)
        try IndexWriter.write(to: url, shards: [], extraColumns: [Column(name: "emotion", data: .int32([]))],
                              attributes: ["fingerprint": .string("x")], emptySchema: schema)
        let f = try FeatureFile(url: url)
        XCTAssertEqual(try f.datasetNames(), ["keys", "dialogue_id", "valid", "features", "values", "offsets",
                                              "frame_times", "n_frames", "emotion"])
        XCTAssertEqual(try f.shape(of: "features"), [0, 13, 401])
        XCTAssertEqual(try f.shape(of: "values"), [0, 40])
        XCTAssertEqual(try f.readInt64s("offsets"), [0])
        XCTAssertEqual(try f.readStrings("keys"), [])
        XCTAssertEqual(try f.elementType(of: "valid"), .uint8)
        XCTAssertEqual(f.attributes["shard_files"], .strings([]))

        try IndexWriter.write(to: url, shards: [], extraColumns: [], attributes: [:])
        XCTAssertEqual(try FeatureFile(url: url).datasetNames(), [])
    }

    /// Index folders above and beside the shards get `..` paths that HDF5 resolves.
    func testShardsOutsideTheIndexFolder() throws {
        let root = try TestPaths.makeTempDir("outside")
        defer { try? FileManager.default.removeItem(at: root) }
        let shard = SyntheticShard(index: 0, frames: [2, 3])
        let shardURL = root.appendingPathComponent("a/shards/\(shard.fileName)")
        try FileManager.default.createDirectory(at: shardURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ShardWriter.write(shard.content, to: shardURL)
        let indexURL = root.appendingPathComponent("b/c/index.h5")
        try FileManager.default.createDirectory(at: indexURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try IndexWriter.write(to: indexURL, shards: [ShardRef(url: shardURL, expectedFingerprint: "fp-0")])
        let f = try FeatureFile(url: indexURL)
        XCTAssertEqual(try f.virtualSourceFiles(of: "values"), ["../../a/shards/\(shard.fileName)"])
        XCTAssertEqual(try f.readFloats("values"), shard.values)
    }

    /// Extra columns may not reuse an indexed column's name; perShard names are free.
    func testExtraColumnNameClash() throws {
        let cache = SyntheticCache(root: try TestPaths.makeTempDir("clash"))
        defer { try? FileManager.default.removeItem(at: cache.root) }
        try cache.writeShards()
        XCTAssertThrowsError(try IndexWriter.write(to: cache.index, shards: cache.refs,
                                                   extraColumns: [Column(name: "valid", data: .uint8([1]))])) { error in
            XCTAssertEqual((error as? IndexError)?.problem, .badExtraColumn, "\(error)")
        }
        try IndexWriter.write(to: cache.index, shards: cache.refs, extraColumns: [Column(name: "partial_sum", data: .float64([1]))])
        XCTAssertEqual(try FeatureFile(url: cache.index).readDoubles("partial_sum"), [1])
    }

    /// Many threads reading at once go through the one lock.
    func testConcurrentReads() throws {
        let cache = try SyntheticCache.make("threads")
        defer { try? FileManager.default.removeItem(at: cache.root) }
        let f = try FeatureFile(url: cache.index)
        let expected = cache.values
        let failures = NSLock()
        var bad = 0
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            do {
                let g = i % 2 == 0 ? f : try FeatureFile(url: cache.index)
                if try g.readFloats("values") != expected || g.readStrings("keys").count != cache.nItems { throw CancellationError() }
            } catch {
                failures.lock(); bad += 1; failures.unlock()
            }
        }
        XCTAssertEqual(bad, 0)
    }
}
