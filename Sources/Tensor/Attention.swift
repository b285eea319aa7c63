import Foundation

/// Softmax of one row in place, subtracting the maximum first; with `mask`, of `row + mask` (an additive mask).
@inline(__always)
func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, adding mask: UnsafePointer<Float>? = nil) {
    guard n > 0 else { return }
    if let mask {
        for i in 0..<n { row[i] += mask[i] }
    }
    var m = -Float.infinity
    for i in 0..<n where row[i] > m { m = row[i] }
    if m == -Float.infinity { m = 0 }  // an all −∞ row gives NaN, like PyTorch; avoid (−∞) − (−∞) here only
    for i in 0..<n { row[i] = fastExp(row[i] - m) }
    let inv = Float(1 / sumDouble(row, n))
    for i in 0..<n { row[i] *= inv }
}

extension Tensor {
    /// Softmax along `axis` in place (default: the last), `exp(x − max) / Σ exp(x − max)`.
    public mutating func applySoftmax(axis: Int = -1) {
        let axis = axis < 0 ? rank + axis : axis
        precondition(axis >= 0 && axis < rank, "softmax axis \(axis) for shape \(shape)")
        makeUnique()
        let n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        guard n > 0, inner > 0 else { return }
        let outer = count / (n * inner)
        let p = mutableBase
        if inner == 1 {
            Parallel.forEachChunk(outer, costPerItem: n * 10) { range in
                for r in range { softmaxRow(p + r * n, n) }
            }
            return
        }
        // Strided axis (e.g. MTCNN's Softmax(dim=1) over [N, 2, H, W]): gather each fibre into a buffer.
        Parallel.forEachChunk(outer * inner, costPerItem: n * 10) { range in
            var fibre = [Float](repeating: 0, count: n)
            fibre.withUnsafeMutableBufferPointer { f in
                for idx in range {
                    let o = idx / inner, i = idx % inner
                    let start = p + o * n * inner + i
                    for j in 0..<n { f[j] = start[j * inner] }
                    softmaxRow(f.baseAddress!, n)
                    for j in 0..<n { start[j * inner] = f[j] }
                }
            }
        }
    }
}

/// Softmax along `axis` (default: the last).
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    var y = x
    y.applySoftmax(axis: axis)
    return y
}

/// The additive attention mask transformers builds from a 0/1 padding mask: 0 where `mask` is 1 (attend),
/// `fill` where it is 0. `fill` defaults to `-Float.greatestFiniteMagnitude` (`torch.finfo(float32).min`, recent
/// transformers); old versions used −10000. Either gives padding ≈ 0 probability.
/// - Parameter mask: `[B, L]` of 0/1 (as floats).
/// - Returns: `[B, L]`, for `attention(..., mask:)`.
public func additiveAttentionMask(_ mask: Tensor, fill: Float = -Float.greatestFiniteMagnitude) -> Tensor {
    var out = mask
    out.mapInPlace { $0 != 0 ? 0 : fill }
    return out
}

