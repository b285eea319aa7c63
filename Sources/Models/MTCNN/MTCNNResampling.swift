import Foundation

// The two resamplers facenet-pytorch uses on numpy frames, reproduced bit for bit:
// - `imresample` = torch `interpolate(mode="area")` = adaptive average pooling, before every network;
// - `cv2.resize(..., interpolation=INTER_AREA)` in `extract_face` (crop_resize on an np.ndarray).
// Plus PIL's `convert("L")` luma.

/// A rectangle of an RGB image: columns `x0..<x0+width`, rows `y0..<y0+height`.
struct MTCNNRect {
    var x0: Int
    var y0: Int
    var width: Int
    var height: Int
}

/// torch `interpolate(mode="area")` (= `adaptive_avg_pool2d`) of an 8-bit RGB rectangle to `outW × outH`, then
/// (when `normalize`) facenet's normalisation `(v − 127.5) · 0.0078125`. Channel c of output pixel (i, j) goes to
/// `out[(i·outW + j)·pixelStride + c·channelStride]` (HWC: strides 3 and 1; planar: 1 and the plane size).
///
/// Output cell (i, j) averages input rows `⌊i·H/outH⌋ ..< ⌈(i+1)·H/outH⌉` and the same for columns (PyTorch's
/// `start_index`/`end_index`). PyTorch sums the window in float32 and divides by the row count, then by the column
/// count; the sum of at most 65 793 bytes is an integer below 2^24, exact in float32 whatever the order, so it is
/// summed here in Int32 (columns first, then rows) and the result is bit-identical.
/// (Windows of more than 65 793 pixels, a shrink by over 256 per axis, would need float32 rounding of the sum.)
func mtcnnAreaResize(_ image: UnsafePointer<UInt8>, imageWidth: Int, rect: MTCNNRect, outW: Int, outH: Int,
                normalize: Bool, parallel: Bool = true, into out: UnsafeMutablePointer<Float>,
                pixelStride: Int, channelStride: Int) {
    let (w, h) = (rect.width, rect.height)
    precondition(w > 0 && h > 0 && outW > 0 && outH > 0)
    // Column windows are the same for every row.
    var xs = [Int](repeating: 0, count: outW), xe = [Int](repeating: 0, count: outW)
    for j in 0..<outW {
        xs[j] = (j * w) / outW
        xe[j] = ((j + 1) * w + outW - 1) / outW
    }
    let rowBytes = imageWidth * 3
    xs.withUnsafeBufferPointer { xs in
        xe.withUnsafeBufferPointer { xe in
            let cost = max(w * 3 * max(1, h / outH), outW * 3)
            MTCNNParallel.forEachChunk(outH, costPerItem: cost, enabled: parallel) { range in
                var colSum = [Int32](repeating: 0, count: w * 3)
                colSum.withUnsafeMutableBufferPointer { colSum in
                    let cs = colSum.baseAddress!
                    for i in range {
                        let y0 = (i * h) / outH, y1 = ((i + 1) * h + outH - 1) / outH
                        let first = image + (rect.y0 + y0) * rowBytes + rect.x0 * 3
                        for k in 0..<(w * 3) { cs[k] = Int32(first[k]) }
                        if y1 - y0 > 1 {
                            for y in (y0 + 1)..<y1 {
                                let row = image + (rect.y0 + y) * rowBytes + rect.x0 * 3
                                for k in 0..<(w * 3) { cs[k] &+= Int32(row[k]) }
                            }
                        }
                        let kh = Float(y1 - y0)
                        let o = out + i * outW * pixelStride
                        let (o0, o1, o2) = (o, o + channelStride, o + 2 * channelStride)
                        for j in 0..<outW {
                            let a = xs[j], b = xe[j]
                            var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0
                            for x in a..<b {
                                s0 &+= cs[3 * x]
                                s1 &+= cs[3 * x + 1]
                                s2 &+= cs[3 * x + 2]
                            }
                            let kw = Float(b - a)
                            let v0 = Float(s0) / kh / kw, v1 = Float(s1) / kh / kw, v2 = Float(s2) / kh / kw
                            let at = j * pixelStride
                            if normalize {
                                o0[at] = (v0 - 127.5) * 0.0078125
                                o1[at] = (v1 - 127.5) * 0.0078125
                                o2[at] = (v2 - 127.5) * 0.0078125
                            } else {
                                o0[at] = v0
                                o1[at] = v1
                                o2[at] = v2
                            }
                        }
                    }
                }
            }
        }
    }
}

