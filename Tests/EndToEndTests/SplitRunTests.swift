import Foundation
import TestSupport
import XCTest

/// A run split into parts that run at once (`--shard-index i --shard-count n`, as a Slurm job array would run
/// them), then joined by a plain run, ends with the clean run's cache bit for bit.
final class SplitRunTests: XCTestCase {
    func testPartsRunConcurrentlyThenAJoinEqualsACleanRun() throws {
        let args = ["extract", "--shard-size", "2", "--jobs", "1", "--quiet"]
        let clean = try CLIHarness(datasetRoot: CLIHarness.sample, label: "split-clean")
        XCTAssertEqual(try clean.run("run", args).status, 0)
        let expected = try clean.snapshot()

        let split = try CLIHarness(datasetRoot: CLIHarness.sample, label: "split-parts")
        let parts = 3
        let processes = try (0..<parts).map { i -> (Process, Pipe) in
            let p = Process(), out = Pipe()
            p.executableURL = TestPaths.pipelineExecutable
            p.arguments = ["run"] + args + ["--shard-index", "\(i)", "--shard-count", "\(parts)"] + split.commonArgs
            p.currentDirectoryURL = TestPaths.repoRoot
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            return (p, out)
        }
        var computed = 0
        for (i, (p, out)) in processes.enumerated() {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "part \(i): \(text)")
            XCTAssertTrue(text.contains("part \(i + 1) of \(parts), --shard-index \(i))") && text.contains("left to the other parts"), text)
            computed += Self.count("computed", in: text, stage: "mfcc")
        }
        XCTAssertEqual(computed, 14, "the parts together compute every item once")
        let beforeJoin = try split.snapshot()
        XCTAssertFalse(beforeJoin.keys.contains { $0.hasSuffix(".tmp") })
        XCTAssertFalse(beforeJoin.keys.contains { !$0.contains("/shards/") }, "a part wrote an index file")

        let join = try split.run("run", args)
        XCTAssertEqual(join.status, 0, join.stderr)
        XCTAssertEqual(Self.count("computed", in: join.stdout, stage: "mfcc"), 0, join.stdout)
        let got = try split.snapshot()
        XCTAssertEqual(Set(got.keys), Set(expected.keys))
        for (path, bytes) in expected { XCTAssertEqual(got[path], bytes, "\(path) differs from the clean run") }
    }

    /// Bad part options are refused before anything runs.
    func testPartOptionsAreValidated() throws {
        let h = try CLIHarness(datasetRoot: CLIHarness.sample, label: "split-bad")
        for bad in [["--shard-index", "2", "--shard-count", "2"], ["--shard-index", "0"], ["--shard-count", "0", "--shard-index", "0"]] {
            let r = try h.run("run", ["extract", "--quiet"] + bad)
            XCTAssertNotEqual(r.status, 0, "\(bad) was accepted")
            XCTAssertTrue(r.stderr.contains("--shard-"), "\(bad): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.cache.path), "a refused run touched the cache")
    }

    /// "mfcc: 4 computed, ..." -> 4.
    static func count(_ what: String, in text: String, stage: String) -> Int {
        guard let r = text.range(of: "\(stage): ") else { return -1 }
        let rest = text[r.upperBound...]
        guard let end = rest.range(of: " \(what)") else { return -1 }
        return Int(rest[..<end.lowerBound].split(separator: " ").last ?? "") ?? -1
    }
}