/// Multi-head scaled dot-product attention, heads concatenated:
/// `out[b, i, h·D + d] = Σ_j softmax_j(scale · q_bh[i]·k_bh[j] + mask[b, (i,) j]) · v_bh[j, d]`.
///
/// Reads each head straight out of the packed projections (sgemm with row stride H·D): no reshapes or copies.
/// Per (batch, head): one sgemm for the scores, a masked softmax per row, one sgemm into the output; the heads run
/// in parallel (see `attention(packedQKV:heads:scale:mask:)`).
/// - Parameters:
///   - query: `[B, Lq, H·D]`; key, value: `[B, Lk, H·D]` (the outputs of the q/k/v projections).
///   - heads: H.
///   - scale: multiplies the scores (1/√D for BERT, HuBERT and CLIP; 0.125 for D = 64).
///   - mask: additive, `[B, Lk]` (broadcast over heads and queries, BERT's padding mask) or `[B, Lq, Lk]`; nil for none.
/// - Returns: `[B, Lq, H·D]`.
public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                      mask: Tensor? = nil) -> Tensor {
    precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention needs [B, L, H·D] tensors")
    let batch = query.shape[0], lq = query.shape[1], width = query.shape[2], lk = key.shape[1]
    precondition(key.shape == [batch, lk, width] && value.shape == key.shape,
                 "attention: query \(query.shape), key \(key.shape), value \(value.shape)")
    precondition(heads > 0 && width % heads == 0, "attention: width \(width) not divisible by \(heads) heads")
    let perQueryMask = checkAttentionMask(mask, batch: batch, lq: lq, lk: lk)
    let out = Tensor(uninitializedShape: [batch, lq, width])
    query.withUnsafeBufferPointer { q in
        key.withUnsafeBufferPointer { k in
            value.withUnsafeBufferPointer { v in
                withOptionalPointer(mask) { m in
                    let layout = AttentionLayout(batch: batch, lq: lq, lk: lk, heads: heads, headDim: width / heads,
                                                 qStride: width, kvStride: width, outStride: width)
                    multiHeadAttention(layout, q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!, scale: scale,
                                       mask: m, perQueryMask: perQueryMask, out: out.mutableBase)
                }
            }
        }
    }
    return out
}

/// Multi-head self-attention on a fused q/k/v projection, `x·[Wq; Wk; Wv]ᵀ + [bq; bk; bv]`: the same as
/// `attention(query:key:value:heads:scale:mask:)` on the three thirds of the last axis, without copying them out.
///
/// ```swift
/// let qkv = linear(x, weight: wqkv, bias: bqkv)     // [B, L, 3·H·D], one GEMM for all three projections
/// let context = attention(packedQKV: qkv, heads: 12, scale: 0.125, mask: additiveMask)   // [B, L, H·D]
/// ```
///
/// Work: every (batch, head) pair is split into blocks of query rows small enough that OpenBLAS computes their two
/// products on the calling thread, and the blocks run in parallel (`BLAS.setThreads` of them at once): many short
/// rows (32 × 24 tokens: 384 heads) and a few long ones (1 × 128: 12 heads of 4 blocks) both fill the cores.
/// When a block would be under 16 rows (long sequences: Lk·D > 2^14), the heads run one after another instead,
/// each product threaded by OpenBLAS.
/// - Parameters:
///   - packedQKV: `[B, L, 3·H·D]`: queries, then keys, then values along the last axis.
///   - heads: H.
///   - scale: multiplies the scores (1/√D).
///   - mask: additive, `[B, L]` or `[B, L, L]`; nil for none.
/// - Returns: `[B, L, H·D]`.
public func attention(packedQKV: Tensor, heads: Int, scale: Float, mask: Tensor? = nil) -> Tensor {
    precondition(packedQKV.rank == 3 && packedQKV.shape[2] % 3 == 0,
                 "attention(packedQKV:) needs [B, L, 3·H·D], got \(packedQKV.shape)")
    let batch = packedQKV.shape[0], length = packedQKV.shape[1], width = packedQKV.shape[2] / 3
    precondition(heads > 0 && width % heads == 0, "attention: width \(width) not divisible by \(heads) heads")
    let perQueryMask = checkAttentionMask(mask, batch: batch, lq: length, lk: length)
    let out = Tensor(uninitializedShape: [batch, length, width])
    packedQKV.withUnsafeBufferPointer { p in
        withOptionalPointer(mask) { m in
            let base = p.baseAddress!
            let layout = AttentionLayout(batch: batch, lq: length, lk: length, heads: heads, headDim: width / heads,
                                         qStride: 3 * width, kvStride: 3 * width, outStride: width)
            multiHeadAttention(layout, q: base, k: base + width, v: base + 2 * width, scale: scale, mask: m,
                               perQueryMask: perQueryMask, out: out.mutableBase)
        }
    }
    return out
}

