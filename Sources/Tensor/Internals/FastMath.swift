import CVectorKernels
import Foundation

/// Whether the AVX-512 loops of `CVectorKernels` replace some of the Swift elementwise loops (the Tensor
/// module's GELU, HuBERT's GELU and folded first conv): the CPU has AVX-512F and `MELD_NO_AVX512` is not set.
/// Both paths give bit-identical results: the C loops do the same IEEE operations in the same order (no FMA
/// contraction, Swift's NaN behaviour of min and max), 16 lanes wide instead of the portable build's 4.
public enum VectorKernels {
    public static let avx512 = vec_cpu_has_avx512() != 0 && ProcessInfo.processInfo.environment["MELD_NO_AVX512"] == nil
}

// Branch-free float math that LLVM vectorises inside plain loops (libm's expf/erff are calls, one element at a
// time). Accuracy: fastExp within 2 ulp of expf on [−87, 88]; fastErf within 2.2e−7 absolute of erf.

/// The core of Cephes' expf: range reduction by ln 2 in two parts, a degree-6 polynomial, and 2^n through the
/// exponent bits. Valid where 2^n stays a normal number (x in [−87, 88]); no clamps or special cases.
@inline(__always)
func expCore(_ x: Float) -> Float {
    let magic: Float = 12_582_912  // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits
    let t = x * 1.442_695_040_888_963_4 + magic
    let n = Int32(bitPattern: t.bitPattern &- magic.bitPattern)
    let fn = t - magic
    var r = x - fn * 0.693_359_375
    r = r - fn * -2.121_944_400_546_905_8e-4
    let z = r * r
    var y: Float = 1.987_569_150_0e-4
    y = y * r + 1.398_199_950_7e-3
    y = y * r + 8.333_451_907_3e-3
    y = y * r + 4.166_579_589_4e-2
    y = y * r + 1.666_666_545_9e-1
    y = y * r + 5.000_000_120_1e-1
    y = y * z + r + 1
    return y * Float(bitPattern: UInt32(bitPattern: (n &+ 127) &<< 23))
}

/// e^x: `expCore` on x clamped to [−87, 88]. Exactly 0 below −87 (where expf is subnormal), +∞ above 88, NaN for NaN.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let scaled = expCore(Swift.min(Swift.max(x, -87), 88))
    return x < -87 ? 0 : (x > 88 ? .infinity : scaled)
}

/// e^x for x in [−16, 0] only: `expCore` without `fastExp`'s clamps and special cases, for `geluErf`.
@inline(__always)
func expOfSmallNegative(_ x: Float) -> Float { expCore(x) }

/// erf(|x|) by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e−7 in exact arithmetic): `1 − t·P(t)·e^(−x²)`,
/// `t = 1/(1 + 0.3275911|x|)`, given `a = |x|` and `e^(−a²)`.
@inline(__always)
func erfOfMagnitude(_ a: Float, expOfMinusSquare e: Float) -> Float {
    let t = 1 / (0.327_591_1 * a + 1)
    var p: Float = 1.061_405_429
    p = p * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    return 1 - p * t * e
}

/// erf(x), sign restored. Absolute, not relative, accuracy: fine for GELU, where it is multiplied by x/2 and
/// added to 1.
@inline(__always)
func fastErf(_ x: Float) -> Float {
    let a = Swift.abs(x)
    return Float(signOf: x, magnitudeOf: erfOfMagnitude(a, expOfMinusSquare: fastExp(-a * a)))
}

/// erf for GELU: `fastErf` with |x| clamped to 4 first. That changes nothing in float (erf(4) = 1 − 1.5e−8 rounds
/// to 1, as erf does beyond), and keeps e^(−x²) in `expOfSmallNegative`'s range, so no range checks remain.
@inline(__always)
func geluErf(_ x: Float) -> Float {
    let a = Swift.min(Swift.abs(x), 4)
    return Float(signOf: x, magnitudeOf: erfOfMagnitude(a, expOfMinusSquare: expOfSmallNegative(-a * a)))
}

/// A float → float function applied elementwise; a type (not a closure) so loops specialise and vectorise.
protocol ElementwiseKernel {
    static func apply(_ x: Float) -> Float
}

/// Exact-form GELU `x · 0.5 · (1 + erf(x/√2))`, with `geluErf`.
enum GELUKernel: ElementwiseKernel {
    @inline(__always) static func apply(_ x: Float) -> Float {
        x * 0.5 * (1 + geluErf(x * 0.707_106_781_186_547_524_4))
    }
}

/// `x · sigmoid(1.702 x)`.
enum QuickGELUKernel: ElementwiseKernel {
    @inline(__always) static func apply(_ x: Float) -> Float { x / (1 + fastExp(-1.702 * x)) }
}

/// `1 / (1 + e^−x)`.
enum SigmoidKernel: ElementwiseKernel {
    @inline(__always) static func apply(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
}

/// `max(x, 0)`.
enum ReLUKernel: ElementwiseKernel {
    @inline(__always) static func apply(_ x: Float) -> Float { x > 0 ? x : 0 }
}

/// libm's tanhf (BERT's pooler only: 768 values, accuracy over speed).
enum TanhKernel: ElementwiseKernel {
    @inline(__always) static func apply(_ x: Float) -> Float { tanhf(x) }
}

/// `GELUKernel` over `count` floats in place, split across cores when large: the AVX-512 loop of
/// `CVectorKernels` where `avx512`, else the Swift one (bit-identical).
func applyGELUKernel(_ p: UnsafeMutablePointer<Float>, count: Int, avx512: Bool = VectorKernels.avx512) {
    guard avx512 else { return applyKernel(GELUKernel.self, p, count: count, cost: 4) }
    Parallel.forEachChunk(count, costPerItem: 4) { range in vec_gelu_avx512(p + range.lowerBound, range.count) }
}

/// Applies `K` to `count` floats in place, split across cores when large.
@inline(__always)
func applyKernel<K: ElementwiseKernel>(_: K.Type, _ p: UnsafeMutablePointer<Float>, count: Int, cost: Int) {
    Parallel.forEachChunk(count, costPerItem: cost) { range in
        for i in range { p[i] = K.apply(p[i]) }
    }
}

/// Sum of `n` floats, in Double (8 lanes), for normalisation statistics.
@inline(__always)
func sumDouble(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD8<Double>()
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        acc += SIMD8<Double>(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
        i += 8
    }
    var s = acc.sum()
    while i < n { s += Double(p[i]); i += 1 }
    return s
}

/// Σ (x − mean)² of `n` floats, in Double (8 lanes).
@inline(__always)
func centeredSquaresDouble(_ p: UnsafePointer<Float>, _ n: Int, mean: Double) -> Double {
    var acc = SIMD8<Double>()
    let m = SIMD8<Double>(repeating: mean)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        let d = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)) - m
        acc += d * d
        i += 8
    }
    var s = acc.sum()
    while i < n { let d = Double(p[i]) - mean; s += d * d; i += 1 }
    return s
}
