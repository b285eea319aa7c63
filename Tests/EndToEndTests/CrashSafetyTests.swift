import FeatureStore
import Foundation
import TestSupport
import XCTest

/// Kill -9 at random moments, re-run to the end, and the cache equals a clean run's bit for bit, with no
/// unreadable file anywhere.
final class CrashSafetyTests: XCTestCase {
    func testKillAtRandomMomentsThenResumeEqualsCleanRun() throws {
        let args = ["extract", "--shard-size", "2", "--jobs", "2", "--quiet"]
        let clean = try CLIHarness(datasetRoot: CLIHarness.sample, label: "clean")
        let t0 = Date()
        XCTAssertEqual(try clean.run("run", args).status, 0)
        let cleanDuration = Date().timeIntervalSince(t0)
        let expected = try clean.snapshot()
        XCTAssertFalse(expected.isEmpty)

        var rng = SystemRandomNumberGenerator()
        let kills = 14
        var killedMidRun = 0
        var delays: [String] = []
        for k in 0..<kills {
            // Each round: a fresh cache, a run killed at a random instant, then a re-run to the end.
            let crashed = try CLIHarness(datasetRoot: CLIHarness.sample, label: "crash\(k)")
            let p = Process()
            p.executableURL = TestPaths.pipelineExecutable
            p.arguments = ["run"] + args + crashed.commonArgs
            p.currentDirectoryURL = TestPaths.repoRoot
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let delay = Double.random(in: 0.02...max(0.05, cleanDuration * 0.75), using: &rng)
            delays.append(String(format: "%.2f", delay))
            usleep(UInt32(delay * 1_000_000))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); killedMidRun += 1 }
            p.waitUntilExit()
            // What the kill left is committed, readable files plus at most some *.tmp that the next run removes.
            for (path, _) in try crashed.snapshot() where path.hasSuffix(".h5") {
                XCTAssertNoThrow(try FeatureFile(url: crashed.cache.appendingPathComponent(String(path.dropFirst()))),
                                 "kill \(k) at \(delay) s: \(path) unreadable")
            }
            let final = try crashed.run("run", args)
            XCTAssertEqual(final.status, 0, "kill \(k): " + final.stderr)
            let got = try crashed.snapshot()
            XCTAssertEqual(Set(got.keys), Set(expected.keys), "kill \(k) at \(delay) s: not the clean run's files")
            for (path, bytes) in expected { XCTAssertEqual(got[path], bytes, "kill \(k) at \(delay) s: \(path) differs from the clean run") }
            XCTAssertFalse(got.keys.contains { $0.hasSuffix(".tmp") })
        }
        print("crash test: \(killedMidRun) of \(kills) runs killed mid-run at \(delays.joined(separator: ", ")) s (clean run \(String(format: "%.2f", cleanDuration)) s); every resume equals the clean run bit for bit")
        XCTAssertGreaterThanOrEqual(killedMidRun, 10, "at least 10 kills must land while the run is working")
    }
}
