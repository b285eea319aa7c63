import Foundation
@testable import Models
import Tensor
import TestSupport
import XCTest

/// The HuBERT-specific kernels against plain reference computations, and the tuning knobs against the goldens.
final class HuBERTKernelTests: XCTestCase {
    /// Deterministic values in [-scale, scale).
    private func values(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &* 0x9e37_79b9_7f4a_7c15 | 1
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    /// The exact GELU, in Double.
    private func exactGELU(_ x: Float) -> Double { Double(x) * 0.5 * (1 + erf(Double(x) / 2.0.squareRoot())) }

    func testGELUIsWithin2p5e7TimesX() {
        var worst = 0.0
        for i in -100_000...100_000 {
            let x = Float(i) * 1e-4   // -10 ... 10
            worst = max(worst, abs(Double(HubertKernels.gelu(x)) - exactGELU(x)) / max(1, abs(Double(x))))
        }
        print("GELU: max error / max(1, |x|) = \(worst)")
        XCTAssertLessThan(worst, 2.5e-7)
        XCTAssertEqual(HubertKernels.gelu(-100), 0)
        XCTAssertEqual(HubertKernels.gelu(100), 100)
        XCTAssertEqual(HubertKernels.gelu(0), 0)
        XCTAssertTrue(HubertKernels.gelu(.nan).isNaN)
    }

    func testExpOfNegative() {
        var worst = 0.0
        for i in 0..<87_000 {
            let a = Float(i) * 1e-3
            let exact = exp(-Double(a))
            worst = max(worst, abs(Double(HubertKernels.expOfNegative(a)) - exact) / exact)
        }
        print("exp(-a): max relative error \(worst) on [0, 87)")
        XCTAssertLessThan(worst, 5e-7)
        XCTAssertEqual(HubertKernels.expOfNegative(88), 0)
        XCTAssertEqual(HubertKernels.expOfNegative(0), 1)
    }

    /// The folded first layer against conv → GroupNorm → GELU done the plain way, on a clip with a DC offset.
    func testFoldedFirstLayerMatchesConvGroupNormGELU() {
        let (channels, k, stride, n) = (24, 10, 5, 4003)
        let x = Tensor(shape: [n], values(n, seed: 1).enumerated().map { $0.element + 0.3 + 0.2 * sin(Float($0.offset) * 0.01) })
        let weight = Tensor(shape: [channels, k], values(channels * k, seed: 2, scale: 0.5))
        let bias = Tensor(shape: [channels], values(channels, seed: 3))
        let gamma = Tensor(shape: [channels], values(channels, seed: 4).map { $0 + 1.5 })
        let beta = Tensor(shape: [channels], values(channels, seed: 5))
        var reference = conv1dChannelsLast(x.reshaped([1, n, 1]), weight: weight.reshaped([channels, k, 1]), bias: bias,
                                           stride: stride)
        reference.applyGroupNormChannelsLast(groups: channels, weight: gamma, bias: beta, eps: 1e-5)
        reference.applyGELU()
        let folded = HubertKernels.foldFirstGroupNorm(x, weight: weight, bias: bias, gamma: gamma, beta: beta,
                                                      eps: 1e-5, stride: stride)
        let got = x.withUnsafeBufferPointer { HubertKernels.firstConvGELU($0.baseAddress!, count: n, folded) }
        XCTAssertEqual(got.shape, [(n - k) / stride + 1, channels])
        let (worst, at) = Golden.maxAbsDiff(got.scalars, reference.scalars)
        print("folded first layer: max abs error \(worst) at \(at)")
        XCTAssertLessThanOrEqual(worst, 1e-5)
    }

    /// The AVX-512 loops of `CVectorKernels` give the Swift loops' results bit for bit: GELU in place, the added
    /// GELU and the folded first conv, on every kind of float (tails past ±4, ±0, subnormals, ±infinity, NaN) and
    /// on lengths that end in a partial vector.
    func testAVX512LoopsAreBitIdenticalToSwift() {
        guard VectorKernels.avx512 else {
            print("AVX-512 loops not testable here: the CPU has no AVX-512F (or MELD_NO_AVX512 is set)")
            return
        }
        let specials = FloatSweep.values(including: [5.656_854, -5.656_854, 6, -6] + values(100_000, seed: 7, scale: 12),
                                         randomBitPatterns: 1_000, seed: 8)
        for count in [specials.count, 1, 15, 17, 33] {
            let input = Array(specials.prefix(count))
            var swift = input, simd = input
            swift.withUnsafeMutableBufferPointer { HubertKernels.applyGELU($0.baseAddress!, count: count, avx512: false) }
            simd.withUnsafeMutableBufferPointer { HubertKernels.applyGELU($0.baseAddress!, count: count, avx512: true) }
            XCTAssertEqual(FloatSweep.bits(simd), FloatSweep.bits(swift), "GELU, \(count) values")
            var base1 = input.reversed().map { $0 * 0.5 }, base2 = base1
            base1.withUnsafeMutableBufferPointer { b in
                input.withUnsafeBufferPointer { HubertKernels.addGELU(b.baseAddress!, $0.baseAddress!, count: count, avx512: false) }
            }
            base2.withUnsafeMutableBufferPointer { b in
                input.withUnsafeBufferPointer { HubertKernels.addGELU(b.baseAddress!, $0.baseAddress!, count: count, avx512: true) }
            }
            XCTAssertEqual(FloatSweep.bits(base2), FloatSweep.bits(base1), "added GELU, \(count) values")
        }
        for channels in [512, 24, 37] {
            let (k, stride, n) = (10, 5, 2003)
            let x = Tensor(shape: [n], values(n, seed: 11))
            let folded = HubertKernels.foldFirstGroupNorm(
                x, weight: Tensor(shape: [channels, k], values(channels * k, seed: 12, scale: 0.5)),
                bias: Tensor(shape: [channels], values(channels, seed: 13)),
                gamma: Tensor(shape: [channels], values(channels, seed: 14).map { $0 + 1.5 }),
                beta: Tensor(shape: [channels], values(channels, seed: 15)), eps: 1e-5, stride: stride)
            let swift = x.withUnsafeBufferPointer { HubertKernels.firstConvGELU($0.baseAddress!, count: n, folded, avx512: false) }
            let simd = x.withUnsafeBufferPointer { HubertKernels.firstConvGELU($0.baseAddress!, count: n, folded, avx512: true) }
            XCTAssertEqual(FloatSweep.bits(simd.scalars), FloatSweep.bits(swift.scalars), "folded first conv, \(channels) channels")
        }
    }

    /// The strided conv (GEMMs on runs of taps, no copies) against the Tensor module's conv.
    func testStridedConvMatchesConv1d() {
        for (cIn, cOut, k, stride, n, withBias) in [(7, 5, 3, 2, 50, true), (1, 9, 10, 5, 403, false), (16, 16, 2, 2, 33, true),
                                                     (4, 6, 5, 1, 20, false), (3, 2, 4, 7, 40, true)] {
            let x = Tensor(shape: [n, cIn], values(n * cIn, seed: UInt64(n)))
            let torchWeight = Tensor(shape: [cOut, cIn, k], values(cOut * cIn * k, seed: UInt64(k)))
            let bias = withBias ? Tensor(shape: [cOut], values(cOut, seed: 9)) : nil
            let reference = conv1d(x.transposedLastTwo(), weight: torchWeight, bias: bias, stride: stride).transposedLastTwo()
            let got = HubertKernels.stridedConv(x, weight: channelsLastConv1dWeight(torchWeight), bias: bias, stride: stride)
            XCTAssertEqual(got.shape, reference.shape)
            XCTAssertLessThanOrEqual(Golden.maxAbsDiff(got.scalars, reference.scalars).value, 1e-5,
                                     "cIn \(cIn) cOut \(cOut) k \(k) stride \(stride)")
        }
    }

    /// The positional conv (even and odd kernels, several tile sizes) against the Tensor module's grouped conv
    /// with PyTorch's padding and the SamePad trim.
    func testPositionalConvMatchesGroupedConv1d() {
        let saved = HubertKernels.positionalTileBudget
        defer { HubertKernels.positionalTileBudget = saved }
        // Kernels that are and are not whole blocks (B = min(K, 768 / (C/G)); these force B < K too).
        for (channels, groups, k, frames) in [(32, 4, 16, 9), (32, 2, 15, 40), (12, 3, 8, 1), (8, 1, 5, 3),
                                              (256, 2, 13, 30), (400, 2, 9, 25)] {
            let x = Tensor(shape: [frames, channels], values(frames * channels, seed: UInt64(k)))
            let torchWeight = Tensor(shape: [channels, channels / groups, k], values(channels * channels / groups * k, seed: 5))
            let bias = Tensor(shape: [channels], values(channels, seed: 6))
            var reference = conv1d(x.transposedLastTwo(), weight: torchWeight, bias: bias, padding: k / 2, groups: groups)
            reference = reference.slice(axis: 1, 0..<frames).transposedLastTwo()   // SamePad: drop the extra frame
            let weights = PositionalConvWeights(torchWeight: torchWeight, groups: groups)
            for budget in [1, 3 * k * channels / groups, 1 << 20] {
                HubertKernels.positionalTileBudget = budget
                let got = HubertKernels.positionalConv(x, weights: weights, bias: bias)
                XCTAssertEqual(got.shape, [frames, channels])
                // Sums of up to K·C/G = 1664 products: float32 rounding grows with the magnitude of the outputs.
                let scale = max(1, reference.scalars.map(abs).max()!)
                XCTAssertLessThanOrEqual(Golden.maxAbsDiff(got.scalars, reference.scalars).value, 2e-6 * scale,
                                         "channels \(channels) groups \(groups) k \(k) frames \(frames) budget \(budget)")
            }
        }
    }

    /// HuBERT's own attention (long windows) on packed q|k|v against the Tensor module's attention, all heads at
    /// once and one head at a time.
    func testSelfAttentionMatchesTensorAttention() {
        let saved = HubertKernels.attentionScoreBudget, savedLimit = HubertKernels.tensorAttentionLimit
        defer { HubertKernels.attentionScoreBudget = saved; HubertKernels.tensorAttentionLimit = savedLimit }
        HubertKernels.tensorAttentionLimit = 0   // the head batches; short inputs otherwise go to Tensor's attention
        for (batch, length, heads, headDim) in [(1, 37, 4, 8), (2, 9, 3, 5), (1, 1, 2, 4)] {
            let width = heads * headDim
            let packed = Tensor(shape: [batch, length, 3 * width], values(batch * length * 3 * width, seed: 11, scale: 2))
            let scale = 1 / Float(headDim).squareRoot()
            let reference = attention(query: packed.slice(axis: 2, 0..<width),
                                      key: packed.slice(axis: 2, width..<(2 * width)),
                                      value: packed.slice(axis: 2, (2 * width)..<(3 * width)), heads: heads, scale: scale)
            for budget in [1, 2 * length * length, 1 << 21] {
                HubertKernels.attentionScoreBudget = budget
                let got = HubertKernels.selfAttention(packed, heads: heads, scale: scale)
                XCTAssertEqual(got.shape, [batch, length, width])
                XCTAssertLessThanOrEqual(Golden.maxAbsDiff(got.scalars, reference.scalars).value, 1e-5,
                                         "batch \(batch) length \(length) heads \(heads) budget \(budget)")
            }
        }
    }

    /// The feature encoder's time chunking changes nothing but the summation order: every chunk size matches the
    /// goldens (and each other to 1e-5).
    func testChunkedFeatureEncoderMatchesGoldens() throws {
        let saved = HubertFeatureEncoder.chunkFrames
        defer { HubertFeatureEncoder.chunkFrames = saved }
        let input = try HubertFixtures.audio("2.3s", "normalized")
        for name in ["hubert-tiny-a", "hubert-tiny-b"] {
            let model = try HubertModel(folder: HubertFixtures.model(name))
            let expected = try HubertFixtures.floats(name, "2.3s.last_hidden_state.f32")
            var first: [Float]?
            for chunk in [1, 7, 64, 1000] {
                HubertFeatureEncoder.chunkFrames = chunk
                let got = try model.forward(input).lastHiddenState
                assertClose(got, expected, tolerance: HuBERTGoldenTests.tolerance, "\(name) chunks of \(chunk) frames")
                if let first {
                    XCTAssertLessThanOrEqual(Golden.maxAbsDiff(got.scalars, first).value, 1e-5, "\(name) chunk \(chunk)")
                }
                first = first ?? got.scalars
            }
        }
    }
}
