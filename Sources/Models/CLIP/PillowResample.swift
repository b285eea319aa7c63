import Foundation

// Pillow's antialiased resize of 8-bit images, bit for bit: `Image.resize(size, filter)` with no box and no
// reducing_gap, i.e. `ImagingResample` in https://github.com/python-pillow/Pillow/blob/main/src/libImaging/Resample.c
// (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc / Vertical_8bpc, ImagingResampleInner).
//
// The rules reproduced:
// - Separable: two passes, each rounding and clipping to uint8, so their order matters. Pillow 13 (the reference
//   here) runs the vertical pass first when the height shrinks by more than twice as many pixels as the width,
//   else the horizontal one first (Pillow ≤ 12 always did); the two orders differ by up to a few levels. A pass
//   is skipped when its axis keeps its size. The first pass only runs over the lines the second one reads.
// - Per axis with in-size I and out-size O: scale = I/O, filterscale = max(scale, 1), support = filter support ·
//   filterscale; output i has center = (i + 0.5)·scale, taps x in [trunc(center − support + 0.5) clamped to ≥ 0,
//   trunc(center + support + 0.5) clamped to ≤ I), weights f((x − center + 0.5)/filterscale) in Double, divided
//   by their sum.
// - 8-bit fixed point with 22 fractional bits: k = trunc(w·2²² ± 0.5) (half away from zero); the accumulator
//   starts at 2²¹ (so the final shift rounds), sums pixel·k in 32-bit integers, then `acc >> 22` clipped to 0…255.
// Every output pixel depends only on its own coefficients, so computing a window of the output (the centre crop)
// gives exactly the same values as resizing everything and cropping afterwards.

/// Pillow's antialiasing filters, with the values `PIL.Image.Resampling` gives them (as in a
/// `preprocessor_config.json`'s `resample`).
public enum PillowFilter: Int, Sendable, CaseIterable {
    /// `Image.Resampling.BILINEAR` (2): triangle, support 1.
    case bilinear = 2
    /// `Image.Resampling.BICUBIC` (3): Keys cubic with a = −0.5, support 2.
    case bicubic = 3

    /// The filter's support in input pixels before scaling by the downscale factor.
    var support: Double {
        switch self {
        case .bilinear: return 1
        case .bicubic: return 2
        }
    }

