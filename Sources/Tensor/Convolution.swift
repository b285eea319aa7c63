import Foundation

// Convolutions as im2col + sgemm, PyTorch layouts (NCL / NCHW, weights [out, in/groups, k...]).
// The column buffer is built for a tile of output positions at a time, so memory stays bounded (≈ 8 MB) even for
// HuBERT's first layers on long utterances; each tile is one sgemm per group writing straight into the output.
// `conv1dChannelsLast` (end of file) is the faster form for HuBERT's feature extractor: [T, C] in and out.

/// Floats in one im2col tile (8 MB). A tuning knob; tests lower it to exercise tiling.
var im2colBudget = 1 << 21

/// Output extent of a convolution or pooling window along one axis (floor mode).
@inline(__always)
func convOutputLength(_ input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int = 1) -> Int {
    (input + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1
}

/// 1-D convolution (PyTorch `nn.Conv1d`, dilation 1): `out[n, o, t] = b[o] + Σ_{i,k} w[o, i, k] · x[n, g·I + i, t·s + k − p]`
/// for o in group g, zero padding.
/// - Parameters:
///   - x: `[N, C_in, L]` (or unbatched `[C_in, L]`).
///   - weight: `[C_out, C_in / groups, K]`.
///   - bias: `[C_out]` or nil.
/// - Returns: `[N, C_out, L_out]` (or `[C_out, L_out]`), `L_out = ⌊(L + 2p − K) / s⌋ + 1`.
public func conv1d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                   groups: Int = 1) -> Tensor {
    let unbatched = x.rank == 2
    precondition(x.rank == 3 || unbatched, "conv1d input must be [N, C, L] or [C, L], got \(x.shape)")
    let input = unbatched ? x.reshaped([1] + x.shape) : x
    let y = conv2d(input.reshaped([input.shape[0], input.shape[1], 1, input.shape[2]]),
                   weight: weight.reshaped(weight.rank == 3 ? [weight.shape[0], weight.shape[1], 1, weight.shape[2]] : weight.shape),
                   bias: bias, stride: (1, stride), padding: (0, padding), groups: groups, name: "conv1d")
    let out = y.reshaped([y.shape[0], y.shape[1], y.shape[3]])
    return unbatched ? out.reshaped(Array(out.shape.dropFirst())) : out
}

/// 2-D convolution (PyTorch `nn.Conv2d`, dilation 1, zero padding) with the same stride and padding on both axes.
/// See `conv2d(_:weight:bias:stride:padding:groups:)` with tuples.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                   groups: Int = 1) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding), groups: groups)
}

/// 2-D convolution (PyTorch `nn.Conv2d`, dilation 1, zero padding).
/// - Parameters:
///   - x: `[N, C_in, H, W]` (or unbatched `[C_in, H, W]`).
///   - weight: `[C_out, C_in / groups, kH, kW]`.
///   - bias: `[C_out]` or nil.
///   - stride, padding: (vertical, horizontal).
/// - Returns: `[N, C_out, H_out, W_out]` (or unbatched), `H_out = ⌊(H + 2p − kH) / s⌋ + 1`, same for W.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int) = (0, 0),
                   groups: Int = 1) -> Tensor {
    let unbatched = x.rank == 3
    precondition(x.rank == 4 || unbatched, "conv2d input must be [N, C, H, W] or [C, H, W], got \(x.shape)")
    let out = conv2d(unbatched ? x.reshaped([1] + x.shape) : x, weight: weight, bias: bias, stride: stride,
                     padding: padding, groups: groups, name: "conv2d")
    return unbatched ? out.reshaped(Array(out.shape.dropFirst())) : out
}

