import Foundation

/// Mean and biased (population) variance of `n` floats, accumulated in Double (two passes).
@inline(__always)
func moments(_ p: UnsafePointer<Float>, _ n: Int) -> (mean: Double, variance: Double) {
    let mean = sumDouble(p, n) / Double(n)
    return (mean, centeredSquaresDouble(p, n, mean: mean) / Double(n))
}

/// LayerNorm of one row in place: `(x − μ) / √(σ² + eps) · γ + β`, statistics in Double.
@inline(__always)
func normalizeRow(_ row: UnsafeMutablePointer<Float>, _ dim: Int, gamma: UnsafePointer<Float>,
                  beta: UnsafePointer<Float>, eps: Float) {
    let (mean, variance) = moments(row, dim)
    let invStd = Float(1 / (variance + Double(eps)).squareRoot())
    let mu = Float(mean)
    for i in 0..<dim { row[i] = (row[i] - mu) * invStd * gamma[i] + beta[i] }
}

extension Tensor {
    /// LayerNorm over the last axis in place: `(x − μ) / √(σ² + eps) · weight + bias`, σ² biased
    /// (PyTorch `nn.LayerNorm(dim, eps)`; BERT uses eps 1e-12, HuBERT and CLIP 1e-5).
    /// - Parameters:
    ///   - weight: γ, `[dim]` where dim is the last extent.
    ///   - bias: β, `[dim]`.
    public mutating func applyLayerNorm(weight: Tensor, bias: Tensor, eps: Float) {
        let dim = shape.last ?? 1
        precondition(weight.count == dim && bias.count == dim,
                     "LayerNorm over \(dim) features with weight \(weight.shape) and bias \(bias.shape)")
        makeUnique()
        guard dim > 0 else { return }
        let p = mutableBase, rows = count / dim
        weight.withUnsafeBufferPointer { g in
            bias.withUnsafeBufferPointer { b in
                Parallel.forEachChunk(rows, costPerItem: dim * 4) { range in
                    for r in range {
                        normalizeRow(p + r * dim, dim, gamma: g.baseAddress!, beta: b.baseAddress!, eps: eps)
                    }
                }
            }
        }
    }

