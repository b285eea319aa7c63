import Foundation
import Tensor

/// Statistics and timing the benchmarks share.
enum BenchStats {
    /// The median (mean of the middle two for an even count); 0 for no values.
    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Waits until OpenBLAS's worker threads have gone back to sleep: after a threaded call they spin for about
    /// 2^28 cycles (0.1 s here), and spinning beside our own threads would be charged to whatever is timed next.
    static func letBLASThreadsSleep() {
        usleep(300_000)
    }

    /// Wall-clock seconds of `body` (monotonic clock).
    static func timed(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

/// A Python that runs a reference script from `Tools/bench/` with the same thread count as ours
/// (`OMP_NUM_THREADS` and `MKL_NUM_THREADS` set too; the scripts also call `torch.set_num_threads`).
struct ReferencePython {
    var path: String
    var threads: Int

    /// `explicit` (an option), else `$env`, else `python3` on PATH when it can import `imports`; nil otherwise.
    static func find(_ explicit: String?, env: String, imports: String, threads: Int) -> ReferencePython? {
        if let explicit { return ReferencePython(path: explicit, threads: threads) }
        if let e = ProcessInfo.processInfo.environment[env], !e.isEmpty { return ReferencePython(path: e, threads: threads) }
        let probe = ReferencePython(path: "python3", threads: threads)
        var failure = ""
        return probe.run(["-c", "import \(imports)"], failure: &failure) != nil ? probe : nil
    }

    /// Median seconds from the one JSON line `{"seconds": ..., "threads": ...}` a `Tools/bench` script prints, or
    /// nil after saying why.
    func seconds(_ script: String, _ args: [String]) -> Double? {
        guard let url = Locations.find(script) else {
            print("  \(script) not found (run from the package folder)")
            return nil
        }
        var failure = ""
        guard let text = run([url.path] + args, failure: &failure),
              let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let seconds = json["seconds"] as? Double else {
            print("  \(path) \(script) \(args.joined(separator: " ")) failed: \(failure)")
            return nil
        }
        if let used = json["threads"] as? Int, used != threads {
            print("  warning: the reference ran \(used) threads, not \(threads)")
        }
        return seconds
    }

    /// Runs this Python (a path, or a name looked up on PATH) with `arguments`.
    /// - Returns: its standard output when it exited 0; else nil, and `failure` holds the end of its standard error.
    func run(_ arguments: [String], failure: inout String) -> String? {
        let p = Process()
        if path.contains("/") {
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = arguments
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [path] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        for key in ["OMP_NUM_THREADS", "MKL_NUM_THREADS"] { env[key] = "\(threads)" }
        p.environment = env
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("meld-bench-python-\(getpid()).err")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle(forWritingAtPath: errURL.path) ?? FileHandle.nullDevice
        guard (try? p.run()) != nil else {
            failure = "cannot run \(path)"
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus == 0 { return String(decoding: data, as: UTF8.self) }
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        failure = err.split(separator: "\n").suffix(3).joined(separator: "\n")
        return nil
    }
}

/// The benchmarks time our encoders with the default weight products and, where this machine has both, with the
/// other kind too (`ProductPrecision`: float32 sgemm, or float32 through AMX bfloat16 parts), in the same rounds.
enum ProductComparison {
    /// The precision that is not the default, when AMX is available (else nil: nothing to compare).
    static var other: ProductPrecision? {
        guard BLAS.amxAvailability.available else { return nil }
        return BLAS.productPrecision == .float32 ? .amxSplitBF16 : .float32
    }

    /// "AMX" or "float32 sgemm".
    static func name(_ p: ProductPrecision) -> String { p == .float32 ? "float32 sgemm" : "AMX" }

    /// The header line: which products are the default, why, and what is compared.
    static var header: String {
        "weight products: \(BLAS.productPrecision); \(BLAS.productPrecisionReason)"
            + (other.map { "; each round also times ours with \(name($0)) products" } ?? "")
    }

    /// How fast the AMX products ran against the sgemm ones (> 1: AMX faster), from the seconds with the
    /// default products and with the other ones.
    static func amxSpeed(defaultSeconds: Double, otherSeconds: Double) -> Double {
        BLAS.productPrecision == .amxSplitBF16 ? otherSeconds / defaultSeconds : defaultSeconds / otherSeconds
    }

    /// Runs `body` with `precision` set, then restores the default; lets OpenBLAS's threads sleep before and
    /// after so that neither side is charged for their spinning.
    static func with<R>(_ precision: ProductPrecision, _ body: () throws -> R) rethrows -> R {
        let saved = BLAS.productPrecision
        BLAS.productPrecision = precision
        BenchStats.letBLASThreadsSleep()
        defer {
            BLAS.productPrecision = saved
            BenchStats.letBLASThreadsSleep()
        }
        return try body()
    }
}
