import FeatureStore
import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Determinism, the commit protocol, the index guards and error quality.
final class SafetyTests: XCTestCase {
    /// The same content written twice (more than a second apart, so time stamps would differ) gives
    /// byte-identical shard files and index files.
    func testIdenticalContentGivesIdenticalBytes() throws {
        let a = try SyntheticCache.make("det-a")
        defer { try? FileManager.default.removeItem(at: a.root) }
        Thread.sleep(forTimeInterval: 1.2)
        let b = try SyntheticCache.make("det-b")
        defer { try? FileManager.default.removeItem(at: b.root) }
        for shard in a.shards {
            let x = try Data(contentsOf: a.url(shard)), y = try Data(contentsOf: b.url(shard))
            XCTAssertEqual(x, y, "\(shard.fileName) differs between two writes")
        }
        let indexA = try Data(contentsOf: a.index)
        XCTAssertEqual(indexA, try Data(contentsOf: b.index), "the index differs between two writes")
        // Rewriting in place gives the same bytes too.
        try a.writeIndex()
        XCTAssertEqual(indexA, try Data(contentsOf: a.index))
        // And attributes in another insertion order change nothing.
        var reordered: [String: AttributeValue] = [:]
        for key in SyntheticCache.attributes.keys.sorted().reversed() { reordered[key] = SyntheticCache.attributes[key] }
        try IndexWriter.write(to: a.index, shards: a.refs, extraColumns: [SyntheticCache.labels], attributes: reordered)
        XCTAssertEqual(indexA, try Data(contentsOf: a.index))
    }