/// The shared implementation: batched NCHW input (conv1d passes H = 1).
func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int), groups: Int,
            name: String) -> Tensor {
    precondition(weight.rank == 4, "\(name) weight must be [C_out, C_in/groups, k...], got \(weight.shape)")
    let (n, cIn, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cOut, cInG, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    let (sh, sw) = stride, (ph, pw) = padding
    precondition(groups > 0 && cIn % groups == 0 && cOut % groups == 0 && cInG == cIn / groups,
                 "\(name): input \(x.shape) with weight \(weight.shape) and \(groups) groups")
    precondition(sh > 0 && sw > 0 && ph >= 0 && pw >= 0, "\(name): stride \(stride), padding \(padding)")
    let hOut = convOutputLength(h, kernel: kh, stride: sh, padding: ph)
    let wOut = convOutputLength(w, kernel: kw, stride: sw, padding: pw)
    precondition(hOut > 0 && wOut > 0, "\(name): input \(x.shape) is smaller than the kernel \(weight.shape) (padding \(padding))")
    if let bias { precondition(bias.count == cOut, "\(name): bias has \(bias.count) values for \(cOut) channels") }
    let positions = hOut * wOut, cOutG = cOut / groups
    let rowsK = cInG * kh * kw
    let out = Tensor(uninitializedShape: [n, cOut, hOut, wOut])
    let o = out.mutableBase
    if let bias {
        bias.withUnsafeBufferPointer { b in
            for i in 0..<(n * cOut) {
                (o + i * positions).initialize(repeating: b[i % cOut], count: positions)
            }
        }
    }
    let beta: Float = bias == nil ? 0 : 1
    let direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0
    // Output positions per tile: the im2col block is rowsK × tile.
    let tile = direct ? positions : Swift.max(16, Swift.min(positions, im2colBudget / Swift.max(1, rowsK)))
    var col = [Float](repeating: 0, count: direct ? 0 : rowsK * tile)
    x.withUnsafeBufferPointer { px in
        weight.withUnsafeBufferPointer { pwt in
            col.withUnsafeMutableBufferPointer { colBuf in
                for b in 0..<n {
                    for g in 0..<groups {
                        let xg = px.baseAddress! + (b * cIn + g * cInG) * h * w
                        let wg = pwt.baseAddress! + g * cOutG * rowsK
                        let og = o + (b * cOut + g * cOutG) * positions
                        if direct {
                            BLAS.sgemm(transA: false, transB: false, m: cOutG, n: positions, k: rowsK,
                                       a: wg, lda: rowsK, b: xg, ldb: h * w, beta: beta, c: og, ldc: positions)
                            continue
                        }
                        var p0 = 0
                        while p0 < positions {
                            let tileN = Swift.min(tile, positions - p0)
                            im2col(xg, h: h, w: w, kh: kh, kw: kw, sh: sh, sw: sw, ph: ph, pw: pw, cIn: cInG,
                                   wOut: wOut, positions: p0..<(p0 + tileN), into: colBuf.baseAddress!)
                            BLAS.sgemm(transA: false, transB: false, m: cOutG, n: tileN, k: rowsK,
                                       a: wg, lda: rowsK, b: colBuf.baseAddress!, ldb: tileN, beta: beta,
                                       c: og + p0, ldc: positions)
                            p0 += tileN
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Fills the im2col block for output positions `positions` (flattened `oy·wOut + ox`):
/// `col[(c·kh + ky)·kw + kx][p − lo] = x[c][oy·sh + ky − ph][ox·sw + kx − pw]`, 0 outside the input.
func im2col(_ x: UnsafePointer<Float>, h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int,
            cIn: Int, wOut: Int, positions: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    let tileN = positions.count
    let rowsK = cIn * kh * kw
    Parallel.forEachChunk(rowsK, costPerItem: tileN) { range in
        for r in range {
            let kx = r % kw, ky = (r / kw) % kh, c = r / (kw * kh)
            let plane = x + c * h * w
            // Valid ox: 0 ≤ ox·sw + kx − pw < w.
            let validLo = Swift.min(wOut, Swift.max(0, (pw - kx + sw - 1) / sw))
            let validHi = Swift.max(validLo, Swift.min(wOut, (w + pw - kx + sw - 1) / sw))
            var p = positions.lowerBound
            var dst = col + r * tileN
            while p < positions.upperBound {
                let oy = p / wOut, ox0 = p % wOut
                let ox1 = Swift.min(wOut, ox0 + (positions.upperBound - p))
                let iy = oy * sh + ky - ph
                if iy < 0 || iy >= h {
                    dst.initialize(repeating: 0, count: ox1 - ox0)
                } else {
                    let src = plane + iy * w + kx - pw
                    let lo = Swift.min(Swift.max(validLo, ox0), ox1), hi = Swift.max(Swift.min(validHi, ox1), lo)
                    for ox in ox0..<lo { dst[ox - ox0] = 0 }
                    if sw == 1 {
                        (dst + (lo - ox0)).update(from: src + lo, count: hi - lo)
                    } else {
                        for ox in lo..<hi { dst[ox - ox0] = src[ox * sw] }
                    }
                    for ox in hi..<ox1 { dst[ox - ox0] = 0 }
                }
                dst += ox1 - ox0
                p += ox1 - ox0
            }
        }
    }
}

/// 2-D max pooling (PyTorch `nn.MaxPool2d`, dilation 1), padding treated as −∞.
/// With `ceilMode`, `out = ⌈(in + 2p − k) / s⌉ + 1`, less one if the last window would start beyond the input
/// (PyTorch's rule); windows that run off the input take the max over their valid elements only (MTCNN).
/// - Parameters:
///   - x: `[N, C, H, W]` (or `[C, H, W]`).
///   - kernel: (kH, kW); stride: (sH, sW), defaults to the kernel.
public func maxPool2d(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                      ceilMode: Bool = false) -> Tensor {
    let unbatched = x.rank == 3
    precondition(x.rank == 4 || unbatched, "maxPool2d input must be [N, C, H, W] or [C, H, W], got \(x.shape)")
    let input = unbatched ? x.reshaped([1] + x.shape) : x
    let (kh, kw) = kernel, (sh, sw) = stride ?? kernel, (ph, pw) = padding
    precondition(kh > 0 && kw > 0 && sh > 0 && sw > 0 && ph >= 0 && pw >= 0 && 2 * ph <= kh && 2 * pw <= kw,
                 "maxPool2d: kernel \(kernel), stride \(String(describing: stride)), padding \(padding)")
    let (planes, h, w) = (input.shape[0] * input.shape[1], input.shape[2], input.shape[3])
    func outLength(_ size: Int, _ k: Int, _ s: Int, _ p: Int) -> Int {
        let span = size + 2 * p - k
        var len = (ceilMode ? (span + s - 1) / s : span / s) + 1
        if ceilMode && (len - 1) * s >= size + p { len -= 1 }
        return len
    }
    let hOut = outLength(h, kh, sh, ph), wOut = outLength(w, kw, sw, pw)
    precondition(h + 2 * ph >= kh && w + 2 * pw >= kw && hOut > 0 && wOut > 0,
                 "maxPool2d: input \(x.shape) is smaller than the kernel \(kernel)")
    let out = Tensor(uninitializedShape: [input.shape[0], input.shape[1], hOut, wOut])
    let o = out.mutableBase
    input.withUnsafeBufferPointer { src in
        Parallel.forEachChunk(planes, costPerItem: hOut * wOut * kh * kw) { range in
            for p in range {
                let plane = src.baseAddress! + p * h * w
                let dst = o + p * hOut * wOut
                for oy in 0..<hOut {
                    let yLo = Swift.max(0, oy * sh - ph), yHi = Swift.min(h, oy * sh - ph + kh)
                    for ox in 0..<wOut {
                        let xLo = Swift.max(0, ox * sw - pw), xHi = Swift.min(w, ox * sw - pw + kw)
                        var m = -Float.infinity
                        for y in yLo..<yHi {
                            let row = plane + y * w
                            for xx in xLo..<xHi {
                                let v = row[xx]
                                if v > m || v.isNaN { m = v }
                            }
                        }
                        dst[oy * wOut + ox] = m
                    }
                }
            }
        }
    }
    return unbatched ? out.reshaped(Array(out.shape.dropFirst())) : out
}

/// Square-window max pooling. See `maxPool2d(_:kernel:stride:padding:ceilMode:)`.
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) -> Tensor {
    maxPool2d(x, kernel: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: (padding, padding),
              ceilMode: ceilMode)
}

// MARK: - Channels-last 1-D convolution

/// Converts a PyTorch Conv1d weight `[C_out, C_in/groups, K]` to the `[C_out, K, C_in/groups]` layout
/// `conv1dChannelsLast` takes (a copy; do it once when loading the model).
public func channelsLastConv1dWeight(_ torchWeight: Tensor) -> Tensor {
    precondition(torchWeight.rank == 3, "Conv1d weight must be [C_out, C_in/groups, K], got \(torchWeight.shape)")
    return torchWeight.permuted([0, 2, 1])
}

/// Below this many input channels per group, `conv1dChannelsLast` copies patches into a column buffer and runs
/// one long GEMM; at or above it, it runs one GEMM per kernel tap straight on the input (no copy at all).
/// A tuning knob; tests change it to run both strategies on the same cases.
var channelsLastPerTapMinChannels = 64

/// 1-D convolution on channels-last sequences, `out[n, t, o] = b[o] + Σ_{k,i} w[o, k, i] · x[n, t·s + k − p, g·I + i]`
/// (the same arithmetic as PyTorch `nn.Conv1d` on the transposed tensors; zero padding, dilation 1).
///
/// Channels-last is what the transformer after a conv stack wants (`[T, C]` rows) and is cheaper here:
/// - ≥ 64 input channels per group, no padding, one group (HuBERT's conv layers 1–6): one sgemm per kernel tap,
///   each reading the input rows with stride s·C in place: no im2col buffer at all.
/// - otherwise (HuBERT's first conv, C_in = 1; its grouped, padded positional conv): each output position's
///   patch is a contiguous run of the (per-group, zero-padded) input, copied into a column buffer in tiles.
/// - Parameters:
///   - x: `[N, L, C_in]` (or unbatched `[L, C_in]`).
///   - weight: `[C_out, K, C_in / groups]`, made from PyTorch's layout by `channelsLastConv1dWeight`.
///   - bias: `[C_out]` or nil.
/// - Returns: `[N, L_out, C_out]` (or `[L_out, C_out]`), `L_out = ⌊(L + 2p − K) / s⌋ + 1`.
public func conv1dChannelsLast(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                               groups: Int = 1) -> Tensor {
    let unbatched = x.rank == 2
    precondition(x.rank == 3 || unbatched, "conv1dChannelsLast input must be [N, L, C] or [L, C], got \(x.shape)")
    precondition(weight.rank == 3, "conv1dChannelsLast weight must be [C_out, K, C_in/groups], got \(weight.shape)")
    let input = unbatched ? x.reshaped([1] + x.shape) : x
    let (n, l, cIn) = (input.shape[0], input.shape[1], input.shape[2])
    let (cOut, k, cInG) = (weight.shape[0], weight.shape[1], weight.shape[2])
    precondition(groups > 0 && cIn % groups == 0 && cOut % groups == 0 && cInG == cIn / groups,
                 "conv1dChannelsLast: input \(x.shape) with weight \(weight.shape) ([C_out, K, C_in/groups]) and \(groups) groups")
    precondition(stride > 0 && padding >= 0, "conv1dChannelsLast: stride \(stride), padding \(padding)")
    let lOut = convOutputLength(l, kernel: k, stride: stride, padding: padding)
    precondition(lOut > 0, "conv1dChannelsLast: input length \(l) is shorter than the kernel \(k) (padding \(padding))")
    if let bias { precondition(bias.count == cOut, "conv1dChannelsLast: bias has \(bias.count) values for \(cOut) channels") }
    let cOutG = cOut / groups, patch = k * cInG
    let out = Tensor(uninitializedShape: [n, lOut, cOut])
    let o = out.mutableBase
    if let bias {
        bias.withUnsafeBufferPointer { b in
            for r in 0..<(n * lOut) { (o + r * cOut).update(from: b.baseAddress!, count: cOut) }
        }
    }
    let beta: Float = bias == nil ? 0 : 1
    let perTap = groups == 1 && padding == 0 && cInG >= channelsLastPerTapMinChannels
    let needsCopy = !(groups == 1 && padding == 0)
    let paddedLength = l + 2 * padding
    var padded = [Float](repeating: 0, count: needsCopy ? paddedLength * cInG : 0)
    let tile = Swift.max(16, Swift.min(lOut, im2colBudget / Swift.max(1, patch)))
    var col = [Float](repeating: 0, count: perTap ? 0 : tile * patch)
    input.withUnsafeBufferPointer { px in
        weight.withUnsafeBufferPointer { pw in
            padded.withUnsafeMutableBufferPointer { padBuf in
                col.withUnsafeMutableBufferPointer { colBuf in
                    for b in 0..<n {
                        let xb = px.baseAddress! + b * l * cIn
                        for g in 0..<groups {
                            // The group's input as contiguous rows of `rowLength` floats, zero-padded in time.
                            let src: UnsafePointer<Float>
                            let rowLength: Int
                            if needsCopy {
                                let dst = padBuf.baseAddress!
                                for t in 0..<l {
                                    (dst + (t + padding) * cInG).update(from: xb + t * cIn + g * cInG, count: cInG)
                                }
                                src = UnsafePointer(dst)
                                rowLength = cInG
                            } else {
                                src = xb
                                rowLength = cIn
                            }
                            let wg = pw.baseAddress! + g * cOutG * patch
                            let og = o + b * lOut * cOut + g * cOutG
                            if perTap {
                                // out[t, :] += x[t·s + kk, :] · W[:, kk, :]ᵀ for each tap kk.
                                for kk in 0..<k {
                                    BLAS.sgemm(transA: false, transB: true, m: lOut, n: cOutG, k: cInG,
                                               a: src + kk * rowLength, lda: stride * rowLength,
                                               b: wg + kk * cInG, ldb: patch,
                                               beta: kk == 0 ? beta : 1, c: og, ldc: cOut)
                                }
                                continue
                            }
                            var t0 = 0
                            while t0 < lOut {
                                let rows = Swift.min(tile, lOut - t0)
                                let cb = colBuf.baseAddress!
                                Parallel.forEachChunk(rows, costPerItem: patch) { range in
                                    for r in range {
                                        (cb + r * patch).update(from: src + (t0 + r) * stride * rowLength, count: patch)
                                    }
                                }
                                BLAS.sgemm(transA: false, transB: true, m: rows, n: cOutG, k: patch,
                                           a: cb, lda: patch, b: wg, ldb: patch,
                                           beta: beta, c: og + t0 * cOut, ldc: cOut)
                                t0 += rows
                            }
                        }
                    }
                }
            }
        }
    }
    return unbatched ? out.reshaped(Array(out.shape.dropFirst())) : out
}