    /// The kernel at `x` (Resample.c's `bilinear_filter` / `bicubic_filter`, same operation order).
    @inline(__always)
    func weight(_ x: Double) -> Double {
        let x = Swift.abs(x)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// The fixed-point taps of one axis for a range of output positions (`precompute_coeffs` +
/// `normalize_coeffs_8bpc`).
struct PillowCoefficients {
    /// The first output position described.
    let firstOutput: Int
    /// Per output: the first input index it reads.
    let start: [Int]
    /// Per output: how many consecutive inputs it reads.
    let count: [Int]
    /// Per output, `stride` slots of which the first `count` are used: weights scaled by 2²².
    let weights: [Int32]
    let stride: Int

    static let precisionBits = 22

    init(inSize: Int, outSize: Int, filter: PillowFilter, outputs: Range<Int>) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        stride = Int(support.rounded(.up)) * 2 + 1
        firstOutput = outputs.lowerBound
        var start = [Int](), count = [Int](), weights = [Int32](repeating: 0, count: outputs.count * stride)
        start.reserveCapacity(outputs.count)
        count.reserveCapacity(outputs.count)
        var k = [Double](repeating: 0, count: stride)
        let one = Double(1 << Self.precisionBits)
        for (i, out) in outputs.enumerated() {
            let center = (Double(out) + 0.5) * scale
            let ss = 1 / filterScale
            let lo = max(Int(center - support + 0.5), 0)            // C's (int) cast: truncation toward zero
            let n = min(Int(center + support + 0.5), inSize) - lo
            var sum = 0.0
            for x in 0..<n {
                let w = filter.weight((Double(x + lo) - center + 0.5) * ss)
                k[x] = w
                sum += w
            }
            for x in 0..<n {
                let w = sum != 0 ? k[x] / sum : k[x]
                weights[i * stride + x] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
            }
            start.append(lo)
            count.append(n)
        }
        self.start = start
        self.count = count
        self.weights = weights
    }

    /// The input range that outputs `firstOutput ..< firstOutput + start.count` read.
    var inputSpan: Range<Int> {
        guard let lo = start.min() else { return 0..<0 }
        let hi = zip(start, count).map { $0 + $1 }.max()!
        return lo..<hi
    }
}

/// Pillow-exact resizing of packed RGB images (see the notes at the top of this file).
///
/// ```swift
/// let small = PillowResample.resize(image, width: 398, height: 224, filter: .bicubic)
/// ```
public enum PillowResample {
    /// `PIL.Image.fromarray(rgb).resize((width, height), filter)`, bit for bit.
    /// - Precondition: `width`, `height` > 0.
    public static func resize(_ image: RGBImage, width: Int, height: Int, filter: PillowFilter) -> RGBImage {
        let pixels = image.pixels.withUnsafeBufferPointer {
            resizeWindow($0.baseAddress!, width: image.width, height: image.height, toWidth: width, toHeight: height,
                         filter: filter, columns: 0..<width, rows: 0..<height)
        }
        return try! RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Whether Pillow runs the horizontal pass first: Pillow 13 runs the vertical pass first when the height
    /// shrinks by more than twice as many pixels as the width (`ImagingResampleInner`); Pillow ≤ 12 always ran the
    /// horizontal pass first. The order changes results (each pass rounds to uint8), so it is followed exactly.
    public static func horizontalFirst(width: Int, height: Int, toWidth: Int, toHeight: Int) -> Bool {
        !(height - toHeight > 0 && height - toHeight > (width - toWidth) * 2)
    }

    /// Columns `columns` and rows `rows` of the image resized to `toWidth × toHeight` (exactly those pixels of the
    /// full resize), packed RGB, `rows.count × columns.count × 3` bytes.
    static func resizeWindow(_ src: UnsafePointer<UInt8>, width: Int, height: Int, toWidth: Int, toHeight: Int,
                             filter: PillowFilter, columns: Range<Int>, rows: Range<Int>) -> [UInt8] {
        precondition(toWidth > 0 && toHeight > 0, "resize to \(toWidth)x\(toHeight)")
        precondition(columns.lowerBound >= 0 && columns.upperBound <= toWidth && rows.lowerBound >= 0
                     && rows.upperBound <= toHeight, "window \(columns) x \(rows) outside \(toWidth)x\(toHeight)")
        let outColumns = columns.count, outRows = rows.count, rowBytes = outColumns * 3
        var out = [UInt8](repeating: 0, count: outRows * rowBytes)
        guard outColumns > 0, outRows > 0 else { return out }
        let horizontal = toWidth != width
            ? PillowCoefficients(inSize: width, outSize: toWidth, filter: filter, outputs: columns) : nil
        let vertical = toHeight != height
            ? PillowCoefficients(inSize: height, outSize: toHeight, filter: filter, outputs: rows) : nil
        let sourceBytes = width * 3
        out.withUnsafeMutableBufferPointer { outBuffer in
            let dst = outBuffer.baseAddress!
            switch (horizontal, vertical) {
            case (nil, nil):
                for i in 0..<outRows {
                    (dst + i * rowBytes).update(from: src + (rows.lowerBound + i) * sourceBytes + columns.lowerBound * 3,
                                                count: rowBytes)
                }
            case (let h?, nil):
                for i in 0..<outRows {
                    horizontalPass(src + (rows.lowerBound + i) * sourceBytes, firstColumn: 0, into: dst + i * rowBytes, h)
                }
            case (nil, let v?):
                verticalPass(src + columns.lowerBound * 3, stride: sourceBytes, firstRow: 0, into: dst,
                             rowBytes: rowBytes, v)
            case (let h?, let v?):
                if horizontalFirst(width: width, height: height, toWidth: toWidth, toHeight: toHeight) {
                    // The window's columns for every source row the vertical taps read, then the vertical pass.
                    let sourceRows = v.inputSpan
                    var temp = [UInt8](repeating: 0, count: sourceRows.count * rowBytes)
                    temp.withUnsafeMutableBufferPointer { t in
                        for (i, y) in sourceRows.enumerated() {
                            horizontalPass(src + y * sourceBytes, firstColumn: 0, into: t.baseAddress! + i * rowBytes, h)
                        }
                        verticalPass(t.baseAddress!, stride: rowBytes, firstRow: sourceRows.lowerBound, into: dst,
                                     rowBytes: rowBytes, v)
                    }
                } else {
                    // The window's rows for every source column the horizontal taps read, then the horizontal pass.
                    let sourceColumns = h.inputSpan
                    let tempBytes = sourceColumns.count * 3
                    var temp = [UInt8](repeating: 0, count: outRows * tempBytes)
                    temp.withUnsafeMutableBufferPointer { t in
                        verticalPass(src + sourceColumns.lowerBound * 3, stride: sourceBytes, firstRow: 0,
                                     into: t.baseAddress!, rowBytes: tempBytes, v)
                        for i in 0..<outRows {
                            horizontalPass(t.baseAddress! + i * tempBytes, firstColumn: sourceColumns.lowerBound,
                                           into: dst + i * rowBytes, h)
                        }
                    }
                }
            }
        }
        return out
    }

    /// `clip8`: the accumulator's integer part (arithmetic shift), clamped to 0…255.
    @inline(__always)
    static func clip8(_ acc: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: Swift.min(Swift.max(acc >> Int32(PillowCoefficients.precisionBits), 0), 255))
    }

