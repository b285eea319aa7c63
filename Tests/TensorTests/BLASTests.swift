import XCTest
import Foundation
import TestSupport
@testable import Tensor

/// sgemm correctness, thread safety, and the OpenBLAS kernel choice.
final class BLASTests: XCTestCase {
    // MARK: sgemm

    /// C = alpha·op(A)·op(B) + beta·C against a float64 triple loop, for every transpose combination and
    /// leading dimensions wider than the matrices. Tolerance 1e-5 relative (k = 29 products).
    func testSgemmMatchesNaiveLoop() {
        let (m, n, k) = (37, 53, 29)
        var rng = SystemRandomNumberGenerator()
        for transA in [false, true] {
            for transB in [false, true] {
                let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 5
                let a = (0..<((transA ? k : m) * lda)).map { _ in Float.random(in: -1...1, using: &rng) }
                let b = (0..<((transB ? n : k) * ldb)).map { _ in Float.random(in: -1...1, using: &rng) }
                var c = (0..<(m * ldc)).map { _ in Float.random(in: -1...1, using: &rng) }
                let c0 = c
                let alpha: Float = 0.75, beta: Float = -0.5
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                       a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                                       c: pc.baseAddress!, ldc: ldc)
                        }
                    }
                }
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k {
                            let av = transA ? a[p * lda + i] : a[i * lda + p]
                            let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                            s += Double(av) * Double(bv)
                        }
                        let expected = Float(Double(alpha) * s + Double(beta) * Double(c0[i * ldc + j]))
                        XCTAssertEqual(c[i * ldc + j], expected, accuracy: 1e-5 * max(1, abs(expected)),
                                       "transA \(transA) transB \(transB) at (\(i), \(j))")
                    }
                    // Padding columns of C are untouched.
                    for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j]) }
                }
            }
        }
    }

    /// Many threads calling sgemm at once (the pipeline's workers do) get the single-threaded answer.
    func testConcurrentCallsAgree() {
        let n = 192
        let a = Tensor(shape: [n, n], (0..<(n * n)).map { Float(($0 * 31) % 97) / 97 - 0.5 })
        let b = Tensor(shape: [n, n], (0..<(n * n)).map { Float(($0 * 17) % 89) / 89 - 0.5 })
        let reference = matmul(a, b, transposeB: true).scalars
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 16)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            results[i] = matmul(a, b, transposeB: true).scalars == reference
        }
        XCTAssertTrue(results.allSatisfy { $0 }, "a concurrent sgemm differed from the serial one")
    }

    // MARK: Kernel choice

    func testKernelPolicy() {
        // The user's setting always wins, even on an AVX-512 CPU and even when empty.
        XCTAssertNil(BLAS.kernelToSelect(userSetting: "Haswell", cpuHasAVX512: true, currentCore: "Haswell"))
        XCTAssertNil(BLAS.kernelToSelect(userSetting: "", cpuHasAVX512: true, currentCore: "Haswell"))
        // No AVX-512: keep whatever OpenBLAS picked.
        XCTAssertNil(BLAS.kernelToSelect(userSetting: nil, cpuHasAVX512: false, currentCore: "Haswell"))
        XCTAssertNil(BLAS.kernelToSelect(userSetting: nil, cpuHasAVX512: false, currentCore: "Zen"))
        // AVX-512 CPU where 0.3.21 picked an AVX2 kernel (Sapphire Rapids → Haswell, Zen 4 → Zen): switch.
        XCTAssertEqual(BLAS.kernelToSelect(userSetting: nil, cpuHasAVX512: true, currentCore: "Haswell"), "SkylakeX")
        XCTAssertEqual(BLAS.kernelToSelect(userSetting: nil, cpuHasAVX512: true, currentCore: "Zen"), "SkylakeX")
        XCTAssertEqual(BLAS.kernelToSelect(userSetting: nil, cpuHasAVX512: true, currentCore: "Prescott"), "SkylakeX")
        // Already an AVX-512 kernel: keep it.
        for core in ["SkylakeX", "Cooperlake", "SapphireRapids", "skylakex"] {
            XCTAssertNil(BLAS.kernelToSelect(userSetting: nil, cpuHasAVX512: true, currentCore: core), core)
        }
    }

    private var userSetCoreType: Bool { ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil }

    /// On an AVX-512 machine (this one) the kernel in use is an AVX-512 one, with nothing set by the user.
    func testAVX512MachineRunsAnAVX512Kernel() throws {
        print("BLAS: \(BLAS.config); kernel \(BLAS.kernelChoice); AVX-512 \(BLAS.cpuHasAVX512); threads \(BLAS.threads)")
        try XCTSkipUnless(BLAS.cpuHasAVX512, "this CPU has no AVX-512: OpenBLAS's choice \(BLAS.coreName) is kept")
        try XCTSkipIf(userSetCoreType, "OPENBLAS_CORETYPE is set for this test process")
        XCTAssertTrue(BLAS.avx512Cores.contains(BLAS.coreName.lowercased()), "core \(BLAS.coreName), \(BLAS.kernelChoice)")
    }

    /// The repair path: starting from the AVX2 kernel OpenBLAS 0.3.21 picks on CPUs it does not know, the policy
    /// switches to SkylakeX in this very process (libopenblas was loaded, and its constructor ran, long before),
    /// and results stay correct on both kernels.
    func testSwitchesAnAVX2KernelToSkylakeXInProcess() throws {
        try XCTSkipUnless(BLAS.cpuHasAVX512, "this CPU has no AVX-512")
        try XCTSkipIf(userSetCoreType, "OPENBLAS_CORETYPE is set for this test process")
        let a = Tensor(shape: [64, 96], (0..<6144).map { Float(($0 * 13) % 101) / 101 - 0.5 })
        let w = Tensor(shape: [80, 96], (0..<7680).map { Float(($0 * 7) % 103) / 103 - 0.5 })
        defer { BLAS.applyKernelPolicy() }
        XCTAssertEqual(BLAS.forceCore("Haswell"), "Haswell")
        let onHaswell = matmul(a, w, transposeB: true)
        let choice = BLAS.applyKernelPolicy()
        XCTAssertEqual(choice, .switched(from: "Haswell", to: "SkylakeX"))
        XCTAssertEqual(BLAS.coreName, "SkylakeX")
        let onSkylakeX = matmul(a, w, transposeB: true)
        XCTAssertLessThanOrEqual(Golden.maxAbsDiff(onHaswell.scalars, onSkylakeX.scalars).value, 1e-5)
        XCTAssertNil(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], "the switch must not leave the variable set")
    }

    /// Runs `testChildReport` in a fresh test process with `environment` and returns the core it reported.
    private func childCore(environment: [String: String]) throws -> String {
        let executable = ProcessInfo.processInfo.arguments[0]
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: executable) && executable.hasSuffix(".xctest"),
                          "cannot re-run the test bundle (\(executable)) on this platform")
        let result = try runProcess(executable, ["TensorTests.BLASTests/testChildReport"],
                                    environment: environment.merging(["TENSOR_BLAS_CHILD": "1"]) { $1 })
        let line = (result.stdout + result.stderr).split(separator: "\n").first { $0.hasPrefix("BLAS-CHILD core=") }
        guard let line, result.status == 0 else {
            XCTFail("child failed (status \(result.status)):\n\(result.stdout)\n\(result.stderr)")
            return ""
        }
        return String(line.dropFirst("BLAS-CHILD core=".count).prefix { $0 != " " })
    }

    /// A user-set OPENBLAS_CORETYPE is respected, even an AVX2 one on an AVX-512 CPU.
    func testUserSettingIsRespected() throws {
        XCTAssertEqual(try childCore(environment: ["OPENBLAS_CORETYPE": "Haswell"]), "Haswell")
        XCTAssertEqual(try childCore(environment: ["OPENBLAS_CORETYPE": "Sandybridge"]), "Sandybridge")
    }

    /// A fresh process with nothing set gets an AVX-512 kernel on an AVX-512 CPU.
    func testFreshProcessGetsAVX512Kernel() throws {
        try XCTSkipUnless(BLAS.cpuHasAVX512, "this CPU has no AVX-512")
        try XCTSkipIf(userSetCoreType, "OPENBLAS_CORETYPE is set for this test process")
        XCTAssertTrue(BLAS.avx512Cores.contains(try childCore(environment: [:]).lowercased()))
    }

    /// Not a test on its own: the child process of the two tests above reports its kernel.
    func testChildReport() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TENSOR_BLAS_CHILD"] != nil, "only run as a child")
        print("BLAS-CHILD core=\(BLAS.coreName) choice=\(BLAS.kernelChoice)")
    }

    /// The benchmark hook measures something plausible (the rate itself is printed, not asserted: the cores
    /// are shared).
    func testSgemmBenchmarkReportsARate() {
        let rate = SgemmBenchmark.gflops(m: 128, n: 128, k: 128, seconds: 0.05)
        print("sgemm 128³ on \(BLAS.coreName) with \(BLAS.threads) threads: \(rate) GFLOP/s")
        XCTAssertGreaterThan(rate, 0.1)
        XCTAssertTrue(rate.isFinite)
    }
}