    /// GroupNorm in place (PyTorch `nn.GroupNorm(groups, channels, eps)`): `x` is `[N, C, *]`; each sample's
    /// channels are split into `groups` consecutive groups, each normalised over its channels and all positions
    /// (biased variance), then scaled and shifted per channel. HuBERT's first conv uses groups = C = 512, i.e. each
    /// channel normalised over time.
    /// - Parameters:
    ///   - weight: γ, `[C]`; bias: β, `[C]`.
    public mutating func applyGroupNorm(groups: Int, weight: Tensor, bias: Tensor, eps: Float) {
        precondition(rank >= 2, "GroupNorm needs [N, C, *], got \(shape)")
        let channels = shape[1]
        precondition(groups > 0 && channels % groups == 0, "GroupNorm: \(channels) channels in \(groups) groups")
        precondition(weight.count == channels && bias.count == channels,
                     "GroupNorm over \(channels) channels with weight \(weight.shape) and bias \(bias.shape)")
        makeUnique()
        let spatial = shape[2...].reduce(1, *), perGroup = channels / groups
        let groupSize = perGroup * spatial, batch = shape[0]
        guard groupSize > 0 else { return }
        let p = mutableBase
        weight.withUnsafeBufferPointer { g in
            bias.withUnsafeBufferPointer { b in
                Parallel.forEachChunk(batch * groups, costPerItem: groupSize * 4) { range in
                    for ng in range {
                        let block = p + ng * groupSize
                        let (mean, variance) = moments(block, groupSize)
                        let invStd = Float(1 / (variance + Double(eps)).squareRoot())
                        let mu = Float(mean)
                        for c in 0..<perGroup {
                            let channel = (ng % groups) * perGroup + c
                            let scale = invStd * g[channel], shift = b[channel]
                            let row = block + c * spatial
                            for i in 0..<spatial { row[i] = (row[i] - mu) * scale + shift }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// GroupNorm in place on a channels-last tensor `[N, L, C]` (the output of `conv1dChannelsLast`): the same
    /// statistics as `applyGroupNorm` on the `[N, C, L]` transpose (per sample and group of C/groups
    /// consecutive channels, over all positions, biased variance), then `γ_c`, `β_c` per channel.
    public mutating func applyGroupNormChannelsLast(groups: Int, weight: Tensor, bias: Tensor, eps: Float) {
        precondition(rank == 3, "applyGroupNormChannelsLast needs [N, L, C], got \(shape)")
        let (batch, length, channels) = (shape[0], shape[1], shape[2])
        precondition(groups > 0 && channels % groups == 0, "GroupNorm: \(channels) channels in \(groups) groups")
        precondition(weight.count == channels && bias.count == channels,
                     "GroupNorm over \(channels) channels with weight \(weight.shape) and bias \(bias.shape)")
        makeUnique()
        guard length > 0, channels > 0 else { return }
        let p = mutableBase, perGroup = channels / groups
        let groupCount = Double(length * perGroup)
        // Threads split the channels (whole groups); each walks every row, so accesses stay row-contiguous.
        weight.withUnsafeBufferPointer { g in
            bias.withUnsafeBufferPointer { b in
                for n in 0..<batch {
                    let base = p + n * length * channels
                    Parallel.forEachChunk(groups, costPerItem: length * perGroup * 4) { range in
                        let c0 = range.lowerBound * perGroup, width = range.count * perGroup
                        // Per channel: [sum, centred squares, mean, scale, shift].
                        let stats = UnsafeMutablePointer<Double>.allocate(capacity: 3 * width)
                        let affine = UnsafeMutablePointer<Float>.allocate(capacity: 3 * width)
                        defer { stats.deallocate(); affine.deallocate() }
                        let sums = stats, squares = stats + width, meanD = stats + 2 * width
                        let means = affine, scale = affine + width, shift = affine + 2 * width
                        sums.initialize(repeating: 0, count: width)
                        squares.initialize(repeating: 0, count: width)
                        for t in 0..<length {
                            let row = base + t * channels + c0
                            for c in 0..<width { sums[c] += Double(row[c]) }
                        }
                        for gi in 0..<range.count {
                            var s = 0.0
                            for c in 0..<perGroup { s += sums[gi * perGroup + c] }
                            for c in 0..<perGroup { meanD[gi * perGroup + c] = s / groupCount }
                        }
                        for t in 0..<length {
                            let row = base + t * channels + c0
                            for c in 0..<width { let d = Double(row[c]) - meanD[c]; squares[c] += d * d }
                        }
                        for gi in 0..<range.count {
                            var s = 0.0
                            for c in 0..<perGroup { s += squares[gi * perGroup + c] }
                            let invStd = 1 / (s / groupCount + Double(eps)).squareRoot()
                            for c in 0..<perGroup {
                                let ch = gi * perGroup + c
                                means[ch] = Float(meanD[ch])
                                scale[ch] = Float(invStd) * g[c0 + ch]
                                shift[ch] = b[c0 + ch]
                            }
                        }
                        for t in 0..<length {
                            let row = base + t * channels + c0
                            for c in 0..<width { row[c] = (row[c] - means[c]) * scale[c] + shift[c] }
                        }
                    }
                }
            }
        }
    }
}

/// LayerNorm over the last axis. See `Tensor.applyLayerNorm`.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    var y = x
    y.applyLayerNorm(weight: weight, bias: bias, eps: eps)
    return y
}

/// GroupNorm over `[N, C, *]`. See `Tensor.applyGroupNorm`.
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    var y = x
    y.applyGroupNorm(groups: groups, weight: weight, bias: bias, eps: eps)
    return y
}

/// The weight a weight-normalised layer uses (PyTorch `weight_norm(module, dim=dim)`):
/// `w = g · v / ‖v‖`, the norm taken over every axis except `dim`, separately for each index along `dim`.
/// HuBERT's positional conv: `g [1, 1, 128]`, `v [768, 48, 128]`, dim 2.
/// - Parameters:
///   - g: the magnitudes, `v.shape` with every extent but `dim` equal to 1 (or just `[v.shape[dim]]`).
///   - v: the direction.
public func weightNorm(g: Tensor, v: Tensor, dim: Int) -> Tensor {
    precondition(dim >= 0 && dim < v.rank, "weightNorm: dim \(dim) for shape \(v.shape)")
    let n = v.shape[dim]
    precondition(g.count == n, "weightNorm: g \(g.shape) does not match v \(v.shape) along dim \(dim)")
    let outer = v.shape[..<dim].reduce(1, *), inner = v.shape[(dim + 1)...].reduce(1, *)
    var sums = [Double](repeating: 0, count: n)
    v.withUnsafeBufferPointer { pv in
        for o in 0..<outer {
            for j in 0..<n {
                let row = pv.baseAddress! + (o * n + j) * inner
                var s = 0.0
                for i in 0..<inner { s += Double(row[i]) * Double(row[i]) }
                sums[j] += s
            }
        }
    }
    var out = v
    let gs = g.scalars
    let factors = (0..<n).map { Float(Double(gs[$0]) / sums[$0].squareRoot()) }
    out.makeUnique()
    let p = out.mutableBase
    for o in 0..<outer {
        for j in 0..<n {
            let row = p + (o * n + j) * inner
            for i in 0..<inner { row[i] *= factors[j] }
        }
    }
    return out
}
