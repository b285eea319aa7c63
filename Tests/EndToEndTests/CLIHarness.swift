import Foundation
import TestSupport
import XCTest

/// Runs the built `pipeline` executable against a dataset with a scratch cache and manifests folder.
struct CLIHarness {
    let cache: URL
    let manifests: URL
    let datasetRoot: URL

    init(datasetRoot: URL, label: String) throws {
        let tmp = try TestPaths.makeTempDir(label)
        cache = tmp.appendingPathComponent("Cache")
        manifests = tmp.appendingPathComponent("Manifests")
        self.datasetRoot = datasetRoot
    }

    static var sample: URL { TestPaths.repoRoot.appendingPathComponent("Samples/MELD.Raw") }

    var commonArgs: [String] {
        ["--dataset-root", datasetRoot.path, "--cache", cache.path, "--manifests", manifests.path]
    }

    @discardableResult
    func run(_ command: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let exe = TestPaths.pipelineExecutable
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            XCTFail("the pipeline executable was not built at \(exe.path)", file: file, line: line)
            throw XCTSkip("no executable")
        }
        // Test datasets, like the bundled sample, may use the tiny stand-in models of Samples/models.
        let marker = datasetRoot.appendingPathComponent(".bundled-sample")
        if FileManager.default.fileExists(atPath: datasetRoot.path), !FileManager.default.fileExists(atPath: marker.path) {
            try "test dataset: stand-in models allowed\n".write(to: marker, atomically: true, encoding: .utf8)
        }
        return try runProcess(exe.path, [command] + args + (command == "inspect" ? [] : commonArgs),
                              currentDirectory: TestPaths.repoRoot)
    }

    /// Every file under the cache, relative path → bytes.
    func snapshot() throws -> [String: Data] {
        var out: [String: Data] = [:]
        let root = cache.standardizedFileURL.resolvingSymlinksInPath()
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
        for case let url as URL in e where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            let rel = String(url.standardizedFileURL.resolvingSymlinksInPath().path.dropFirst(root.path.count))
            out[rel] = try Data(contentsOf: url)
        }
        return out
    }
}

/// Makes MELD-layout datasets with chosen defects, using the `ffmpeg` CLI and the bundled sample's clips.
enum DatasetMaker {
    static let header = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\r\n"

    static func row(_ n: Int, _ d: Int, _ u: Int, text: String = "Hello there.", start: String = "00:00:01,000",
                    end: String = "00:00:03,000") -> String {
        "\(n),\(text),Joey,joy,positive,\(d),\(u),1,1,\"\(start)\",\"\(end)\"\r\n"
    }

    static func ffmpeg(_ args: [String]) throws {
        let r = try runProcess("ffmpeg", ["-nostdin", "-v", "error", "-y"] + args)
        guard r.status == 0 else { throw XCTSkip("ffmpeg failed or is missing: \(r.stderr)") }
    }

    /// A copy of the bundled sample (clips hard-copied) that tests may change.
    static func copyOfSample(_ label: String) throws -> URL {
        let dir = try TestPaths.makeTempDir(label).appendingPathComponent("MELD.Raw")
        try FileManager.default.copyItem(at: CLIHarness.sample, to: dir)
        return dir
    }
}
