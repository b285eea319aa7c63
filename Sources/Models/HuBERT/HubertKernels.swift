import CVectorKernels
import Foundation
import Tensor

// The hot spots of HuBERT / wav2vec 2.0 that the Tensor module's general ops leave on the table, measured on
// hubert-base at 4 s with 2 threads: the feature encoder's strided convs (GEMMs straight on the input, no im2col),
// its first layer with the GroupNorm folded into the conv (one pass instead of five), the grouped positional conv
// (tap blocks: full-speed GEMMs, 5× less copying), unmasked attention on the packed q|k|v projections, and a
// division-only GELU (no exponential; twice the Tensor module's speed in baseline x86-64 vector code).
// Everything is channels-last ([time, channels] rows), the layout the transformer wants afterwards. The GEMMs are
// OpenBLAS's (threaded by it); the rest splits its rows across cores with `forEachChunk`.

/// HuBERT's kernels (internal; one type so the tuning knobs and helpers sit in one place).
enum HubertKernels {
    /// Cores available to this process.
    static let cores = Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` over `0..<count` in contiguous chunks, in parallel when `count · costPerItem` is at least
    /// 2^16 (about 2^15 flops per thread is the break-even of a dispatch).
    static func forEachChunk(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, width: cores, costPerItem: costPerItem, body)
    }

    /// Strided 1-D convolution on a channels-last sequence, no padding, one group (PyTorch `nn.Conv1d` on the
    /// transposed tensors): `out[t, o] = b[o] + Σ_k Σ_i W[o, k, i] · x[t·s + k, i]`.
    ///
    /// No im2col copy: the patch of output t is the contiguous run `x[t·s ..< t·s + K]` of input rows, so the
    /// input itself is a GEMM operand with row stride s·C. cblas requires the row stride to be at least the inner
    /// extent, so the K taps are split into runs of at most s taps, one sgemm each, accumulating into `out`
    /// (HuBERT: 2 GEMMs for kernel 10 stride 5 and kernel 3 stride 2, 1 for kernel 2 stride 2).
    /// - Parameters:
    ///   - x: `[L, C_in]`.
    ///   - weight: `[C_out, K, C_in]` (`channelsLastConv1dWeight` of PyTorch's `[C_out, C_in, K]`).
    ///   - bias: `[C_out]` or nil.
    /// - Returns: `[⌊(L − K) / s⌋ + 1, C_out]`.
    static func stridedConv(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int) -> Tensor {
        precondition(x.rank == 2 && weight.rank == 3 && weight.shape[2] == x.shape[1] && x.shape[0] >= weight.shape[1],
                     "stridedConv: input \(x.shape), weight \(weight.shape)")
        let (length, cIn) = (x.shape[0], x.shape[1])
        let (cOut, k) = (weight.shape[0], weight.shape[1])
        let outLength = (length - k) / stride + 1
        var out = Tensor(shape: [outLength, cOut], repeating: 0)
        out.withUnsafeMutableBufferPointer { o in
            let o = o.baseAddress!
            if let bias {
                bias.withUnsafeBufferPointer { b in
                    for t in 0..<outLength { (o + t * cOut).update(from: b.baseAddress!, count: cOut) }
                }
            }
            x.withUnsafeBufferPointer { px in
                var tap = 0
                while tap < k {
                    let run = Swift.min(stride, k - tap)
                    BLAS.weightProduct(m: outLength, k: run * cIn, a: px.baseAddress! + tap * cIn, lda: stride * cIn,
                                       weight: weight, column: tap * cIn, accumulate: true,
                                       c: o, ldc: cOut)   // `out` starts as zeros or the bias
                    tap += run
                }
            }
        }
        return out
    }
}

// MARK: - GELU

extension HubertKernels {
    /// Exact-form GELU `x · ½(1 + erf(x/√2))` (PyTorch's default `gelu`), branch-free so loops over it vectorise.
    /// erf is a rational approximation fitted (least squares, reweighted towards minimax) for this code:
    /// `erf(z) ≈ z·P(z²)/Q(z²)` with P and Q of degree 5 in z², on z clamped to [−4, 4] (beyond, erf is ±1 in
    /// float32); |error| ≤ 1.5e−7 in exact arithmetic, ≤ 4e−7 evaluated in float32. So the result is within
    /// 2.5e−7·max(1, |x|) of the exact GELU, with one division and no exponential: twice as fast as the Tensor
    /// module's exp-based GELU.
    @inline(__always)
    static func gelu(_ x: Float) -> Float {
        let z = Swift.min(Swift.max(x * 0.707_106_781_186_547_5, -4), 4)
        let u = z * z
        var p: Float = 2.140_770_267e-6
        p = p * u + 2.842_173_543e-4
        p = p * u + 3.556_430_884e-3
        p = p * u + 5.210_066_258e-2
        p = p * u + 1.849_616_764e-1
        p = p * u + 1.128_379_142
        var q: Float = 3.900_726_912e-5
        q = q * u + 1.119_752_726e-3
        q = q * u + 1.454_115_013e-2
        q = q * u + 1.119_251_081e-1
        q = q * u + 4.972_509_537e-1
        q = q * u + 1
        let erf = Swift.min(Swift.max(z * p / q, -1), 1)   // exactly ±1 in the tails, so GELU(−∞) = 0
        return 0.5 * x * (1 + erf)
    }

    /// `e^(−a)` for `a ≥ 0` (0 beyond 87), for the softmax: `a·log₂e = n + f` with n an integer, `2^(−n)`
    /// through the exponent bits and `e^(−r)` for `r = a − n·ln 2 ∈ [−ln2/2, ln2/2]` by its degree-6 Taylor
    /// polynomial (relative error below 2e−7 before float rounding; 2.3e−7 measured).
    @inline(__always)
    static func expOfNegative(_ a: Float) -> Float {
        let ac = Swift.min(a, 87)
        let magic: Float = 12_582_912   // 1.5 · 2^23: adding it rounds to an integer kept in the low mantissa bits
        let shifted = ac * 1.442_695_040_888_963_4 + magic
        let n = Int32(bitPattern: shifted.bitPattern &- magic.bitPattern)
        let fn = shifted - magic
        let r = (fn * 0.693_359_375 - ac) + fn * -2.121_944_400_546_905_8e-4   // −(a − n·ln 2), two-part ln 2
        var y: Float = 1.0 / 720
        y = y * r + 1.0 / 120
        y = y * r + 1.0 / 24
        y = y * r + 1.0 / 6
        y = y * r + 0.5
        y = y * r + 1
        y = y * r + 1
        let scale = Float(bitPattern: UInt32(bitPattern: (127 &- n) &<< 23))
        return a >= 87 ? 0 : y * scale
    }

    /// GELU in place over `count` floats, split across cores.
    static func applyGELU(_ p: UnsafeMutablePointer<Float>, count: Int, avx512: Bool = VectorKernels.avx512) {
        forEachChunk(count, costPerItem: 40) { range in
            if avx512 { vec_hubert_gelu_avx512(p + range.lowerBound, range.count); return }
            for i in range { p[i] = gelu(p[i]) }
        }
    }

    /// `x += GELU(y)` elementwise (the positional embedding's activation and residual add in one pass).
    static func addGELU(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int, avx512: Bool = VectorKernels.avx512) {
        forEachChunk(count, costPerItem: 40) { range in
            if avx512 { vec_hubert_add_gelu_avx512(x + range.lowerBound, y + range.lowerBound, range.count); return }
            for i in range { x[i] += gelu(y[i]) }
        }
    }
}

// MARK: - The first conv with its GroupNorm

/// The first conv with its per-channel GroupNorm folded in (see `HubertKernels.foldFirstGroupNorm`): for one
/// input waveform, `y[t, c] = GELU(bias[c] + Σ_k weight[k, c] · x[t·s + k])` is exactly that layer's output.
struct FoldedFirstConv {
    let weight: [Float]   // [K, C]: the conv weight scaled per channel, transposed so loops run over channels
    let bias: [Float]     // [C]
    let kernel: Int
    let stride: Int
}

extension HubertKernels {
    /// Folds the GroupNorm of the feature encoder's first layer (`feat_extract_norm == "group"`: one group per
    /// channel, each channel normalised over time) into its conv, for one waveform.
    ///
    /// The conv (1 input channel, kernel K, stride s) is linear in the patches `x_t = x[t·s ..< t·s + K]`, so
    /// channel c's mean over time is `b_c + w_c · m` and its biased variance is `w_cᵀ Σ w_c`, with m and Σ the
    /// mean and covariance of the patches: a K × K statistic accumulated (centred, in Double) before any conv
    /// output exists. With `scale_c = γ_c / √(var_c + eps)`, the layer is `GELU(b'_c + w'_c · x_t)`,
    /// `w'_c = w_c · scale_c`, `b'_c = β_c + (b_c − mean_c) · scale_c`: the statistics PyTorch computes in two
    /// passes over the conv output, up to float32 rounding, and no pass over the output at all. Because the
    /// statistics cover the whole waveform, the folded layer can then run on any stretch of it.
    /// - Parameters:
    ///   - samples: `[N]`, N ≥ K.
    ///   - weight: `[C, K]` (PyTorch's `[C, 1, K]`); bias: `[C]` or nil.
    ///   - gamma, beta: the GroupNorm's affine `[C]`.
    static func foldFirstGroupNorm(_ samples: Tensor, weight: Tensor, bias: Tensor?, gamma: Tensor, beta: Tensor,
                                   eps: Float, stride: Int) -> FoldedFirstConv {
        let n = samples.count, (channels, k) = (weight.shape[0], weight.shape[1])
        precondition(n >= k, "foldFirstGroupNorm: \(n) samples for kernel \(k)")
        let length = (n - k) / stride + 1
        // Patch statistics: mean m[a] and covariance S[a][b] of x[t·s + a] over t, centred on the mean sample.
        var patchMean = [Double](repeating: 0, count: k)
        var covariance = [Double](repeating: 0, count: k * k)
        samples.withUnsafeBufferPointer { x in
            var center = 0.0
            for i in 0..<n { center += Double(x[i]) }
            center /= Double(n)
            var sums = [Double](repeating: 0, count: k)
            var products = [Double](repeating: 0, count: k * k)
            var patch = [Double](repeating: 0, count: k)
            for t in 0..<length {
                let base = t * stride
                for a in 0..<k { patch[a] = Double(x[base + a]) - center }
                for a in 0..<k {
                    sums[a] += patch[a]
                    let pa = patch[a]
                    for b in a..<k { products[a * k + b] += pa * patch[b] }
                }
            }
            let count = Double(length)
            for a in 0..<k { patchMean[a] = sums[a] / count }
            for a in 0..<k {
                for b in a..<k {
                    let cov = products[a * k + b] / count - patchMean[a] * patchMean[b]
                    covariance[a * k + b] = cov
                    covariance[b * k + a] = cov
                }
            }
            for a in 0..<k { patchMean[a] += center }
        }
        var foldedWeight = [Float](repeating: 0, count: k * channels)
        var foldedBias = [Float](repeating: 0, count: channels)
        weight.withUnsafeBufferPointer { w in
            let g = gamma.scalars, be = beta.scalars, b = bias?.scalars
            for c in 0..<channels {
                var mean = Double(b?[c] ?? 0), variance = 0.0
                for a in 0..<k {
                    let wa = Double(w[c * k + a])
                    mean += wa * patchMean[a]
                    var row = 0.0
                    for bb in 0..<k { row += covariance[a * k + bb] * Double(w[c * k + bb]) }
                    variance += wa * row
                }
                let scale = Double(g[c]) / (Swift.max(variance, 0) + Double(eps)).squareRoot()
                for a in 0..<k { foldedWeight[a * channels + c] = Float(Double(w[c * k + a]) * scale) }
                foldedBias[c] = Float(Double(be[c]) + (Double(b?[c] ?? 0) - mean) * scale)
            }
        }
        return FoldedFirstConv(weight: foldedWeight, bias: foldedBias, kernel: k, stride: stride)
    }

    /// The folded first layer on `count` samples at `x`: `y[t, c] = GELU(b'_c + Σ_k w'[k, c] · x[t·s + k])`,
    /// one pass that writes each output once (the GELU is applied while the row is in cache).
    /// - Returns: `[⌊(count − K) / s⌋ + 1, C]`.
    static func firstConvGELU(_ x: UnsafePointer<Float>, count: Int, _ f: FoldedFirstConv, avx512: Bool = VectorKernels.avx512) -> Tensor {
        let channels = f.bias.count, k = f.kernel, stride = f.stride
        let length = (count - k) / stride + 1
        var out = Tensor(shape: [length, channels], repeating: 0)
        out.withUnsafeMutableBufferPointer { o in
            let o = o.baseAddress!
            f.weight.withUnsafeBufferPointer { fw in
                f.bias.withUnsafeBufferPointer { fb in
                    let fw = fw.baseAddress!, fb = fb.baseAddress!
                    forEachChunk(length, costPerItem: channels * (2 * k + 40)) { range in
                        if avx512 {
                            vec_hubert_first_conv_gelu_avx512(x, stride, k, fw, fb, channels, o, range.lowerBound, range.upperBound)
                            return
                        }
                        for t in range {
                            let row = o + t * channels, patch = x + t * stride
                            row.update(from: fb, count: channels)
                            for a in 0..<k {
                                let xa = patch[a], wa = fw + a * channels
                                for c in 0..<channels { row[c] += wa[c] * xa }
                            }
                            for c in 0..<channels { row[c] = gelu(row[c]) }
                        }
                    }
                }
            }
        }
        return out
    }
}

// MARK: - The positional conv

/// The positional conv's weights, rearranged for `HubertKernels.positionalConv` (made once at load).
struct PositionalConvWeights {
    /// Per group g and tap block j, the `[C/G, B · C/G]` matrix of taps `jB ..< jB + B` (taps ≥ K zero):
    /// row `(g·J + j)·(C/G) + o`, column `kk·(C/G) + i` holds PyTorch's `weight[g·C/G + o, i, jB + kk]`.
    /// Shape `[C · J, B · C/G]`, J = ⌈K / B⌉.
    let blocks: Tensor
    let kernel: Int   // K
    let block: Int    // B, taps per block
    let groups: Int   // G

    /// - Parameter torchWeight: the folded conv weight as PyTorch holds it, `[C, C/G, K]`.
    init(torchWeight: Tensor, groups: Int) {
        let (channels, perGroup, k) = (torchWeight.shape[0], torchWeight.shape[1], torchWeight.shape[2])
        // B·C/G ≈ 768 makes the GEMM's inner extent and the im2col rows a good size (B = 16 for hubert-base).
        let block = Swift.max(1, Swift.min(k, 768 / perGroup))
        let blockCount = (k + block - 1) / block
        var blocks = Tensor(shape: [channels * blockCount, block * perGroup], repeating: 0)
        blocks.withUnsafeMutableBufferPointer { dst in
            torchWeight.withUnsafeBufferPointer { w in
                for g in 0..<groups {
                    for j in 0..<blockCount {
                        for o in 0..<perGroup {
                            let row = dst.baseAddress! + ((g * blockCount + j) * perGroup + o) * block * perGroup
                            for kk in 0..<block where j * block + kk < k {
                                for i in 0..<perGroup {
                                    row[kk * perGroup + i] = w[((g * perGroup + o) * perGroup + i) * k + j * block + kk]
                                }
                            }
                        }
                    }
                }
            }
        }
        self.blocks = blocks
        self.kernel = k
        self.block = block
        self.groups = groups
    }
}

extension HubertKernels {
    /// Floats in one im2col tile of `positionalConv` (a tuning knob; tests lower it to exercise tiling).
    nonisolated(unsafe) static var positionalTileBudget = 1 << 21

    /// Grouped, zero-padded, stride-1 1-D convolution on a channels-last sequence that keeps the length (the
    /// positional conv with `HubertSamePadLayer`'s trim already applied): `out[t, o] = b[o] +
    /// Σ_k Σ_i W[o, i, k] · x[t + k − p, g·I + i]` for o in group g (I = C/G inputs), `p = K / 2`, t in `0..<T`
    /// (for even K this is PyTorch's T + 1 outputs without the last).
    ///
    /// A plain im2col would copy K·I floats per output row per group (hubert-base: 24 KB, 78 MB for 4 s) and run
    /// narrow GEMMs (N = I = 48). Instead the K taps are cut into J blocks of B: with the group's zero-padded
    /// input `P`, one GEMM `Y = U · Wᵀ` computes, for every row u of `U[u] = P[u ..< u + B]` (B·I floats, an
    /// im2col over B taps only) and every block j, the partial sums `Y[u, j, o] = Σ_{kk<B} W_o[jB + kk] · P[u + kk]`;
    /// then `out[t, o] = b[o] + Σ_j Y[t + jB, j, o]`. hubert-base: M = T + 112, N = 384, K = 768 per group, 1.6×
    /// the flops of the direct form at 4 s (1.1× at 20 s) but at full GEMM speed, and a 5× smaller copy.
    /// - Parameters:
    ///   - x: `[T, C]`.
    ///   - weights: from the PyTorch weight, see `PositionalConvWeights`.
    ///   - bias: `[C]`.
    /// - Returns: `[T, C]` (before the activation).
    static func positionalConv(_ x: Tensor, weights: PositionalConvWeights, bias: Tensor) -> Tensor {
        let (length, channels) = (x.shape[0], x.shape[1])
        let (groups, block) = (weights.groups, weights.block)
        let perGroup = channels / groups
        let blockCount = weights.blocks.shape[0] / channels
        let padded = blockCount * block   // K rounded up to whole blocks (the extra taps have zero weights)
        precondition(perGroup * groups == channels && weights.blocks.shape == [channels * blockCount, block * perGroup],
                     "positionalConv: input \(x.shape), weights \(weights.blocks.shape), \(groups) groups")
        let pad = weights.kernel / 2, patch = block * perGroup, columns = blockCount * perGroup
        let halo = padded - block   // extra U rows per tile
        let tile = Swift.max(1, Swift.min(length, positionalTileBudget / patch - halo))
        var out = Tensor(shape: [length, channels], repeating: 0)
        let inputCount = (length + padded - 1) * perGroup, uCount = (tile + halo) * patch
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: inputCount + uCount + (tile + halo) * columns)
        defer { buffer.deallocate() }
        let p = buffer, u = buffer + inputCount, y = u + uCount   // P (borders stay zero), U, Y
        p.initialize(repeating: 0, count: inputCount)
        out.withUnsafeMutableBufferPointer { o in
            let o = o.baseAddress!
            bias.withUnsafeBufferPointer { b in
                for t in 0..<length { (o + t * channels).update(from: b.baseAddress!, count: channels) }
            }
            x.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                for g in 0..<groups {
                    for t in 0..<length {
                        (p + (t + pad) * perGroup).update(from: px + t * channels + g * perGroup, count: perGroup)
                    }
                    var t0 = 0
                    while t0 < length {
                        let rows = Swift.min(tile, length - t0), m = rows + halo
                        forEachChunk(m, costPerItem: patch) { range in
                            for r in range { (u + r * patch).update(from: p + (t0 + r) * perGroup, count: patch) }
                        }
                        BLAS.weightProduct(m: m, k: patch, a: u, lda: patch, weight: weights.blocks,
                                           rows: (g * columns)..<((g + 1) * columns), accumulate: false,
                                           c: y, ldc: columns)
                        forEachChunk(rows, costPerItem: columns) { range in
                            for r in range {
                                let dst = o + (t0 + r) * channels + g * perGroup
                                for j in 0..<blockCount {
                                    let src = y + (r + j * block) * columns + j * perGroup
                                    for i in 0..<perGroup { dst[i] += src[i] }
                                }
                            }
                        }
                        t0 += rows
                    }
                }
            }
        }
        return out
    }
}

