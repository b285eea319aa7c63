/// `10 * log10(x)` in float32 for positive, normal, finite `x`, in plain arithmetic (no libm call) so loops over
/// arrays vectorise (4 lanes); `log10f` is a library call per element, which cannot.
///
/// Method: `x = 2^e * m` with `m` in `[sqrt(1/2), sqrt(2))`; `ln m = 2 atanh(s) = 2s (1 + s^2/3 + s^4/5 + s^6/7
/// + s^8/9)` with `s = (m - 1) / (m + 1)`, `|s| <= 0.172` (the next term is below 3e-10); then
/// `e * 10 log10(2) + ln m * 10 / ln 10`, the first product exact (the constant split into a short head and a tail)
/// so the result is rounded about once. Checked against double-precision `log10` in
/// DecibelTests.testDecibelAccuracy: within 5e-7 dB, and 2 ulps wherever |dB| >= 1;
/// librosa's own float32 `10 * np.log10` is not correctly rounded either (it gives -100.00001 for 1e-10).
@inline(__always)
func decibels(_ x: Float) -> Float {
    let bits = x.bitPattern
    let exponentField = (bits >> 23) & 0xff
    let m1 = Float(bitPattern: (bits & 0x007f_ffff) | 0x3f80_0000)          // [1, 2)
    let high = m1 > 1.41421356
    let m = high ? m1 * 0.5 : m1
    // Exact small-integer conversion: 2^23 + k as a float, minus 2^23.
    let e = (Float(bitPattern: 0x4b00_0000 | exponentField) - 8_388_608) - 127 + (high ? 1 : 0)
    let f = m - 1                                                           // exact
    let s = f / (2 + f)
    let z = s * s
    var p: Float = 1.0 / 9
    p = p * z + 1.0 / 7
    p = p * z + 1.0 / 5
    p = p * z + 1.0 / 3
    let twoS = s + s
    let lnM = twoS + twoS * z * p
    // 10 log10(2) = 3083/1024 + tail; e * 3083/1024 is exact in float32.
    return e * 3.0107421875 + (e * -4.422_308_6e-4 + lnM * 4.342_944_8)
}

/// `decibels` on eight values at once: the same operations in the same order, lane by lane, so every lane is
/// bit-identical to the scalar function (which the compiler vectorises only inside simple loops).
@inline(__always)
func decibels(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    let exponentField = (bits &>> 23) & 0xff
    let m1 = unsafeBitCast((bits & 0x007f_ffff) | 0x3f80_0000, to: SIMD8<Float>.self)    // [1, 2)
    let high = m1 .> 1.41421356
    let m = m1.replacing(with: m1 * 0.5, where: high)
    let e = ((unsafeBitCast(0x4b00_0000 | exponentField, to: SIMD8<Float>.self) - 8_388_608) - 127)
        + SIMD8<Float>(repeating: 0).replacing(with: 1, where: high)
    let f = m - 1
    let s = f / (2 + f)
    let z = s * s
    var p = SIMD8<Float>(repeating: 1.0 / 9)
    p = p * z + 1.0 / 7
    p = p * z + 1.0 / 5
    p = p * z + 1.0 / 3
    let twoS = s + s
    let lnM = twoS + twoS * z * p
    return e * 3.0107421875 + (e * -4.422_308_6e-4 + lnM * 4.342_944_8)
}

/// Lane-wise `max(a, b)` for non-NaN values as a compare and select (`pointwiseMax` is a generic library call
/// that is not inlined).
@inline(__always)
func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: a .< b) }