extension MTCNN {
    /// facenet-pytorch's `imresample` (torch `interpolate(mode="area")`) of a whole image, without the
    /// normalisation: `[height, width, 3]` float32 averages in 0...255, bit-identical to PyTorch's.
    public static func areaAverage(_ image: RGBImage, width: Int, height: Int) -> [Float] {
        precondition(width > 0 && height > 0 && image.width > 0 && image.height > 0, "areaAverage: empty image")
        var out = [Float](repeating: 0, count: width * height * 3)
        image.pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { o in
                mtcnnAreaResize(px.baseAddress!, imageWidth: image.width,
                           rect: MTCNNRect(x0: 0, y0: 0, width: image.width, height: image.height),
                           outW: width, outH: height, normalize: false, into: o.baseAddress!, pixelStride: 3,
                           channelStride: 1)
            }
        }
        return out
    }

    /// `cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)` on an 8-bit image of `channels`
    /// interleaved channels (rows top first, no padding), bit-identical to OpenCV's CPU code (see
    /// `mtcnnResizeInterArea`).
    public static func resizeInterArea(_ pixels: [UInt8], width: Int, height: Int, channels: Int, toWidth: Int,
                                       toHeight: Int) -> [UInt8] {
        precondition(pixels.count == width * height * channels && width > 0 && height > 0 && toWidth > 0 && toHeight > 0,
                     "resizeInterArea: \(pixels.count) bytes for \(width)x\(height)x\(channels) → "
                     + "\(toWidth)x\(toHeight)")
        return pixels.withUnsafeBufferPointer { p in
            mtcnnResizeInterArea(p.baseAddress!, srcW: width, srcH: height, srcRowBytes: width * channels,
                                 channels: channels,
                         dstW: toWidth, dstH: toHeight)
        }
    }
}

// MARK: - OpenCV INTER_AREA

/// `cv2.resize(src, (dstW, dstH), interpolation=cv2.INTER_AREA)` on 8-bit images with `channels` interleaved
/// channels (OpenCV's `modules/imgproc/src/resize.cpp`, CPU path, reproduced exactly):
/// - same size: a copy;
/// - shrinking on both axes by integer factors: the block mean, `(sum + 2) >> 2` for 2×2 blocks and
///   `cvRound(sum · (1/area))` otherwise;
/// - shrinking on both axes otherwise: exact area weights (float32 accumulation in OpenCV's order), `cvRound`;
/// - any axis growing: bilinear with "area" coefficients (`fx = (dx+1) − (sx+1)/scale`, fractional part), 11-bit
///   fixed point, OpenCV's 8-bit vertical rounding.
/// Scales are OpenCV's: `scale = 1 / (dst / src)` in double.
func mtcnnResizeInterArea(_ src: UnsafePointer<UInt8>, srcW: Int, srcH: Int, srcRowBytes: Int, channels cn: Int,
                  dstW: Int, dstH: Int) -> [UInt8] {
    precondition(srcW > 0 && srcH > 0 && dstW > 0 && dstH > 0 && cn > 0)
    var out = [UInt8](repeating: 0, count: dstW * dstH * cn)
    out.withUnsafeMutableBufferPointer { o in
        let dst = o.baseAddress!
        if srcW == dstW && srcH == dstH {
            for y in 0..<srcH { (dst + y * dstW * cn).update(from: src + y * srcRowBytes, count: srcW * cn) }
            return
        }
        let invX = Double(dstW) / Double(srcW), invY = Double(dstH) / Double(srcH)
        let scaleX = 1 / invX, scaleY = 1 / invY
        if scaleX >= 1 && scaleY >= 1 {
            let ix = Int(scaleX.rounded()), iy = Int(scaleY.rounded())
            if abs(scaleX - Double(ix)) < Double.ulpOfOne && abs(scaleY - Double(iy)) < Double.ulpOfOne {
                cvAreaFast(src, srcRowBytes: srcRowBytes, cn: cn, dst: dst, dstW: dstW, dstH: dstH, ix: ix, iy: iy)
            } else {
                cvAreaDecimate(src, srcW: srcW, srcH: srcH, srcRowBytes: srcRowBytes, cn: cn, dst: dst,
                               dstW: dstW, dstH: dstH, scaleX: scaleX, scaleY: scaleY)
            }
        } else {
            cvAreaLinear(src, srcW: srcW, srcH: srcH, srcRowBytes: srcRowBytes, cn: cn, dst: dst, dstW: dstW,
                         dstH: dstH, scaleX: scaleX, invX: invX, scaleY: scaleY, invY: invY)
        }
    }
    return out
}

