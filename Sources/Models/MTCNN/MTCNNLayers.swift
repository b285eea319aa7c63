import Foundation
import Tensor

// The layers of MTCNN's three networks. Activations are channel-major over a whole batch, `[C, N, H, W]` ("CNHW"):
// a convolution is then one im2col + sgemm over every image of the batch at once (a batch of RNet/ONet crops is a
// single wide GEMM instead of hundreds of tiny ones), its im2col rows are long contiguous copies, and bias and PReLU
// are per-plane loops. Only what MTCNN needs: square kernels, stride 1, no padding, max pooling in ceil mode.

/// A heap block of floats owned by one forward pass (no zero fill, no copy-on-write checks in the hot loops). The
/// memory comes from, and goes back to, `MTCNNBufferPool.shared`.
final class MTCNNBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    private let capacity: Int

    init(_ count: Int) {
        self.count = count
        capacity = MTCNNBufferPool.sizeClass(count)
        pointer = MTCNNBufferPool.shared.take(capacity)
    }

    deinit { MTCNNBufferPool.shared.give(pointer, capacity: capacity) }
}

/// Recycles the activation buffers of `detect` calls: a frame's buffers are a few tens of MB, and fresh memory
/// from the system costs a page fault per 4 KB on first touch (≈5 % of a 1280×720 detection). Blocks are kept
/// by power-of-two size class, up to `limit` floats in all; thread-safe.
final class MTCNNBufferPool: @unchecked Sendable {
    static let shared = MTCNNBufferPool(limit: 32 << 20)   // 128 MB

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var retained = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// The capacity a request for `count` floats gets: the next power of two, at least 4096.
    static func sizeClass(_ count: Int) -> Int {
        count <= 4096 ? 4096 : 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
    }

    func take(_ capacity: Int) -> UnsafeMutablePointer<Float> {
        lock.lock()
        if let p = free[capacity]?.popLast() {
            retained -= capacity
            lock.unlock()
            return p
        }
        lock.unlock()
        return UnsafeMutablePointer<Float>.allocate(capacity: capacity)
    }

    func give(_ p: UnsafeMutablePointer<Float>, capacity: Int) {
        lock.lock()
        if retained + capacity <= limit {
            free[capacity, default: []].append(p)
            retained += capacity
            lock.unlock()
        } else {
            lock.unlock()
            p.deallocate()
        }
    }
}

