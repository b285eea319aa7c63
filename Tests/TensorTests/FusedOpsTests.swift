import XCTest
import TestSupport
@testable import Tensor

/// The fused ops (`attention(packedQKV:)`, `linear(_:weight:bias:activation:)`, `linearResidualLayerNorm`) against
/// the unfused ops or a float64 loop, on shapes that reach each of the attention's work splits: whole heads per
/// parallel unit, heads split into blocks of query rows, and one head at a time for long sequences.
final class FusedOpsTests: XCTestCase {
    /// Deterministic values in [−scale, scale).
    func values(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    /// Multi-head attention in float64 on a packed `[B, L, 3·W]` projection; `mask` is `[B, L]` or `[B, L, L]`.
    func referenceAttention(_ qkv: [Float], batch: Int, length: Int, heads: Int, headDim: Int, scale: Float,
                            mask: [Float]?, perQueryMask: Bool) -> [Float] {
        let width = heads * headDim, stride = 3 * width
        var out = [Float](repeating: 0, count: batch * length * width)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<length {
                    let qi = (b * length + i) * stride + h * headDim
                    var scores = [Double](repeating: 0, count: length)
                    for j in 0..<length {
                        let kj = (b * length + j) * stride + width + h * headDim
                        var dot = 0.0
                        for d in 0..<headDim { dot += Double(qkv[qi + d]) * Double(qkv[kj + d]) }
                        scores[j] = dot * Double(scale)
                        if let mask { scores[j] += Double(mask[perQueryMask ? (b * length + i) * length + j : b * length + j]) }
                    }
                    let top = scores.max()!
                    let e = scores.map { Foundation.exp($0 - top) }
                    let sum = e.reduce(0, +)
                    for d in 0..<headDim {
                        var acc = 0.0
                        for j in 0..<length { acc += e[j] / sum * Double(qkv[(b * length + j) * stride + 2 * width + h * headDim + d]) }
                        out[(b * length + i) * width + h * headDim + d] = Float(acc)
                    }
                }
            }
        }
        return out
    }

    func testPackedAttentionMatchesFloat64AndTheUnpackedOp() {
        // (batch, length, heads, headDim, mask): whole heads per unit; blocks of 32 query rows (128·64 per head);
        // one head at a time (300·64 > 2^14); padding and per-query masks.
        let cases: [(Int, Int, Int, Int, String)] = [
            (3, 5, 2, 4, "none"), (2, 24, 12, 8, "padding"), (1, 128, 2, 64, "none"), (1, 300, 1, 64, "padding"),
            (2, 40, 3, 8, "per-query"),
        ]
        for (batch, length, heads, headDim, maskKind) in cases {
            let width = heads * headDim
            let packed = Tensor(shape: [batch, length, 3 * width],
                                values(batch * length * 3 * width, seed: UInt64(length), scale: 2))
            var mask: Tensor?
            switch maskKind {
            case "padding":
                // Row b keeps its first length − 3b tokens.
                let keep = (0..<batch).flatMap { b in (0..<length).map { Float($0 < length - 3 * b ? 1 : 0) } }
                mask = additiveAttentionMask(Tensor(shape: [batch, length], keep))
            case "per-query":
                mask = Tensor(shape: [batch, length, length], values(batch * length * length, seed: 7, scale: 3))
            default: break
            }
            let scale = 1 / Float(headDim).squareRoot()
            let label = "B=\(batch) L=\(length) H=\(heads) D=\(headDim) mask=\(maskKind)"
            let expected = referenceAttention(packed.scalars, batch: batch, length: length, heads: heads,
                                              headDim: headDim, scale: scale, mask: mask?.scalars,
                                              perQueryMask: maskKind == "per-query")
            let got = attention(packedQKV: packed, heads: heads, scale: scale, mask: mask)
            XCTAssertEqual(got.shape, [batch, length, width], label)
            let diff = Golden.maxAbsDiff(got.scalars, expected)
            XCTAssertLessThan(diff.value, 2e-5, "\(label): largest difference at \(diff.index)")
            let unpacked = attention(query: packed.slice(axis: 2, 0..<width),
                                     key: packed.slice(axis: 2, width..<(2 * width)),
                                     value: packed.slice(axis: 2, (2 * width)..<(3 * width)),
                                     heads: heads, scale: scale, mask: mask)
            XCTAssertEqual(unpacked.scalars, got.scalars, "\(label): packed and unpacked differ")
        }
    }

    func testOneThreadGivesTheSameAttention() {
        let packed = Tensor(shape: [1, 128, 3 * 128], values(128 * 3 * 128, seed: 3))
        let parallel = attention(packedQKV: packed, heads: 2, scale: 0.125)
        BLAS.setThreads(1)
        defer { BLAS.setThreads(Parallel.cores) }
        XCTAssertEqual(Parallel.threads, 1)
        XCTAssertEqual(attention(packedQKV: packed, heads: 2, scale: 0.125).scalars, parallel.scalars)
    }

    func testLinearWithActivationIsLinearThenActivation() {
        let x = Tensor(shape: [2, 3, 16], values(96, seed: 1, scale: 3))
        let w = Tensor(shape: [40, 16], values(640, seed: 2))
        let b = Tensor(shape: [40], values(40, seed: 3))
        for activation in [Activation.gelu, .quickGELU, .relu, .sigmoid, .tanh] {
            var expected = linear(x, weight: w, bias: b)
            expected.apply(activation)
            XCTAssertEqual(linear(x, weight: w, bias: b, activation: activation).scalars, expected.scalars, "\(activation)")
        }
        XCTAssertEqual(linear(x, weight: w, bias: b, activation: .gelu).scalars, gelu(linear(x, weight: w, bias: b)).scalars)
    }

    func testLinearResidualLayerNormIsTheComposition() {
        let x = Tensor(shape: [5, 7, 48], values(5 * 7 * 48, seed: 4, scale: 2))
        let w = Tensor(shape: [32, 48], values(32 * 48, seed: 5, scale: 0.3))
        let b = Tensor(shape: [32], values(32, seed: 6))
        let residual = Tensor(shape: [5, 7, 32], values(5 * 7 * 32, seed: 8, scale: 4))
        let gamma = Tensor(shape: [32], values(32, seed: 9)), beta = Tensor(shape: [32], values(32, seed: 10))
        for bias in [b, nil] {
            let expected = layerNorm(linear(x, weight: w, bias: bias) + residual, weight: gamma, bias: beta, eps: 1e-12)
            let got = linearResidualLayerNorm(x, weight: w, bias: bias, residual: residual, normWeight: gamma,
                                              normBias: beta, eps: 1e-12)
            XCTAssertEqual(got.shape, [5, 7, 32])
            let diff = Golden.maxAbsDiff(got.scalars, expected.scalars)
            XCTAssertLessThan(diff.value, 1e-5, "bias \(bias == nil ? "nil" : "given"): largest difference at \(diff.index)")
        }
    }
}