// MARK: - Attention

extension HubertKernels {
    /// Up to this T·D, `selfAttention` uses the Tensor module's row-blocked attention (a knob: tests set 0 to
    /// exercise the head batches below on short inputs).
    nonisolated(unsafe) static var tensorAttentionLimit = 1 << 14

    /// Floats of attention scores held at once (a tuning knob; tests lower it to run heads in several batches).
    nonisolated(unsafe) static var attentionScoreBudget = 1 << 21

    /// The unnormalised softmax of one row in place, `e^(x − max)`; returns `1 / Σ e^(x − max)` (the caller
    /// scales the much smaller `softmax · v` rows instead of the row itself). The sum runs in 8 float lanes.
    @inline(__always)
    static func exponentiateRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0   // four chains: the compares overlap
        var j = 0
        while j + 4 <= n {
            m0 = Swift.max(m0, row[j]); m1 = Swift.max(m1, row[j + 1])
            m2 = Swift.max(m2, row[j + 2]); m3 = Swift.max(m3, row[j + 3])
            j += 4
        }
        while j < n { m0 = Swift.max(m0, row[j]); j += 1 }
        let m = Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
        for i in 0..<n { row[i] = expOfNegative(m - row[i]) }
        let raw = UnsafeRawPointer(row)
        var sums = SIMD8<Float>()
        j = 0
        while j + 8 <= n {
            sums += raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
            j += 8
        }
        var sum = sums.sum()
        while j < n { sum += row[j]; j += 1 }
        return 1 / sum
    }

    /// Unmasked multi-head self-attention on packed projections (transformers' `eager_attention_forward` /
    /// SDPA without a mask): per head `softmax(scale · q·kᵀ) · v`, heads concatenated.
    ///
    /// Reads each head straight out of `[q | k | v]` (row stride 3H, no copies). Heads run in batches whose
    /// scores fit `attentionScoreBudget`: one sgemm per head for the scores, then every row's `e^(s − max)` split
    /// across cores (the part the GEMM threads do not cover), one sgemm per head into the output columns, and
    /// last the division by the row sums, on the D-wide output rows rather than the T-wide score rows.
    /// - Parameters:
    ///   - qkv: `[B, T, 3H]`, the q, k and v projections side by side.
    ///   - heads: the number of heads; H must divide by it.
    ///   - scale: multiplies the scores (`D^−½`).
    /// - Returns: `[B, T, H]`.
    static func selfAttention(_ qkv: Tensor, heads: Int, scale: Float) -> Tensor {
        let (batch, length, packed) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let width = packed / 3, headDim = width / heads
        precondition(packed == 3 * width && width == heads * headDim, "selfAttention: \(qkv.shape), \(heads) heads")
        // Up to 256 frames (5 s) at D = 64, Tensor's attention splits every head into row blocks whose products
        // OpenBLAS keeps on the calling thread, and runs the blocks in parallel: OpenBLAS's own threads then
        // never wake, so they do not spin beside the AMX weight products (about 8% of a 4 s clip's time).
        if length * headDim <= tensorAttentionLimit {
            return attention(packedQKV: qkv, heads: heads, scale: scale)
        }
        let perBatch = Swift.max(1, Swift.min(heads, attentionScoreBudget / Swift.max(1, length * length)))
        var out = Tensor(shape: [batch, length, width], repeating: 0)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: perBatch * length * (length + 1))
        defer { buffer.deallocate() }
        let scores = buffer, inverseSums = buffer + perBatch * length * length
        out.withUnsafeMutableBufferPointer { o in
            qkv.withUnsafeBufferPointer { p in
                for b in 0..<batch {
                    let q = p.baseAddress! + b * length * packed, k = q + width, v = q + 2 * width
                    let ob = o.baseAddress! + b * length * width
                    var h0 = 0
                    while h0 < heads {
                        let count = Swift.min(perBatch, heads - h0)
                        for i in 0..<count {
                            let h = (h0 + i) * headDim
                            BLAS.sgemm(transA: false, transB: true, m: length, n: length, k: headDim, alpha: scale,
                                       a: q + h, lda: packed, b: k + h, ldb: packed,
                                       c: scores + i * length * length, ldc: length)
                        }
                        forEachChunk(count * length, costPerItem: 30 * length) { rows in
                            for r in rows { inverseSums[r] = exponentiateRow(scores + r * length, length) }
                        }
                        for i in 0..<count {
                            let h = (h0 + i) * headDim
                            BLAS.sgemm(transA: false, transB: false, m: length, n: headDim, k: length,
                                       a: scores + i * length * length, lda: length, b: v + h, ldb: packed,
                                       beta: 1, c: ob + h, ldc: width)   // adds to zeros: no zeroing pass
                        }
                        // Normalise: row t of head h times 1 / Σ_j e^(s_tj − max_t).
                        forEachChunk(length, costPerItem: count * headDim) { rows in
                            for t in rows {
                                for i in 0..<count {
                                    let dst = ob + t * width + (h0 + i) * headDim
                                    let inverse = inverseSums[i * length + t]
                                    for d in 0..<headDim { dst[d] *= inverse }
                                }
                            }
                        }
                        h0 += count
                    }
                }
            }
        }
        return out
    }
}