    /// One row: every output column of `c` from a packed RGB row whose first pixel is column `firstColumn`.
    static func horizontalPass(_ row: UnsafePointer<UInt8>, firstColumn: Int, into out: UnsafeMutablePointer<UInt8>,
                               _ c: PillowCoefficients) {
        let half = Int32(1 << (PillowCoefficients.precisionBits - 1))
        c.weights.withUnsafeBufferPointer { weights in
            for i in 0..<c.start.count {
                let k = weights.baseAddress! + i * c.stride
                var p = row + (c.start[i] - firstColumn) * 3
                var r = half, g = half, b = half
                for t in 0..<c.count[i] {
                    let w = k[t]
                    r &+= Int32(p[0]) &* w
                    g &+= Int32(p[1]) &* w
                    b &+= Int32(p[2]) &* w
                    p += 3
                }
                out[3 * i] = clip8(r)
                out[3 * i + 1] = clip8(g)
                out[3 * i + 2] = clip8(b)
            }
        }
    }

    /// Every output row of `c`, each a weighted sum of stage-1 rows (row `y` of the source at
    /// `stage1 + (y − firstRow)·stride`), accumulated a whole row at a time so the loop vectorises.
    static func verticalPass(_ stage1: UnsafePointer<UInt8>, stride: Int, firstRow: Int,
                             into out: UnsafeMutablePointer<UInt8>, rowBytes: Int, _ c: PillowCoefficients) {
        let half = Int32(1 << (PillowCoefficients.precisionBits - 1))
        var acc = [Int32](repeating: 0, count: rowBytes)
        acc.withUnsafeMutableBufferPointer { accBuffer in
            let a = accBuffer.baseAddress!
            c.weights.withUnsafeBufferPointer { weights in
                for i in 0..<c.start.count {
                    a.update(repeating: half, count: rowBytes)
                    let k = weights.baseAddress! + i * c.stride
                    for t in 0..<c.count[i] {
                        let w = k[t]
                        let src = stage1 + (c.start[i] + t - firstRow) * stride
                        for j in 0..<rowBytes { a[j] &+= Int32(src[j]) &* w }
                    }
                    let o = out + i * rowBytes
                    for j in 0..<rowBytes { o[j] = clip8(a[j]) }
                }
            }
        }
    }
}
