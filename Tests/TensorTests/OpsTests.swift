import XCTest
import TestSupport
@testable import Tensor

/// Hand-checked small cases for every op. Expected values are worked out by hand (or, for transcendental
/// functions, in float64) and compared within 1e-6 unless a test says otherwise.
final class OpsTests: XCTestCase {
    func assertClose(_ got: [Float], _ expected: [Float], tolerance: Float = 1e-6,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, "count", file: file, line: line)
        for (i, (g, e)) in zip(got, expected).enumerated() where !(abs(g - e) <= tolerance) {
            XCTFail("element \(i): got \(g), expected \(e) (tolerance \(tolerance))", file: file, line: line)
            return
        }
    }

    // MARK: Tensor basics

    func testShapeReshapeAndSubscript() {
        let t = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t[1, 2], 6)
        XCTAssertEqual(t.reshaped([3, -1]).shape, [3, 2])
        XCTAssertEqual(t.reshaped([6]).scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Tensor(shape: [], [7]).count, 1)
        XCTAssertEqual(Tensor.zeros([0, 4]).count, 0)
    }

    func testCopyOnWrite() {
        let a = Tensor(shape: [3], [1, 2, 3])
        var b = a
        b[0] = 10
        XCTAssertEqual(a.scalars, [1, 2, 3], "the original must not change")
        XCTAssertEqual(b.scalars, [10, 2, 3])
        var c = a.reshaped([1, 3])
        c.applyReLU()
        c.scale(by: 2)
        XCTAssertEqual(a.scalars, [1, 2, 3])
        XCTAssertEqual(c.scalars, [2, 4, 6])
    }

    func testPermuteSliceConcatenate() {
        let t = Tensor(shape: [2, 3, 2], (0..<12).map(Float.init))
        // permute(0, 2, 1): out[i][j][k] = t[i][k][j]
        XCTAssertEqual(t.permuted([0, 2, 1]).scalars, [0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11])
        XCTAssertEqual(t.transposedLastTwo().shape, [2, 2, 3])
        // MTCNN's permute(0, 3, 2, 1) on [1, C=2, H=2, W=3]: out[0][x][y][c] = in[0][c][y][x].
        let nchw = Tensor(shape: [1, 2, 2, 3], (0..<12).map(Float.init))
        XCTAssertEqual(nchw.permuted([0, 3, 2, 1]).scalars, [0, 6, 3, 9, 1, 7, 4, 10, 2, 8, 5, 11])
        XCTAssertEqual(t.slice(axis: 1, 1..<3).scalars, [2, 3, 4, 5, 8, 9, 10, 11])
        XCTAssertEqual(t.slice(axis: 2, 0..<1).scalars, [0, 2, 4, 6, 8, 10])
        let joined = Tensor.concatenate([Tensor(shape: [2, 1], [1, 2]), Tensor(shape: [2, 2], [3, 4, 5, 6])], axis: 1)
        XCTAssertEqual(joined.shape, [2, 3])
        XCTAssertEqual(joined.scalars, [1, 3, 4, 2, 5, 6])
        XCTAssertEqual(Tensor.concatenate([Tensor(shape: [1, 2], [1, 2]), Tensor(shape: [1, 2], [3, 4])], axis: 0).scalars,
                       [1, 2, 3, 4])
    }

    // MARK: Linear algebra

    func testMatmul2x3() {
        let a = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], [7, 8, 9, 10, 11, 12])
        XCTAssertEqual(matmul(a, b).scalars, [58, 64, 139, 154])
        // The same product from transposed storage.
        XCTAssertEqual(matmul(a.permuted([1, 0]), b, transposeA: true).scalars, [58, 64, 139, 154])
        XCTAssertEqual(matmul(a, b.permuted([1, 0]), transposeB: true).scalars, [58, 64, 139, 154])
        XCTAssertEqual(matmul(a, b, alpha: 0.5).scalars, [29, 32, 69.5, 77])
    }

    func testLinearWithBiasOverLeadingAxes() {
        let x = Tensor(shape: [2, 1, 2], [2, 3, -1, 1])
        let w = Tensor(shape: [3, 2], [1, 0, 0, 1, 1, 1])  // [out, in]
        let b = Tensor(shape: [3], [1, 2, 3])
        let y = linear(x, weight: w, bias: b)
        XCTAssertEqual(y.shape, [2, 1, 3])
        XCTAssertEqual(y.scalars, [3, 5, 8, 0, 3, 3])
        XCTAssertEqual(linear(x, weight: w, bias: nil).scalars, [2, 3, 5, -1, 1, 0])
    }

    func testEmbeddingLookup() {
        let table = Tensor(shape: [3, 2], [0, 1, 2, 3, 4, 5])
        let e = embedding(table, ids: [2, 0, 2])
        XCTAssertEqual(e.shape, [3, 2])
        XCTAssertEqual(e.scalars, [4, 5, 0, 1, 4, 5])
    }

    // MARK: Normalisation

    func testLayerNormOf123() {
        let x = Tensor(shape: [1, 3], [1, 2, 3])
        // mean 2, biased variance 2/3: (x − 2)/√(2/3) = ∓1.2247449
        let plain = layerNorm(x, weight: Tensor(shape: [3], repeating: 1), bias: Tensor.zeros([3]), eps: 1e-12)
        assertClose(plain.scalars, [-1.2247449, 0, 1.2247449])
        let affine = layerNorm(x, weight: Tensor(shape: [3], [1, 2, 3]), bias: Tensor(shape: [3], [0, 1, 0]), eps: 1e-12)
        assertClose(affine.scalars, [-1.2247449, 1, 3.6742347])
        // A constant row normalises to β (variance 0, eps keeps it finite).
        let flat = layerNorm(Tensor(shape: [2], [5, 5]), weight: Tensor(shape: [2], [1, 1]), bias: Tensor(shape: [2], [0.5, -0.5]), eps: 1e-5)
        assertClose(flat.scalars, [0.5, -0.5])
    }

    func testGroupNorm() {
        // x [1, 2, 2]: channel 0 = [1, 3], channel 1 = [2, 6].
        let x = Tensor(shape: [1, 2, 2], [1, 3, 2, 6])
        let ones = Tensor(shape: [2], [1, 1]), zeros = Tensor.zeros([2])
        // groups = channels: each channel over time (HuBERT). ch0 mean 2 var 1, ch1 mean 4 var 4.
        assertClose(groupNorm(x, groups: 2, weight: ones, bias: zeros, eps: 0).scalars, [-1, 1, -1, 1])
        // One group: mean 3, variance 3.5; then γ = [2, 1], β = [0, 1] per channel.
        let y = groupNorm(x, groups: 1, weight: Tensor(shape: [2], [2, 1]), bias: Tensor(shape: [2], [0, 1]), eps: 1e-5)
        assertClose(y.scalars, [-2.1380869, 0, 1 - 0.5345217, 1 + 1.6035652], tolerance: 2e-6)
    }

    func testWeightNormDim2() {
        // v [2, 1, 2]: tap 0 = (3, 4) → norm 5; tap 1 = (1, 0) → norm 1. g = [10, 2].
        let v = Tensor(shape: [2, 1, 2], [3, 1, 4, 0])
        let g = Tensor(shape: [1, 1, 2], [10, 2])
        assertClose(weightNorm(g: g, v: v, dim: 2).scalars, [6, 2, 8, 0])
    }

    // MARK: Activations and softmax

    func testGELUAtKnownPoints() {
        var x = Tensor(shape: [6], [0, 1, -1, 2, -3, 0.5])
        x.applyGELU()
        assertClose(x.scalars, [0, 0.84134475, -0.15865525, 1.9544997, -0.0040496941, 0.34573123], tolerance: 5e-7)
    }

    func testQuickGELUAndTanh() {
        let x = Tensor(shape: [6], [0, 1, -1, 2, -3, 0.5])
        assertClose(quickGELU(x).scalars, [0, 0.84579577, -0.15420423, 1.9356586, -0.018071310, 0.35038844])
        assertClose(tanh(Tensor(shape: [3], [0, 1, -2])).scalars, [0, 0.76159416, -0.96402758])
    }

    func testLargeElementwiseUsesAllChunksCorrectly() {
        // 1M elements takes the parallel path; every element must be transformed exactly once.
        let n = 1 << 20
        let x = Tensor(shape: [n], (0..<n).map { Float($0 % 1000) / 100 - 5 })
        let y = gelu(x)
        y.withUnsafeBufferPointer { p in
            for i in stride(from: 0, to: n, by: 997) {
                let v = Float(i % 1000) / 100 - 5
                XCTAssertEqual(p[i], v * 0.5 * (1 + erff(v * 0.70710678)), accuracy: 1e-6)
            }
        }
        var z = x
        z.add(Tensor(shape: [n], repeating: 1))
        XCTAssertEqual(z.scalars[n - 1], x.scalars[n - 1] + 1)
    }

    func testFastExpAndErfAccuracy() {
        // fastExp within 2 ulp of expf across its range; exactly 0 below −87, ∞ above 88, NaN for NaN.
        var worstUlps: Float = 0
        for i in 0...174_900 {
            let x = -87 + Float(i) * 0.001  // up to 87.9
            let e = expf(x), f = fastExp(x)
            worstUlps = max(worstUlps, abs(f - e) / e.ulp)
        }
        XCTAssertLessThanOrEqual(worstUlps, 2, "fastExp vs expf, in ulps")
        XCTAssertEqual(fastExp(0), 1)
        XCTAssertEqual(fastExp(-100), 0)
        XCTAssertEqual(fastExp(-Float.greatestFiniteMagnitude), 0)
        XCTAssertEqual(fastExp(100), .infinity)
        XCTAssertTrue(fastExp(.nan).isNaN)
        // fastErf within 5e-7 absolute of erf (A&S's 1.5e-7, plus float rounding).
        var worst = 0.0
        for i in 0...12_000 {
            let x = -6 + Float(i) * 0.001
            worst = max(worst, abs(Double(fastErf(x)) - erf(Double(x))))
        }
        XCTAssertLessThanOrEqual(worst, 5e-7, "fastErf vs erf")
        // GELU stays within 3e-7·max(1, |x|) of the float64 exact form.
        var x = Tensor(shape: [12_001], (0...12_000).map { -6 + Float($0) * 0.001 })
        let inputs = x.scalars
        x.applyGELU()
        for (v, g) in zip(inputs, x.scalars) {
            let exact = 0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot()))
            XCTAssertLessThanOrEqual(abs(Double(g) - exact), 3e-7 * max(1, abs(Double(v))), "GELU(\(v))")
        }
    }

    /// The AVX-512 GELU of `CVectorKernels` gives the Swift loop's results bit for bit, on every kind of float
    /// (±0, subnormals, ±infinity, NaN, the clamp at |x/√2| = 4, random bit patterns) and partial vectors.
    func testAVX512GELUIsBitIdenticalToSwift() {
        guard VectorKernels.avx512 else {
            print("AVX-512 GELU not testable here: the CPU has no AVX-512F (or MELD_NO_AVX512 is set)")
            return
        }
        let inputs = FloatSweep.values(including: [5.656_854, -5.656_854, 6, -6], grid: (-12, 0.000_12, 200_001),
                                       randomBitPatterns: 20_000, seed: 0x9E37_79B9_7F4A_7C15)
        for count in [inputs.count, 1, 15, 17] {
            var swift = Array(inputs.prefix(count)), simd = swift
            swift.withUnsafeMutableBufferPointer { applyGELUKernel($0.baseAddress!, count: count, avx512: false) }
            simd.withUnsafeMutableBufferPointer { applyGELUKernel($0.baseAddress!, count: count, avx512: true) }
            XCTAssertEqual(FloatSweep.bits(simd), FloatSweep.bits(swift), "GELU, \(count) values")
        }
    }

    func testSoftmax() {
        assertClose(softmax(Tensor(shape: [1, 3], [1, 2, 3])).scalars, [0.090030573, 0.24472847, 0.66524096])
        // Shift invariance, and huge inputs do not overflow (max subtracted).
        assertClose(softmax(Tensor(shape: [3], [1001, 1002, 1003])).scalars, [0.090030573, 0.24472847, 0.66524096])
        // Along axis 1 of [1, 2, 1, 2]: pairs (x[0,0,0,j], x[0,1,0,j]).
        let s = softmax(Tensor(shape: [1, 2, 1, 2], [1, 0, 2, 0]), axis: 1)
        assertClose(s.scalars, [0.26894142, 0.5, 0.73105858, 0.5])
    }

    func testPReLU() {
        let x = Tensor(shape: [2, 2], [-2, 3, -4, 5])
        XCTAssertEqual(prelu(x, weight: Tensor(shape: [2], [0.1, 0.5])).scalars, [-0.2, 3, -0.4, 5])  // channel 0 is column 0
        let nchw = Tensor(shape: [1, 2, 1, 2], [-1, -2, -3, 4])
        XCTAssertEqual(prelu(nchw, weight: Tensor(shape: [2], [0.25, 0.5])).scalars, [-0.25, -0.5, -1.5, 4])
        XCTAssertEqual(prelu(nchw, weight: Tensor(shape: [1], [0])).scalars, [0, 0, 0, 4])
    }

    func testBroadcastAdd() {
        var x = Tensor(shape: [2, 2, 2], [0, 0, 0, 0, 1, 1, 1, 1])
        x.add(Tensor(shape: [2, 2], [1, 2, 3, 4]))  // position embeddings [L, D] onto [B, L, D]
        XCTAssertEqual(x.scalars, [1, 2, 3, 4, 2, 3, 4, 5])
        XCTAssertEqual((x * Tensor(shape: [2], [0, 1])).scalars, [0, 2, 0, 4, 0, 3, 0, 5])
    }

    // MARK: Attention

    func testAttentionWithMaskByHand() {
        // One head, D = 1: scores = q·k = [1, 2, 3]; the third key is masked, so p = softmax([1, 2]).
        let q = Tensor(shape: [1, 1, 1], [1])
        let k = Tensor(shape: [1, 3, 1], [1, 2, 3])
        let v = Tensor(shape: [1, 3, 1], [10, 20, 30])
        let mask = additiveAttentionMask(Tensor(shape: [1, 3], [1, 1, 0]))
        XCTAssertEqual(mask.scalars, [0, 0, -Float.greatestFiniteMagnitude])
        let out = attention(query: q, key: k, value: v, heads: 1, scale: 1, mask: mask)
        XCTAssertEqual(out.scalars[0], 10 * 0.26894142 + 20 * 0.73105858, accuracy: 1e-5)
        // Without the mask all three keys count.
        let open = attention(query: q, key: k, value: v, heads: 1, scale: 1)
        XCTAssertEqual(open.scalars[0], 10 * 0.090030573 + 20 * 0.24472847 + 30 * 0.66524096, accuracy: 1e-4)
    }

    func testAttentionHeadsAreIndependentAndConcatenated() {
        // Two heads of width 1 with all-equal scores: each head averages its own value column.
        let q = Tensor(shape: [1, 2, 2], repeating: 0)
        let k = Tensor(shape: [1, 2, 2], repeating: 0)
        let v = Tensor(shape: [1, 2, 2], [1, 100, 3, 300])
        let out = attention(query: q, key: k, value: v, heads: 2, scale: 0.125)
        XCTAssertEqual(out.shape, [1, 2, 2])
        assertClose(out.scalars, [2, 200, 2, 200], tolerance: 1e-4)
    }

    // MARK: Convolution and pooling

    func testConv2dTinyWithStride() {
        let x = Tensor(shape: [1, 1, 4, 4], (1...16).map(Float.init))
        let w = Tensor(shape: [1, 1, 2, 2], [1, 0, 0, 1])  // top-left + bottom-right
        XCTAssertEqual(conv2d(x, weight: w, bias: nil, stride: 2).scalars, [7, 11, 23, 27])
        XCTAssertEqual(conv2d(x, weight: w, bias: Tensor(shape: [1], [1]), stride: 2).scalars, [8, 12, 24, 28])
        // Padding 1, stride 2 → 3×3; the first row/column of windows see zeros above/left.
        let padded = conv2d(x, weight: w, bias: nil, stride: 2, padding: 1)
        XCTAssertEqual(padded.shape, [1, 1, 3, 3])
        // out[oy][ox] = x[2oy−1][2ox−1] + x[2oy][2ox], zero outside the input.
        func at(_ y: Int, _ xx: Int) -> Float { (0..<4).contains(y) && (0..<4).contains(xx) ? Float(y * 4 + xx + 1) : 0 }
        XCTAssertEqual(padded.scalars, (0..<9).map { at(2 * ($0 / 3) - 1, 2 * ($0 % 3) - 1) + at(2 * ($0 / 3), 2 * ($0 % 3)) })
        XCTAssertEqual(padded.scalars, [1, 3, 0, 9, 17, 8, 0, 14, 16])
        // Unbatched input keeps its rank.
        XCTAssertEqual(conv2d(x.reshaped([1, 4, 4]), weight: w, bias: nil, stride: 2).shape, [1, 2, 2])
    }

    func testConv1dWithGroupsAndPadding() {
        // Channel 0 = [1, 2, 3] with kernel [1, 1]; channel 1 = [4, 5, 6] with kernel [1, −1]; padding 1.
        let x = Tensor(shape: [1, 2, 3], [1, 2, 3, 4, 5, 6])
        let w = Tensor(shape: [2, 1, 2], [1, 1, 1, -1])
        let y = conv1d(x, weight: w, bias: nil, padding: 1, groups: 2)
        XCTAssertEqual(y.shape, [1, 2, 4])
        XCTAssertEqual(y.scalars, [1, 3, 5, 3, -4, -1, -1, 6])
        // Stride 2 with a bias.
        let s = conv1d(x, weight: w, bias: Tensor(shape: [2], [10, 20]), stride: 2, padding: 1, groups: 2)
        XCTAssertEqual(s.scalars, [11, 15, 16, 19])
    }

    func testConv1dChannelsLastByHand() {
        // The grouped, padded case above in channels-last form: x [L = 3, C = 2], weight [C_out, K, C_in/g].
        let x = Tensor(shape: [1, 2, 3], [1, 2, 3, 4, 5, 6]).transposedLastTwo()
        let w = channelsLastConv1dWeight(Tensor(shape: [2, 1, 2], [1, 1, 1, -1]))
        let y = conv1dChannelsLast(x, weight: w, bias: nil, padding: 1, groups: 2)
        XCTAssertEqual(y.shape, [1, 4, 2])
        XCTAssertEqual(y.scalars, [1, -4, 3, -1, 5, -1, 3, 6])
        // GroupNorm channels-last equals GroupNorm on the transpose.
        let z = Tensor(shape: [1, 2, 2], [1, 3, 2, 6])
        var zl = z.transposedLastTwo()
        zl.applyGroupNormChannelsLast(groups: 1, weight: Tensor(shape: [2], [2, 1]), bias: Tensor(shape: [2], [0, 1]), eps: 1e-5)
        let reference = groupNorm(z, groups: 1, weight: Tensor(shape: [2], [2, 1]), bias: Tensor(shape: [2], [0, 1]), eps: 1e-5)
        assertClose(zl.transposedLastTwo().scalars, reference.scalars)
    }

    func testConvolutionTilesMatchOneTile() {
        // Shrink the im2col budget so the output is built in many 16-position tiles; results must not change.
        let x = Tensor(shape: [1, 3, 9, 11], (0..<297).map { Float(($0 * 37) % 23) / 7 - 1.5 })
        let w = Tensor(shape: [4, 3, 3, 3], (0..<108).map { Float(($0 * 11) % 17) / 9 - 0.9 })
        let b = Tensor(shape: [4], [0.1, -0.2, 0.3, 0])
        let whole = conv2d(x, weight: w, bias: b, stride: (2, 1), padding: (1, 2))
        let x1 = Tensor(shape: [2, 4, 301], (0..<2408).map { Float(($0 * 13) % 29) / 10 - 1.4 })
        let w1 = Tensor(shape: [6, 2, 5], (0..<60).map { Float(($0 * 7) % 19) / 10 - 0.9 })
        let whole1 = conv1d(x1, weight: w1, bias: nil, stride: 3, padding: 2, groups: 2)
        let x1cl = x1.transposedLastTwo(), w1cl = channelsLastConv1dWeight(w1)
        let wholeCL = conv1dChannelsLast(x1cl, weight: w1cl, bias: nil, stride: 3, padding: 2, groups: 2)
        // Another summation order than the channels-first im2col: equal within float rounding.
        XCTAssertLessThanOrEqual(Golden.maxAbsDiff(wholeCL.transposedLastTwo().scalars, whole1.scalars).value, 1e-5)
        let saved = im2colBudget
        im2colBudget = 1
        defer { im2colBudget = saved }
        XCTAssertTrue(conv1dChannelsLast(x1cl, weight: w1cl, bias: nil, stride: 3, padding: 2, groups: 2).scalars == wholeCL.scalars)
        XCTAssertTrue(conv2d(x, weight: w, bias: b, stride: (2, 1), padding: (1, 2)).scalars == whole.scalars)
        XCTAssertTrue(conv1d(x1, weight: w1, bias: nil, stride: 3, padding: 2, groups: 2).scalars == whole1.scalars)
    }

    func testMaxPoolCeilModeOn5x5() {
        // Values 0, −1, ..., −24: the max of each window is its top-left element, so a partial window that
        // wrongly counted padding as 0 would show up as 0.
        let x = Tensor(shape: [1, 1, 5, 5], (0..<25).map { -Float($0) })
        let ceil = maxPool2d(x, kernel: 2, stride: 2, ceilMode: true)
        XCTAssertEqual(ceil.shape, [1, 1, 3, 3])  // ⌈(5 − 2)/2⌉ + 1
        XCTAssertEqual(ceil.scalars, [0, -2, -4, -10, -12, -14, -20, -22, -24])
        let floor = maxPool2d(x, kernel: 2, stride: 2)
        XCTAssertEqual(floor.scalars, [0, -2, -10, -12])
        // Positive ramp 0..24, kernel 3 stride 2 ceil: ⌈(5 − 3)/2⌉ + 1 = 2 (no partial window).
        let ramp = Tensor(shape: [1, 1, 5, 5], (0..<25).map(Float.init))
        XCTAssertEqual(maxPool2d(ramp, kernel: 3, stride: 2, ceilMode: true).scalars, [12, 14, 22, 24])
        // PyTorch drops a last window that would start past the input: 5 wide, kernel 1, stride 3 → 2, not 3.
        XCTAssertEqual(maxPool2d(ramp, kernel: 1, stride: 3, ceilMode: true).shape, [1, 1, 2, 2])
    }
}