/// `cvRound` then `saturate_cast<uchar>`: round half to even, clamp to 0...255.
@inline(__always)
private func saturateU8(_ v: Float) -> UInt8 {
    let r = v.rounded(.toNearestOrEven)
    return r <= 0 ? 0 : (r >= 255 ? 255 : UInt8(r))
}

/// Integer-factor shrink (`resizeAreaFast_`).
private func cvAreaFast(_ src: UnsafePointer<UInt8>, srcRowBytes: Int, cn: Int, dst: UnsafeMutablePointer<UInt8>,
                        dstW: Int, dstH: Int, ix: Int, iy: Int) {
    let area = ix * iy
    let scale = Float(1) / Float(area)
    for dy in 0..<dstH {
        for dx in 0..<dstW {
            for c in 0..<cn {
                var sum = 0
                for sy in 0..<iy {
                    let row = src + (dy * iy + sy) * srcRowBytes + (dx * ix) * cn + c
                    for sx in 0..<ix { sum += Int(row[sx * cn]) }
                }
                // OpenCV's vector path for 2×2 (1, 3 or 4 channels) rounds half up; the generic path uses cvRound.
                dst[(dy * dstW + dx) * cn + c] = (ix == 2 && iy == 2 && cn != 2)
                    ? UInt8((sum + 2) >> 2) : saturateU8(Float(sum) * scale)
            }
        }
    }
}

/// One term of OpenCV's `DecimateAlpha` table: destination index, source index, weight.
private struct DecimateTerm {
    var di: Int
    var si: Int
    var alpha: Float
}

/// OpenCV's `computeResizeAreaTab`: for each destination cell, the source cells it covers and their fractions.
private func areaTable(srcSize: Int, dstSize: Int, scale: Double) -> [DecimateTerm] {
    var tab: [DecimateTerm] = []
    tab.reserveCapacity(srcSize * 2)
    for dx in 0..<dstSize {
        let fsx1 = Double(dx) * scale, fsx2 = fsx1 + scale
        let cellWidth = min(scale, Double(srcSize) - fsx1)
        var sx1 = Int(fsx1.rounded(.up)), sx2 = Int(fsx2.rounded(.down))
        sx2 = min(sx2, srcSize - 1)
        sx1 = min(sx1, sx2)
        if Double(sx1) - fsx1 > 1e-3 {
            tab.append(DecimateTerm(di: dx, si: sx1 - 1, alpha: Float((Double(sx1) - fsx1) / cellWidth)))
        }
        if sx1 < sx2 {
            for sx in sx1..<sx2 { tab.append(DecimateTerm(di: dx, si: sx, alpha: Float(1.0 / cellWidth))) }
        }
        if fsx2 - Double(sx2) > 1e-3 {
            tab.append(DecimateTerm(di: dx, si: sx2,
                                    alpha: Float(min(min(fsx2 - Double(sx2), 1.0), cellWidth) / cellWidth)))
        }
    }
    return tab
}

/// Fractional shrink (`resizeArea_`): float32 sums in OpenCV's order, `cvRound` at the end.
private func cvAreaDecimate(_ src: UnsafePointer<UInt8>, srcW: Int, srcH: Int, srcRowBytes: Int, cn: Int,
                            dst: UnsafeMutablePointer<UInt8>, dstW: Int, dstH: Int, scaleX: Double, scaleY: Double) {
    let xtab = areaTable(srcSize: srcW, dstSize: dstW, scale: scaleX)
    let ytab = areaTable(srcSize: srcH, dstSize: dstH, scale: scaleY)
    let width = dstW * cn
    var buf = [Float](repeating: 0, count: width), sum = [Float](repeating: 0, count: width)
    var prevDy = ytab[0].di
    for term in ytab {
        let beta = term.alpha, dy = term.di
        let row = src + term.si * srcRowBytes
        for i in 0..<width { buf[i] = 0 }
        for t in xtab {
            let d = t.di * cn, s = t.si * cn
            for c in 0..<cn { buf[d + c] = buf[d + c] + Float(row[s + c]) * t.alpha }
        }
        if dy != prevDy {
            let out = dst + prevDy * width
            for i in 0..<width {
                out[i] = saturateU8(sum[i])
                sum[i] = beta * buf[i]
            }
            prevDy = dy
        } else {
            for i in 0..<width { sum[i] = sum[i] + beta * buf[i] }
        }
    }
    let out = dst + prevDy * width
    for i in 0..<width { out[i] = saturateU8(sum[i]) }
}

