import Foundation

/// Shared helpers for the test targets: where the repository, fixtures and `../shared` are, golden files, temp dirs.
public enum TestPaths {
    /// The repository root (the folder holding Package.swift), found from this source file's location.
    /// Symlinks are resolved, so scratch packages that link these sources still find the real checkout.
    public static let repoRoot: URL = {
        if let env = ProcessInfo.processInfo.environment["MELD_REPO_ROOT"] { return URL(fileURLWithPath: env) }
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            let fm = FileManager.default
            if fm.fileExists(atPath: url.appendingPathComponent("Package.swift").path),
               fm.fileExists(atPath: url.appendingPathComponent("Pipelines").path) { return url }
        }
        fatalError("the checkout (Package.swift beside Pipelines/) was not found above \(#filePath)")
    }()

    /// `Tests/Fixtures/<name>`.
    public static func fixture(_ name: String) -> URL {
        repoRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(name)
    }

    /// `../shared` beside the checkout (the real MELD CSVs), or nil where it is absent, as in a user's clone.
    /// `MELD_SHARED_DIR` overrides the location.
    public static var shared: URL? {
        let env = ProcessInfo.processInfo.environment["MELD_SHARED_DIR"]
        let url = env.map { URL(fileURLWithPath: $0) }
            ?? repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
        return FileManager.default.fileExists(atPath: url.appendingPathComponent("data/meld").path) ? url : nil
    }

    /// The path of the built `pipeline` executable (next to the test bundle in `.build/<config>/`).
    public static var pipelineExecutable: URL {
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = url.appendingPathComponent("pipeline")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            url.deleteLastPathComponent()
        }
        return repoRoot.appendingPathComponent(".build/debug/pipeline")
    }

    /// A fresh temporary directory, removed by the caller (or left for inspection).
    public static func makeTempDir(_ label: String = "test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("meldpipe-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Golden files: little-endian float32 arrays (`.f32`) and JSON written by the scripts under `Tools/`.
public enum Golden {
    public static func floats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
    }

    public static func json<T: Decodable>(_ type: T.Type, _ url: URL) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    /// The largest absolute difference and where it is; arrays must have equal counts.
    public static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> (value: Float, index: Int) {
        precondition(a.count == b.count, "count \(a.count) vs \(b.count)")
        var worst: Float = 0, at = 0
        for i in a.indices {
            let d = abs(a[i] - b[i])
            if d > worst || d.isNaN { worst = d; at = i }
        }
        return (worst, at)
    }
}

/// Runs a program to completion and returns its exit status and output.
public struct ProcessResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       currentDirectory: URL? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    final class Box: @unchecked Sendable { var data = Data() }   // written by one thread, read after wait()
    let outBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let outData = outBox.data
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

extension TestPaths {
    /// The all-MiniLM-L6-v2 folder (never committed; `Tools/fetch_minilm.sh` unpacks it): `$MELD_MINILM_DIR`,
    /// else the first folder under `Tools/.downloads/` holding every file of `files`, else nil.
    public static func miniLMFolder(containing files: [String]) -> URL? {
        let fm = FileManager.default
        func isModel(_ url: URL) -> Bool { files.allSatisfy { fm.fileExists(atPath: url.appendingPathComponent($0).path) } }
        if let env = ProcessInfo.processInfo.environment["MELD_MINILM_DIR"], !env.isEmpty {
            let url = URL(fileURLWithPath: env)
            return isModel(url) ? url : nil
        }
        let downloads = repoRoot.appendingPathComponent("Tools/.downloads")
        guard let first = files.first, let walker = fm.enumerator(at: downloads, includingPropertiesForKeys: nil) else { return nil }
        var found: [URL] = []
        for case let url as URL in walker where url.lastPathComponent == first {
            let folder = url.deletingLastPathComponent()
            if isModel(folder) { found.append(folder) }
        }
        return found.sorted { $0.path < $1.path }.first
    }
}

/// Inputs for tests that compare two implementations of a float function bit for bit (a SIMD kernel against its
/// Swift loop): every kind of float, a grid over the interesting range, and random bit patterns.
public enum FloatSweep {
    /// ±0, ±infinity, NaN, subnormals and the largest finite magnitudes.
    public static let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, .leastNormalMagnitude / 128,
                                           -.leastNormalMagnitude / 128, .leastNonzeroMagnitude,
                                           .greatestFiniteMagnitude, -.greatestFiniteMagnitude]

    /// `specials`, then `extra`, then `grid.count` values `from + i·step`, then `randomBitPatterns` floats with
    /// random bits (deterministic in `seed`).
    public static func values(including extra: [Float] = [], grid: (from: Float, step: Float, count: Int)? = nil,
                              randomBitPatterns: Int, seed: UInt64) -> [Float] {
        var out = specials + extra
        if let grid { out += (0..<grid.count).map { grid.from + Float($0) * grid.step } }
        var state = seed
        for _ in 0..<randomBitPatterns {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32)))
        }
        return out
    }

    /// The bit patterns of `values`, every NaN as the one quiet NaN (payloads are not compared).
    public static func bits(_ values: [Float]) -> [UInt32] { values.map { $0.isNaN ? 0x7FC0_0000 : $0.bitPattern } }
}
