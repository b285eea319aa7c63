import Foundation

/// Softmax of one row in place, subtracting the maximum first.
@inline(__always)
func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
    guard n > 0 else { return }
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
/// Per (batch, head): one sgemm for the scores, a masked softmax per row, one sgemm into the output.
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
    let headDim = width / heads
    var perQueryMask = false
    if let mask {
        perQueryMask = mask.shape == [batch, lq, lk]
        precondition(perQueryMask || mask.shape == [batch, lk],
                     "attention mask must be [B, Lk] = \([batch, lk]) or [B, Lq, Lk] = \([batch, lq, lk]), got \(mask.shape)")
    }
    let out = Tensor(uninitializedShape: [batch, lq, width])
    let o = out.mutableBase
    var scores = [Float](repeating: 0, count: lq * lk)
    query.withUnsafeBufferPointer { q in
        key.withUnsafeBufferPointer { k in
            value.withUnsafeBufferPointer { v in
                scores.withUnsafeMutableBufferPointer { s in
                    let s = s.baseAddress!
                    for b in 0..<batch {
                        for h in 0..<heads {
                            let qb = q.baseAddress! + b * lq * width + h * headDim
                            let kb = k.baseAddress! + b * lk * width + h * headDim
                            let vb = v.baseAddress! + b * lk * width + h * headDim
                            BLAS.sgemm(transA: false, transB: true, m: lq, n: lk, k: headDim, alpha: scale,
                                       a: qb, lda: width, b: kb, ldb: width, beta: 0, c: s, ldc: lk)
                            if let mask {
                                mask.withUnsafeBufferPointer { m in
                                    for i in 0..<lq {
                                        let mrow = m.baseAddress! + (perQueryMask ? (b * lq + i) * lk : b * lk)
                                        let row = s + i * lk
                                        for j in 0..<lk { row[j] += mrow[j] }
                                    }
                                }
                            }
                            for i in 0..<lq { softmaxRow(s + i * lk, lk) }
                            BLAS.sgemm(transA: false, transB: false, m: lq, n: headDim, k: lk, alpha: 1,
                                       a: s, lda: lk, b: vb, ldb: width, beta: 0,
                                       c: o + b * lq * width + h * headDim, ldc: width)
                        }
                    }
                }
            }
        }
    }
    return out
}
