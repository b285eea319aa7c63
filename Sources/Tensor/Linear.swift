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

/// A fully connected layer, `y = x·Wᵀ + b` (PyTorch `nn.Linear`), one weight product (`BLAS.weightProduct`:
/// AMX tiles or `cblas_sgemm`, see `ProductPrecision`).
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
        BLAS.weightProduct(m: rows, k: inFeatures, a: px.baseAddress!, lda: inFeatures, weight: weight,
                           accumulate: bias != nil, c: c, ldc: outFeatures)
    }
    return out
}

/// An elementwise function applied after a product, in place (`linear(_:weight:bias:activation:)`).
public enum Activation: Sendable, Equatable {
    /// Exact GELU, `x · ½(1 + erf(x/√2))` (see `Tensor.applyGELU`).
    case gelu
    /// `x · sigmoid(1.702 x)` (CLIP).
    case quickGELU
    /// `max(x, 0)`.
    case relu
    /// `1 / (1 + e^−x)`.
    case sigmoid
    /// tanh, with libm's `tanhf`.
    case tanh
}

extension Tensor {
    /// Applies `activation` in place.
    public mutating func apply(_ activation: Activation) {
        switch activation {
        case .gelu: applyGELU()
        case .quickGELU: applyQuickGELU()
        case .relu: applyReLU()
        case .sigmoid: applySigmoid()
        case .tanh: applyTanh()
        }
    }
}

/// `activation(x·Wᵀ + b)`: `linear` followed by the activation in place on its output (no second tensor).
/// BERT's and HuBERT's intermediate layers (`.gelu`), CLIP's MLP (`.quickGELU`).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, activation: Activation) -> Tensor {
    var y = linear(x, weight: weight, bias: bias)
    y.apply(activation)
    return y
}

/// `layerNorm(x·Wᵀ + b + residual)` over the last axis: a post-LN transformer's residual block (BERT's
/// `BertSelfOutput` and `BertOutput`, HuBERT's encoder layers) in one product and one pass over its rows.
///
/// The residual is copied into the output first and the product accumulates onto it (β = 1, which costs no more
/// than β = 0); then each row gets the bias and is normalised while it is
/// in cache.
/// - Parameters:
///   - x: `[..., in]`.
///   - weight: `[out, in]`; bias: `[out]` or nil.
///   - residual: `[..., out]`, the shape of the result.
///   - normWeight, normBias: γ and β, `[out]`.
///   - eps: LayerNorm's epsilon (BERT 1e-12).
/// - Returns: `[..., out]`.
public func linearResidualLayerNorm(_ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor,
                                    normWeight: Tensor, normBias: Tensor, eps: Float) -> Tensor {
    precondition(weight.rank == 2 && x.rank >= 1 && x.shape[x.rank - 1] == weight.shape[1],
                 "linear: input \(x.shape) does not match weight \(weight.shape) ([out, in])")
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
    var outShape = x.shape
    outShape[outShape.count - 1] = outFeatures
    precondition(residual.shape == outShape, "linearResidualLayerNorm: residual \(residual.shape), expected \(outShape)")
    precondition(bias == nil || bias!.count == outFeatures,
                 "linear: bias has \(bias?.count ?? 0) values for \(outFeatures) outputs")
    precondition(normWeight.count == outFeatures && normBias.count == outFeatures,
                 "LayerNorm over \(outFeatures) features with weight \(normWeight.shape) and bias \(normBias.shape)")
    let rows = residual.count / Swift.max(outFeatures, 1)
    let out = Tensor(uninitializedShape: outShape)
    let c = out.mutableBase
    guard outFeatures > 0 else { return out }
    residual.withUnsafeBufferPointer { r in c.update(from: r.baseAddress!, count: r.count) }
    x.withUnsafeBufferPointer { px in
        BLAS.weightProduct(m: rows, k: inFeatures, a: px.baseAddress!, lda: inFeatures, weight: weight,
                           accumulate: true, c: c, ldc: outFeatures)
    }
    normWeight.withUnsafeBufferPointer { g in
        normBias.withUnsafeBufferPointer { beta in
            withOptionalPointer(bias) { b in
                Parallel.forEachChunk(rows, costPerItem: outFeatures * 5) { range in
                    for r in range {
                        let row = c + r * outFeatures
                        if let b { for j in 0..<outFeatures { row[j] += b[j] } }
                        normalizeRow(row, outFeatures, gamma: g.baseAddress!, beta: beta.baseAddress!, eps: eps)
                    }
                }
            }
        }
    }
    return out
}

/// Calls `body` with the tensor's elements, or nil.
@inline(__always)
func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeBufferPointer { body($0.baseAddress!) }
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