/// Checks an attention mask's shape; returns whether it is per query (`[B, Lq, Lk]`) rather than `[B, Lk]`.
private func checkAttentionMask(_ mask: Tensor?, batch: Int, lq: Int, lk: Int) -> Bool {
    guard let mask else { return false }
    let perQuery = mask.shape == [batch, lq, lk]
    precondition(perQuery || mask.shape == [batch, lk],
                 "attention mask must be [B, Lk] = \([batch, lk]) or [B, Lq, Lk] = \([batch, lq, lk]), got \(mask.shape)")
    return perQuery
}

/// Where the heads are: token t of batch b starts at `q + (b·Lq + t)·qStride` (keys and values likewise with
/// `kvStride`); head h is the `D` floats from `h·D` in every row.
struct AttentionLayout {
    var batch: Int, lq: Int, lk: Int, heads: Int, headDim: Int
    var qStride: Int, kvStride: Int, outStride: Int
}

/// The attention of `attention(query:...)` and `attention(packedQKV:...)` over raw rows (see `AttentionLayout`).
func multiHeadAttention(_ s: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                        v: UnsafePointer<Float>, scale: Float, mask: UnsafePointer<Float>?, perQueryMask: Bool,
                        out: UnsafeMutablePointer<Float>) {
    let (lq, lk, d) = (s.lq, s.lk, s.headDim)
    guard s.batch > 0, lq > 0, s.heads > 0, d > 0 else { return }

    /// Query rows `rows` of head h of batch b: scores, masked softmax, context.
    func block(b: Int, h: Int, rows: Range<Int>, scores: UnsafeMutablePointer<Float>, parallelSoftmax: Bool) {
        let qb = q + (b * lq + rows.lowerBound) * s.qStride + h * d
        let kb = k + b * lk * s.kvStride + h * d
        let vb = v + b * lk * s.kvStride + h * d
        let m = rows.count
        BLAS.sgemm(transA: false, transB: true, m: m, n: lk, k: d, alpha: scale,
                   a: qb, lda: s.qStride, b: kb, ldb: s.kvStride, beta: 0, c: scores, ldc: lk)
        func softmaxRows(_ range: Range<Int>) {
            for i in range {
                let maskRow = mask.map { $0 + (perQueryMask ? (b * lq + rows.lowerBound + i) * lk : b * lk) }
                softmaxRow(scores + i * lk, lk, adding: maskRow)
            }
        }
        if parallelSoftmax {
            Parallel.forEachChunk(m, costPerItem: lk * 10, softmaxRows)
        } else {
            softmaxRows(0..<m)
        }
        BLAS.sgemm(transA: false, transB: false, m: m, n: d, k: lk, alpha: 1,
                   a: scores, lda: lk, b: vb, ldb: s.kvStride, beta: 0,
                   c: out + (b * lq + rows.lowerBound) * s.outStride + h * d, ldc: s.outStride)
    }

    // Query rows per block: as many as keep both products on the calling thread (m·Lk·D ≤ 2^18), at most Lq.
    let fitting = BLAS.callingThreadProductLimit / max(1, lk * d)
    let rowsPerBlock = min(lq, max(1, fitting))
    guard rowsPerBlock == lq || rowsPerBlock >= 16 else {
        // Long sequences: one head at a time, its products threaded by OpenBLAS, its softmax by us.
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: lq * max(lk, 1))
        defer { scores.deallocate() }
        for b in 0..<s.batch {
            for h in 0..<s.heads { block(b: b, h: h, rows: 0..<lq, scores: scores, parallelSoftmax: true) }
        }
        return
    }
    let blocksPerHead = (lq + rowsPerBlock - 1) / rowsPerBlock
    let units = s.batch * s.heads * blocksPerHead
    Parallel.forEachChunk(units, costPerItem: 4 * rowsPerBlock * max(lk, 1) * d) { range in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock * max(lk, 1))
        defer { scores.deallocate() }
        for u in range {
            let blockIndex = u % blocksPerHead, head = u / blocksPerHead
            let lo = blockIndex * rowsPerBlock
            block(b: head / s.heads, h: head % s.heads, rows: lo..<min(lq, lo + rowsPerBlock), scores: scores,
                  parallelSoftmax: false)
        }
    }
}