    /// After a write no `.tmp` remains; a stale `.tmp` (garbage from a killed run) does not stop a write.
    func testCommitProtocolLeavesNoTemporaries() throws {
        let cache = SyntheticCache(root: try TestPaths.makeTempDir("tmp"))
        defer { try? FileManager.default.removeItem(at: cache.root) }
        try FileManager.default.createDirectory(at: cache.shardsDir, withIntermediateDirectories: true)
        for shard in cache.shards {
            try Data("half a shard".utf8).write(to: URL(fileURLWithPath: cache.url(shard).path + ".tmp"))
        }
        try Data("half an index".utf8).write(to: URL(fileURLWithPath: cache.index.path + ".tmp"))
        try cache.writeShards()
        try cache.writeIndex()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.shardsDir.path).sorted(),
                       cache.shards.map(\.fileName))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.root.path).sorted(), ["shards", "train.h5"])
        XCTAssertEqual(try FeatureFile(url: cache.index).readStrings("keys"), cache.keys)

        // A failing write (no such folder) leaves nothing behind either.
        let nowhere = cache.root.appendingPathComponent("missing/x.h5")
        XCTAssertThrowsError(try ShardWriter.write(cache.shards[0].content, to: nowhere)) { error in
            XCTAssertTrue(error is HDF5Error, "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.root.path).sorted(), ["shards", "train.h5"])
    }

    /// A missing shard, a stale fingerprint, a different column shape: a clear error naming the shard, and
    /// no index (nor `.tmp`) left behind; an index that was already there is untouched.
    func testIndexGuards() throws {
        let cache = SyntheticCache(root: try TestPaths.makeTempDir("guards"))
        defer { try? FileManager.default.removeItem(at: cache.root) }
        try cache.writeShards()

        func expectFailure(_ problem: IndexError.Problem, shard: Int, column: String? = nil, mentions words: [String],
                           refs: [ShardRef]? = nil, line: UInt = #line) {
            XCTAssertThrowsError(try IndexWriter.write(to: cache.index, shards: refs ?? cache.refs), line: line) { error in
                guard let e = error as? IndexError else { return XCTFail("not an IndexError: \(error)", line: line) }
                XCTAssertEqual(e.problem, problem, "\(e)", line: line)
                XCTAssertEqual(e.shard, cache.url(cache.shards[shard]), "\(e)", line: line)
                XCTAssertEqual(e.column, column, "\(e)", line: line)
                for w in words + [cache.url(cache.shards[shard]).path] {
                    XCTAssertTrue(e.description.contains(w), "'\(w)' not in: \(e)", line: line)
                }
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.root.path), ["shards"],
                           "nothing may be left at the index path", line: line)
        }

        // A stale fingerprint.
        var refs = cache.refs
        refs[1].expectedFingerprint = "fp-new"
        expectFailure(.fingerprintMismatch, shard: 1, mentions: ["fp-1", "fp-new"], refs: refs)

        // A shard whose feature rows have another shape.
        var other = cache.shards[2]
        other.featureRowShape = [13, 400]
        try ShardWriter.write(other.content, to: cache.url(other))
        expectFailure(.schemaMismatch, shard: 2, column: "features", mentions: ["[13, 400]", "[13, 401]"])

        // A shard without a column the first one has.
        var content = cache.shards[2].content
        content.columns.removeAll { $0.name == "frame_times" }
        try ShardWriter.write(content, to: cache.url(cache.shards[2]))
        expectFailure(.schemaMismatch, shard: 2, column: "frame_times", mentions: ["missing"])

        // A shard with another element type.
        content = cache.shards[2].content
        content.columns[2] = Column(name: "valid", data: .int32([1, 1]), indexMode: .copy)
        try ShardWriter.write(content, to: cache.url(cache.shards[2]))
        expectFailure(.schemaMismatch, shard: 2, column: "valid", mentions: ["int32", "uint8"])

        // Offsets that do not describe the values.
        content = cache.shards[2].content
        content.columns[5] = Column(name: "offsets", data: .int64([0, 0, 5]), indexMode: .offsets)
        try ShardWriter.write(content, to: cache.url(cache.shards[2]))
        expectFailure(.badOffsets, shard: 2, column: "offsets", mentions: ["end at 5"])
        try ShardWriter.write(cache.shards[2].content, to: cache.url(cache.shards[2]))

        // A missing shard file; with an index already in place, it stays as it was.
        try cache.writeIndex()
        let before = try Data(contentsOf: cache.index)
        try FileManager.default.removeItem(at: cache.url(cache.shards[1]))
        XCTAssertThrowsError(try cache.writeIndex()) { error in
            XCTAssertEqual((error as? IndexError)?.problem, .missingShard, "\(error)")
            XCTAssertTrue("\(error)".contains(cache.url(cache.shards[1]).path), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: cache.index), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.index.path + ".tmp"))
        // ... and the old index, read now, shows why the guard exists: NaN where the shard was.
        XCTAssertTrue(try FeatureFile(url: cache.index).readFloats("features").contains { $0.isNaN })
        XCTAssertThrowsError(try FeatureFile(url: cache.index).verifyVirtualSources()) { error in
            XCTAssertTrue("\(error)".contains(cache.shards[1].fileName), "\(error)")
        }
        try FileManager.default.removeItem(at: cache.index)
        expectFailure(.missingShard, shard: 1, mentions: ["does not exist"])

        // A file that is not a shard at all.
        try Data("not hdf5".utf8).write(to: cache.url(cache.shards[1]))
        expectFailure(.unreadableShard, shard: 1, mentions: ["H5Fopen"])
    }

    /// Opening a file that is not HDF5: an HDF5Error naming the file with HDF5's own stack text, and nothing
    /// printed to stderr (auto-printing is off on every thread that calls HDF5, so this runs on a new one).
    func testErrorsCarryHDF5StackAndNothingIsPrinted() throws {
        let dir = try TestPaths.makeTempDir("errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("notes.h5")
        try Data("these are not the bytes you are looking for\n".utf8).write(to: url)

        final class Outcome: @unchecked Sendable { var error: Error? }   // written before the semaphore, read after
        let outcome = Outcome()
        let printed = try capturingStderr {
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                do { _ = try FeatureFile(url: url) } catch { outcome.error = error }
                done.signal()
            }
            thread.start()
            done.wait()
        }
        let error = try XCTUnwrap(outcome.error as? HDF5Error, "\(String(describing: outcome.error))")
        XCTAssertEqual(error.function, "H5Fopen")
        XCTAssertEqual(error.path, url.path)
        XCTAssertTrue(error.description.contains(url.path), error.description)
        XCTAssertTrue(error.stack.lowercased().contains("file signature not found"), error.stack)
        XCTAssertTrue(error.stack.contains("H5Fopen()"), error.stack)
        XCTAssertEqual(printed, "", "HDF5 printed to stderr")

        // A missing file names the file and the OS's reason.
        let missing = dir.appendingPathComponent("absent.h5")
        XCTAssertThrowsError(try FeatureFile(url: missing)) { error in
            XCTAssertTrue("\(error)".contains(missing.path) && "\(error)".contains("No such file or directory"), "\(error)")
        }
    }
}

/// Runs `body` with file descriptor 2 redirected to a file and returns what was written to it.
func capturingStderr(_ body: () throws -> Void) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: url) }
    fflush(stderr)
    let saved = dup(2)
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    dup2(fd, 2)
    close(fd)
    defer {
        fflush(stderr)
        dup2(saved, 2)
        close(saved)
    }
    try body()
    fflush(stderr)
    return try String(contentsOf: url, encoding: .utf8)
}