/// Enlarging on at least one axis: OpenCV's bilinear `resizeGeneric_` with `INTER_AREA` coefficients, 8-bit
/// fixed point (`INTER_RESIZE_COEF_BITS = 11`).
private func cvAreaLinear(_ src: UnsafePointer<UInt8>, srcW: Int, srcH: Int, srcRowBytes: Int, cn: Int,
                          dst: UnsafeMutablePointer<UInt8>, dstW: Int, dstH: Int, scaleX: Double, invX: Double,
                          scaleY: Double, invY: Double) {
    let one = 2048
    /// Source index and the two 11-bit weights for destination index `d` on one axis.
    func coefficients(_ d: Int, size: Int, scale: Double, inv: Double, clampToEdge: Bool) -> (Int, Int32, Int32) {
        var s = Int((Double(d) * scale).rounded(.down))
        var f = Float(Double(d + 1) - Double(s + 1) * inv)
        f = f <= 0 ? 0 : f - f.rounded(.down)
        if clampToEdge && s >= size - 1 {
            f = 0
            s = size - 1
        }
        // saturate_cast<short>(float · 2048): round half to even.
        let c0 = Int32(((1 - f) * Float(one)).rounded(.toNearestOrEven))
        let c1 = Int32((f * Float(one)).rounded(.toNearestOrEven))
        return (s, c0, c1)
    }
    // Horizontal: per destination column, the source column and weights; columns whose source is the last one
    // (`xmax`) take `S[sx] · 2048` whatever the weights.
    var xofs = [Int](repeating: 0, count: dstW), xa = [Int32](repeating: 0, count: dstW * 2)
    var xmax = dstW
    for dx in 0..<dstW {
        let (s, a0, a1) = coefficients(dx, size: srcW, scale: scaleX, inv: invX, clampToEdge: true)
        if s + 1 >= srcW { xmax = min(xmax, dx) }
        xofs[dx] = s
        xa[2 * dx] = a0
        xa[2 * dx + 1] = a1
    }
    // One horizontally resized source row, as Int32 (sum of two 8-bit × 11-bit products).
    func hRow(_ sy: Int, into d: inout [Int32]) {
        let row = src + sy * srcRowBytes
        for dx in 0..<dstW {
            let s = xofs[dx] * cn
            for c in 0..<cn {
                if dx >= xmax {
                    d[dx * cn + c] = Int32(row[s + c]) * Int32(one)
                } else {
                    d[dx * cn + c] = Int32(row[s + c]) * xa[2 * dx] + Int32(row[s + cn + c]) * xa[2 * dx + 1]
                }
            }
        }
    }
    let width = dstW * cn
    var s0 = [Int32](repeating: 0, count: width), s1 = [Int32](repeating: 0, count: width)
    var cached = (-1, -1)
    for dy in 0..<dstH {
        let (sy, b0, b1) = coefficients(dy, size: srcH, scale: scaleY, inv: invY, clampToEdge: false)
        let r0 = min(max(sy, 0), srcH - 1), r1 = min(max(sy + 1, 0), srcH - 1)
        if cached != (r0, r1) {
            if cached.1 == r0 { swap(&s0, &s1) } else { hRow(r0, into: &s0) }
            hRow(r1, into: &s1)
            cached = (r0, r1)
        }
        let out = dst + dy * width
        for i in 0..<width {
            // VResizeLinear<uchar>: ((b0·(S0 >> 4)) >> 16) + ((b1·(S1 >> 4)) >> 16), + 2, >> 2.
            let v = ((b0 * (s0[i] >> 4)) >> 16) + ((b1 * (s1[i] >> 4)) >> 16) + 2
            let r = v >> 2
            out[i] = r < 0 ? 0 : (r > 255 ? 255 : UInt8(r))
        }
    }
}

// MARK: - Luma

/// PIL `Image.convert("L")` on RGB: ITU-R 601-2 luma `L = R·299/1000 + G·587/1000 + B·114/1000` in Pillow's
/// 16-bit fixed point, `(R·19595 + G·38470 + B·7471 + 0x8000) >> 16`.
@inline(__always)
func mtcnnLuma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let red: UInt32 = UInt32(r) * 19595, green: UInt32 = UInt32(g) * 38470, blue: UInt32 = UInt32(b) * 7471
    return UInt8(truncatingIfNeeded: (red + green + blue + 0x8000) >> 16)
}
