import XCTest
import Foundation
@testable import Tensor

/// `BLAS.weightProduct` under both precisions: the AMX split-bfloat16 path must be as accurate as float32 sgemm,
/// for every edge the kernel has (rows not a multiple of 32, k not a multiple of 32, accumulation, strides, a
/// column block of a wider weight), and its packed weights must never go stale.
final class WeightProductTests: XCTestCase {
    private var saved = BLAS.productPrecision

    override func setUp() { saved = BLAS.productPrecision }
    override func tearDown() { BLAS.productPrecision = saved }

    private func requireAMX() throws {
        let amx = BLAS.amxAvailability
        try XCTSkipUnless(amx.available, "AMX path not testable here: \(amx.reason)")
    }

    /// One product under `precision`, against a float64 loop. Returns (max error, max of the float32 error
    /// bound) where the bound is γ = (k + 2)·2⁻²⁴ · Σ|a·w| per element, what any float32 GEMM guarantees.
    private func product(_ precision: ProductPrecision, m: Int, n: Int, k: Int, column: Int, ldw: Int,
                         accumulate: Bool, seed: UInt64) -> (maxError: Double, worstRatio: Double) {
        var rng = SplitMix(seed)
        let lda = k + 3, ldc = n + 1
        let a = (0..<(m * lda)).map { _ in Float.random(in: -2...2, using: &rng) }
        let w = Tensor(shape: [n, ldw], (0..<(n * ldw)).map { _ in Float.random(in: -0.1...0.1, using: &rng) })
        let c0 = (0..<(m * ldc)).map { _ in Float.random(in: -1...1, using: &rng) }
        var c = c0
        BLAS.productPrecision = precision
        a.withUnsafeBufferPointer { pa in
            c.withUnsafeMutableBufferPointer { pc in
                BLAS.weightProduct(m: m, k: k, a: pa.baseAddress!, lda: lda, weight: w, column: column,
                                   accumulate: accumulate, c: pc.baseAddress!, ldc: ldc)
            }
        }
        let ws = w.scalars
        var maxError = 0.0, worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var s = accumulate ? Double(c0[i * ldc + j]) : 0, magnitude = abs(s)
                for p in 0..<k {
                    let term = Double(a[i * lda + p]) * Double(ws[j * ldw + column + p])
                    s += term
                    magnitude += abs(term)
                }
                let error = abs(Double(c[i * ldc + j]) - s)
                maxError = max(maxError, error)
                worst = max(worst, error / (Double(k + 2) * 0x1p-24 * max(magnitude, 1e-30)))
            }
            XCTAssertEqual(c[i * ldc + n], c0[i * ldc + n], "wrote past column n in row \(i)")
        }
        return (maxError, worst)
    }

    /// Every edge of the kernel. Tolerances: within float32's worst-case GEMM bound γ·Σ|a·w| (ratio ≤ 1), and
    /// no more than 3x sgemm's own largest error on the same inputs (the typical ratio is 0.7–1.5).
    func testAMXProductIsAsAccurateAsSgemm() throws {
        try requireAMX()
        let cases: [(m: Int, n: Int, k: Int, column: Int, ldw: Int, accumulate: Bool)] = [
            (1, 32, 1, 0, 1, false), (7, 64, 50, 0, 50, true), (32, 32, 32, 0, 32, false),
            (33, 96, 70, 5, 80, true), (100, 64, 768, 0, 768, false), (64, 32, 300, 256, 600, true),
            (257, 544, 96, 0, 96, false),
        ]
        for (index, t) in cases.enumerated() {
            let amx = product(.amxSplitBF16, m: t.m, n: t.n, k: t.k, column: t.column, ldw: t.ldw,
                              accumulate: t.accumulate, seed: UInt64(index))
            let sgemm = product(.float32, m: t.m, n: t.n, k: t.k, column: t.column, ldw: t.ldw,
                                accumulate: t.accumulate, seed: UInt64(index))
            XCTAssertLessThanOrEqual(amx.worstRatio, 1, "case \(t): past float32's error bound")
            XCTAssertLessThanOrEqual(amx.maxError, 3 * max(sgemm.maxError, 1e-7),
                                     "case \(t): AMX error \(amx.maxError), sgemm \(sgemm.maxError)")
        }
    }

    /// `linear` on a weight that is then written in place (uniquely held, so no copy): the next product must
    /// use the new values, not the packed copy of the old ones; a copy of the weight keeps its own values.
    func testPackedWeightFollowsWrites() throws {
        try requireAMX()
        BLAS.productPrecision = .amxSplitBF16
        let x = Tensor(shape: [3, 4], (0..<12).map { Float($0) / 4 })
        var w = Tensor(shape: [32, 4], (0..<128).map { Float($0 % 7) - 3 })
        let before = linear(x, weight: w, bias: nil)
        let frozen = w                      // shares storage (and its packs) until w is written
        w.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= 2 } }
        let after = linear(x, weight: w, bias: nil)
        let again = linear(x, weight: frozen, bias: nil)
        for i in 0..<before.count {
            XCTAssertEqual(after.scalars[i], 2 * before.scalars[i], accuracy: 1e-5)
            XCTAssertEqual(again.scalars[i], before.scalars[i])
        }
        w[0, 0] = 100                        // the subscript path
        let third = linear(x, weight: w, bias: nil)
        // w[0, 0] was 2·(0 mod 7 − 3) = −6; output column 0 changes by (100 + 6)·x[r, 0].
        XCTAssertEqual(third[1, 0], after[1, 0] + 106 * x[1, 0], accuracy: 1e-4)
    }

    /// `MELD_GEMM` and the machine decide the default: AMX only on bare metal with AMX unless asked for.
    func testPrecisionPolicy() {
        func policy(_ asked: String?, amx: Bool, hypervisor: Bool) -> (ProductPrecision, Bool) {
            let p = BLAS.precisionPolicy(asked: asked, amx: amx, hypervisor: hypervisor, amxMissing: "no AMX-BF16")
            return (p.precision, p.note != nil)
        }
        XCTAssertTrue(policy(nil, amx: true, hypervisor: false) == (.amxSplitBF16, false))
        XCTAssertTrue(policy("auto", amx: true, hypervisor: true) == (.float32, false))
        XCTAssertTrue(policy(nil, amx: false, hypervisor: false) == (.float32, false))
        XCTAssertTrue(policy("AMX", amx: true, hypervisor: true) == (.amxSplitBF16, false))
        XCTAssertTrue(policy("amx", amx: false, hypervisor: false) == (.float32, true))
        XCTAssertTrue(policy("sgemm", amx: true, hypervisor: false) == (.float32, false))
        XCTAssertTrue(policy("fast", amx: true, hypervisor: false) == (.amxSplitBF16, true))
    }

    /// `Tensor` ops and models use whichever precision is set; float32 is always available.
    func testPrecisionSettingFallsBackWhereAMXIsMissing() {
        BLAS.productPrecision = .float32
        XCTAssertEqual(BLAS.productPrecision, .float32)
        BLAS.productPrecision = .amxSplitBF16
        XCTAssertEqual(BLAS.productPrecision, BLAS.amxAvailability.available ? .amxSplitBF16 : .float32)
    }
}

/// A small deterministic generator (SplitMix64) so every run tests the same matrices.
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
