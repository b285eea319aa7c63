import Foundation

/// Matrix product of two 2-D tensors, `alpha · op(a) · op(b)`, one `cblas_sgemm` call.
/// - Parameters:
///   - a: `[m, k]`, or `[k, m]` when `transposeA`.
///   - b: `[k, n]`, or `[n, k]` when `transposeB`.
/// - Returns: `[m, n]`.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                   alpha: Float = 1) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.shape[1] : a.shape[0], k = transposeA ? a.shape[0] : a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0], n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "matmul: inner extents differ, \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
    let out = Tensor(uninitializedShape: [m, n])
    let c = out.mutableBase
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            BLAS.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: alpha,
                       a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                       beta: 0, c: c, ldc: n)
        }
    }
    return out
}

/// A fully connected layer, `y = x·Wᵀ + b` (PyTorch `nn.Linear`), one `cblas_sgemm` with B transposed.
/// - Parameters:
///   - x: `[..., in]` (any leading axes).
///   - weight: `[out, in]`.
///   - bias: `[out]`, or nil.
/// - Returns: `[..., out]`.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(weight.rank == 2 && x.rank >= 1 && x.shape[x.rank - 1] == weight.shape[1],
                 "linear: input \(x.shape) does not match weight \(weight.shape) ([out, in])")
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
    let rows = x.count / Swift.max(inFeatures, 1)
    var outShape = x.shape
    outShape[outShape.count - 1] = outFeatures
    let out = Tensor(uninitializedShape: outShape)
    let c = out.mutableBase
    if let bias {
        precondition(bias.count == outFeatures, "linear: bias has \(bias.count) values for \(outFeatures) outputs")
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows { (c + r * outFeatures).update(from: b.baseAddress!, count: outFeatures) }
        }
    }
    x.withUnsafeBufferPointer { px in
        weight.withUnsafeBufferPointer { pw in
            BLAS.sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                       a: px.baseAddress!, lda: inFeatures, b: pw.baseAddress!, ldb: inFeatures,
                       beta: bias == nil ? 0 : 1, c: c, ldc: outFeatures)
        }
    }
    return out
}

/// Embedding lookup: row `ids[i]` of `table` for each i (PyTorch `nn.Embedding`).
/// - Parameters:
///   - table: `[vocabulary, dim]`.
///   - ids: indices in `0..<vocabulary` (a precondition).
/// - Returns: `[ids.count, dim]`.
public func embedding(_ table: Tensor, ids: [Int]) -> Tensor {
    precondition(table.rank == 2, "embedding table must be [vocabulary, dim], got \(table.shape)")
    let vocabulary = table.shape[0], dim = table.shape[1]
    let out = Tensor(uninitializedShape: [ids.count, dim])
    let dst = out.mutableBase
    table.withUnsafeBufferPointer { src in
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && id < vocabulary, "embedding id \(id) out of range 0..<\(vocabulary)")
            (dst + i * dim).update(from: src.baseAddress! + id * dim, count: dim)
        }
    }
    return out
}