/// Splits loops over cores (`parallelChunks`, all cores unless `enabled` is false).
enum MTCNNParallel {
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` over `0..<count` in contiguous chunks, in parallel when `enabled` and `count · costPerItem` is
    /// at least `2 · grain`, else inline.
    @inline(__always)
    static func forEachChunk(_ count: Int, costPerItem: Int = 1, grain: Int = 1 << 15, enabled: Bool = true,
                             _ body: (Range<Int>) -> Void) {
        parallelChunks(count, width: enabled ? cores : 1, costPerItem: costPerItem, grain: grain, body)
    }
}

/// Activations `[channels, n, height, width]`, row-major, and whether the layers working on them may split their
/// loops over cores (false when the caller already runs several forward passes side by side).
struct MTCNNActivations {
    var buffer: MTCNNBuffer
    var channels: Int
    var n: Int
    var height: Int
    var width: Int
    var parallel: Bool

    init(channels: Int, n: Int, height: Int, width: Int, parallel: Bool) {
        self.channels = channels
        self.n = n
        self.height = height
        self.width = width
        self.parallel = parallel
        buffer = MTCNNBuffer(channels * n * height * width)
    }

    var pointer: UnsafeMutablePointer<Float> { buffer.pointer }
    /// Floats per channel plane (all images).
    var planeCount: Int { n * height * width }
}

/// Reads a float tensor's values (a copy; the store's tensors are views of the mapped file).
func mtcnnValues(_ t: Tensor) -> [Float] { t.scalars }

/// Adds `bias[c]` to, and applies PReLU `max(v, 0) + a_c·min(v, 0)` (if `slope`) to, `count` floats of each of the
/// `channels` rows starting at `p`, rows `stride` floats apart. Branch-free; equal to PyTorch's `v > 0 ? v : a·v`
/// up to the sign of a zero.
@inline(__always)
private func biasAndPReLU(_ p: UnsafeMutablePointer<Float>, channels: Int, count: Int, stride: Int,
                          bias: UnsafePointer<Float>, slope: UnsafePointer<Float>?) {
    for c in 0..<channels {
        let row = p + c * stride, b = bias[c]
        if let slope {
            let a = slope[c]
            for i in 0..<count {
                let v = row[i] + b
                row[i] = (v > 0 ? v : 0) + a * (v < 0 ? v : 0)   // maxps/minps patterns: vectorised
            }
        } else {
            for i in 0..<count { row[i] += b }
        }
    }
}

/// `nn.Conv2d(cIn, cOut, kernel_size=k)` (stride 1, no padding) optionally followed by `nn.PReLU(cOut)`.
struct MTCNNConv {
    let cIn: Int
    let cOut: Int
    let k: Int
    /// `[cOut, cIn·k·k]`: torch's `[cOut, cIn, k, k]` as it is (dims 2, 3 = kernel rows, columns), which is the
    /// order of the im2col rows.
    let weight: [Float]
    /// `[cOut]`.
    let bias: [Float]
    /// PReLU slopes `[cOut]`, or nil for a plain convolution.
    let slope: [Float]?

    /// Takes `<conv>.weight [cOut, cIn, k, k]`, `<conv>.bias [cOut]` and, if given, `<prelu>.weight [cOut]`.
    init(_ store: WeightStore, conv: String, prelu: String?, cIn: Int, cOut: Int, k: Int) throws {
        self.cIn = cIn
        self.cOut = cOut
        self.k = k
        weight = mtcnnValues(try store.take("\(conv).weight", shape: [cOut, cIn, k, k]))
        bias = mtcnnValues(try store.take("\(conv).bias", shape: [cOut]))
        slope = try prelu.map { mtcnnValues(try store.take("\($0).weight", shape: [cOut])) }
    }

    /// Several 1×1 convolutions on the same input stacked into one (PNet's conv4_1 and conv4_2).
    init(stacking parts: [MTCNNConv]) {
        precondition(parts.allSatisfy { $0.k == 1 && $0.cIn == parts[0].cIn && $0.slope == nil })
        cIn = parts[0].cIn
        k = 1
        cOut = parts.reduce(0) { $0 + $1.cOut }
        weight = parts.flatMap(\.weight)
        bias = parts.flatMap(\.bias)
        slope = nil
    }

    /// The layer on `x`; the output is `[cOut, n, h − k + 1, w − k + 1]`.
    func callAsFunction(_ x: MTCNNActivations) -> MTCNNActivations {
        precondition(x.channels == cIn && x.height >= k && x.width >= k,
                     "conv: input \(x.channels)x\(x.n)x\(x.height)x\(x.width), kernel \(cIn)x\(k)x\(k)")
        let hOut = x.height - k + 1, wOut = x.width - k + 1
        let out = MTCNNActivations(channels: cOut, n: x.n, height: hOut, width: wOut, parallel: x.parallel)
        let positions = x.n * hOut * wOut, rowsK = cIn * k * k
        let src = UnsafePointer(x.pointer), dst = out.pointer
        let (n, h, w, planeIn) = (x.n, x.height, x.width, x.planeCount)
        let hasSlope = slope != nil
        weight.withUnsafeBufferPointer { wt in
            bias.withUnsafeBufferPointer { bp in
                (slope ?? []).withUnsafeBufferPointer { sp in
                    let slopePointer = hasSlope ? sp.baseAddress : nil
                    // Tiles of whole output rows: the im2col block is rowsK × (rows · wOut), about 512 KB so that it
                    // is still in L2 when OpenBLAS packs it (4 MB tiles cost ≈ 10 % more time).
                    let outRows = n * hOut
                    let rowsPerTile = k == 1 ? outRows : max(1, min(outRows, (1 << 17) / max(1, rowsK * wOut)))
                    let col = k == 1 ? nil : MTCNNBuffer(rowsK * rowsPerTile * wOut)
                    defer { withExtendedLifetime(col) {} }
                    var r0 = 0
                    while r0 < outRows {
                        let tileRows = min(rowsPerTile, outRows - r0), tileN = tileRows * wOut, p0 = r0 * wOut
                        let bMat: UnsafePointer<Float>, ldb: Int
                        if let col {
                            // col[(c·k + ky)·k + kx][r·wOut + ox] = x[c][image][oy + ky][ox + kx] for output row
                            // r0 + r = image·hOut + oy.
                            let cp = col.pointer
                            MTCNNParallel.forEachChunk(rowsK, costPerItem: tileN, enabled: x.parallel) { range in
                                for row in range {
                                    let kx = row % k, ky = (row / k) % k, c = row / (k * k)
                                    let plane = src + c * planeIn
                                    var d = cp + row * tileN
                                    for r in r0..<(r0 + tileRows) {
                                        let image = r / hOut, oy = r % hOut
                                        let s = plane + (image * h + oy + ky) * w + kx
                                        if wOut >= 64 {
                                            d.update(from: s, count: wOut)
                                        } else {
                                            for i in 0..<wOut { d[i] = s[i] }   // short rows: no memmove call
                                        }
                                        d += wOut
                                    }
                                }
                            }
                            bMat = UnsafePointer(cp)
                            ldb = tileN
                        } else {
                            bMat = src + p0
                            ldb = positions
                        }
                        // out[:, p0 ..< p0 + tileN] = W · col, then bias and PReLU while the tile is in cache.
                        BLAS.sgemm(transA: false, transB: false, m: cOut, n: tileN, k: rowsK, a: wt.baseAddress!,
                                   lda: rowsK, b: bMat, ldb: ldb, beta: 0, c: dst + p0, ldc: positions)
                        MTCNNParallel.forEachChunk(cOut, costPerItem: tileN, enabled: x.parallel) { range in
                            biasAndPReLU(dst + range.lowerBound * positions + p0, channels: range.count, count: tileN,
                                         stride: positions, bias: bp.baseAddress! + range.lowerBound,
                                         slope: slopePointer.map { $0 + range.lowerBound })
                        }
                        r0 += tileRows
                    }
                }
            }
        }
        return out
    }
}

/// `nn.Linear(inFeatures, outFeatures)` optionally followed by `nn.PReLU(outFeatures)`, on rows `[n, inFeatures]`.
struct MTCNNDense {
    let inFeatures: Int
    let outFeatures: Int
    /// `[out, in]`.
    let weight: [Float]
    let bias: [Float]
    let slope: [Float]?

    init(weight: [Float], bias: [Float], slope: [Float]?, inFeatures: Int) {
        self.inFeatures = inFeatures
        outFeatures = bias.count
        self.weight = weight
        self.bias = bias
        self.slope = slope
    }

    /// `x`: `n` rows of `inFeatures`; returns `n` rows of `outFeatures`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int) -> MTCNNBuffer {
        let out = MTCNNBuffer(n * outFeatures)
        weight.withUnsafeBufferPointer { w in
            BLAS.sgemm(transA: false, transB: true, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                       b: w.baseAddress!, ldb: inFeatures, beta: 0, c: out.pointer, ldc: outFeatures)
        }
        let m = outFeatures, p = out.pointer
        bias.withUnsafeBufferPointer { b in
            for r in 0..<n {
                let row = p + r * m
                if let slope {
                    for o in 0..<m {
                        let v = row[o] + b[o]
                        row[o] = Swift.max(v, 0) + slope[o] * Swift.min(v, 0)
                    }
                } else {
                    for o in 0..<m { row[o] += b[o] }
                }
            }
        }
        return out
    }
}

/// Gathers `[C, n, h, w]` activations into `n` rows of `C·h·w` features in (c, y, x) order, for a dense layer whose
/// weight columns were put in that order.
func mtcnnFlatten(_ x: MTCNNActivations) -> MTCNNBuffer {
    let plane = x.height * x.width, features = x.channels * plane
    let out = MTCNNBuffer(x.n * features)
    for c in 0..<x.channels {
        for i in 0..<x.n {
            (out.pointer + i * features + c * plane).update(from: x.pointer + (c * x.n + i) * plane, count: plane)
        }
    }
    return out
}

/// `nn.MaxPool2d(kernel, stride, ceil_mode=True)`: `out = ⌈(in − kernel) / stride⌉ + 1` (less one when the last
/// window would start past the input, PyTorch's rule); windows running off the input take the max of their valid
/// part.
func mtcnnMaxPoolCeil(_ x: MTCNNActivations, kernel: Int, stride: Int) -> MTCNNActivations {
    func outLength(_ size: Int) -> Int {
        var len = (size - kernel + stride - 1) / stride + 1
        if (len - 1) * stride >= size { len -= 1 }
        return len
    }
    let hOut = outLength(x.height), wOut = outLength(x.width), (h, w) = (x.height, x.width)
    let out = MTCNNActivations(channels: x.channels, n: x.n, height: hOut, width: wOut, parallel: x.parallel)
    let src = UnsafePointer(x.pointer), dst = out.pointer
    precondition(kernel <= 3, "mtcnnMaxPoolCeil: kernel \(kernel) (at most 3 rows are combined)")
    let planes = x.channels * x.n
    // Windows lying wholly inside a row; the last one may be cut off.
    let fullColumns = min(wOut, (w - kernel) / stride + 1)
    MTCNNParallel.forEachChunk(planes * hOut, costPerItem: wOut * kernel * kernel, enabled: x.parallel) { range in
        // The max over the window's rows, column by column (contiguous, vectorised), then over columns.
        let column = UnsafeMutablePointer<Float>.allocate(capacity: w)
        defer { column.deallocate() }
        for row in range {
            let plane = row / hOut, oy = row % hOut
            let y0 = oy * stride, rows = min(h, y0 + kernel) - y0
            let r0 = src + (plane * h + y0) * w
            if rows == 1 {
                column.update(from: r0, count: w)
            } else {
                let r1 = r0 + w, r2 = rows > 2 ? r0 + 2 * w : r1
                for i in 0..<w {
                    let m = r0[i] > r1[i] ? r0[i] : r1[i]
                    column[i] = m > r2[i] ? m : r2[i]
                }
            }
            let o = dst + row * wOut
            if kernel == 2 && stride == 2 {
                for ox in 0..<fullColumns { o[ox] = Swift.max(column[2 * ox], column[2 * ox + 1]) }
            } else if kernel == 3 && stride == 2 {
                for ox in 0..<fullColumns {
                    o[ox] = Swift.max(Swift.max(column[2 * ox], column[2 * ox + 1]), column[2 * ox + 2])
                }
            } else {
                for ox in 0..<fullColumns {
                    var m = column[ox * stride]
                    for t in 1..<kernel { m = Swift.max(m, column[ox * stride + t]) }
                    o[ox] = m
                }
            }
            for ox in fullColumns..<wOut {
                let x0 = ox * stride, x1 = min(w, x0 + kernel)
                var m = column[x0]
                for xx in (x0 + 1)..<max(x0 + 1, x1) { m = Swift.max(m, column[xx]) }
                o[ox] = m
            }
        }
    }
    return out
}

/// Softmax over two logits, channel 1 (torch `Softmax(dim=1)` over `[logit0, logit1]`): `e1 / (e0 + e1)` with the
/// larger logit subtracted first.
@inline(__always)
func mtcnnFaceProbability(_ logit0: Float, _ logit1: Float) -> Float {
    let m = max(logit0, logit1)
    let e0 = expf(logit0 - m), e1 = expf(logit1 - m)
    return e1 / (e0 + e1)
}
