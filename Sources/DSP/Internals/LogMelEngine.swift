import CDSPKernels
import Foundation

/// Checks the fields shared by MFCC and log-mel configurations and resolves `fmax` (nil → sr/2).
func validateSpectral(sampleRate: Int, nFFT: Int, hop: Int, nMels: Int, fmin: Double, fmax: Double?,
                      topDB: Float?) throws -> Double {
    func fail(_ s: String) -> DSPError { .invalidConfig(s) }
    guard sampleRate >= 1 else { throw fail("sampleRate must be at least 1 (got \(sampleRate))") }
    guard nFFT >= 2 else { throw fail("nFFT must be at least 2 (got \(nFFT))") }
    guard nFFT <= 1 << 24 else { throw fail("nFFT must be at most \(1 << 24) (got \(nFFT))") }
    guard hop >= 1 else { throw fail("hop must be at least 1 (got \(hop))") }
    guard nMels >= 1 else { throw fail("nMels must be at least 1 (got \(nMels))") }
    let nyquist = Double(sampleRate) / 2
    let top = fmax ?? nyquist
    guard fmin.isFinite, fmin >= 0 else { throw fail("fmin must be a finite frequency >= 0 Hz (got \(fmin))") }
    guard top.isFinite, top <= nyquist else {
        throw fail("fmax must be at most sampleRate / 2 = \(nyquist) Hz (got \(top))")
    }
    guard fmin < top else { throw fail("fmin (\(fmin) Hz) must be below fmax (\(top) Hz)") }
    if let topDB {
        guard topDB.isFinite, topDB >= 0 else { throw fail("topDB must be a finite value >= 0 dB, or nil (got \(topDB))") }
    }
    return top
}

/// The part MFCC and log-mel share: centred STFT → power → Slaney mel → decibels of the whole clip, band-major
/// (`[nMels, frames]`), with the clip's maximum for the `top_db` clamp (applied by the caller while reading).
///
/// librosa 0.11 (NUMERICS.md §1.2–1.4) multiplies window (float64) and frame and runs the real FFT in double
/// precision, stores the bins as complex64, takes `|X|` in float32 and squares it in float32; the mel product is a
/// float32 einsum; `10 * log10(max(1e-10, S))` is float32. This engine:
/// - runs window*frame and the FFT in **double precision** (FFTW `fftw_`, not `fftwf_`), two real frames per
///   complex FFT (`A + iB`, separated exactly in double; an all-zero frame beside a loud one gets a residue far
///   below `amin`);
/// - forms `|X|^2` in double and rounds it to float32 once, instead of rounding X, then |X|, then the square
///   (at most ~2 float32 ulps apart);
/// - applies the float32 Slaney filterbank with float32 sums over the bins in order, vectorised over frames;
/// - takes decibels with a vectorised float32 `10 * log10` (`decibels`: within 1e-6 dB), then the caller clamps
///   to `max(v, clipMax - topDB)`.
///
/// Speed (about 55% of the time is the FFT itself): pairs of frames that read only zeros (digital silence at
/// either end of the clip) skip window, FFT and separation; power values that would be denormal in float32 are
/// flushed (`powerFloor`); on CPUs with AVX2 the window, separation, mel+decibels and DCT loops run as the
/// `CDSPKernels` C kernels, which do the same IEEE operations in the same order per value as the Swift loops
/// (bit-identical results; `DSP_NO_AVX2=1` in the environment forces the Swift loops).
///
/// Choices measured against the librosa goldens (Tests/Fixtures/dsp; max abs error over all five cases):
/// - single-precision FFT (`fftwf_`, float32 window*frame): log-mel up to 2.9e-4 dB and MFCC 2.5e-4 on quiet
///   speech frames, 40x worse than double and too close to the 1e-3 tolerance (a numpy float32 emulation on the
///   bundled sample's clips gives up to 6e-4 dB log-mel, 2.9e-4 MFCC), although a packed float32 FFT of 400
///   points takes about half the time of the double one;
/// - double FFT with every librosa rounding point reproduced (complex64, float32 `|X|`, `log10f`): log-mel within
///   7.6e-6 dB, MFCC within 1.2e-4 (one ulp of C0 ≈ -632), but about 0.25 ms slower per 4 s clip (a scalar
///   square root per bin and a `log10f` call per value);
/// - this code: the same maxima, 7.6e-6 dB and 1.2e-4 (GoldenTests prints them).
final class LogMelEngine: @unchecked Sendable {
    let nFFT: Int
    let hop: Int
    let nMels: Int
    let topDB: Float?
    let window: [Double]
    let filterbank: SparseFilterbank
    let fft: ComplexFFT
    /// Whether this engine runs the AVX2 kernels (`cpuRunsAVX2` unless a test asks for the Swift loops).
    let avx2: Bool

    init(sampleRate: Int, nFFT: Int, hop: Int, nMels: Int, fmin: Double, fmax: Double, topDB: Float?,
         avx2: Bool = LogMelEngine.cpuRunsAVX2) throws {
        self.avx2 = avx2
        self.nFFT = nFFT
        self.hop = hop
        self.nMels = nMels
        self.topDB = topDB
        self.window = LogMelEngine.periodicHann(nFFT)
        let dense = MelFilterbank.slaney(sampleRate: sampleRate, nFFT: nFFT, nMels: nMels, fmin: fmin, fmax: fmax)
        // Quartered (exactly) to absorb the 4 in the two-frame separation below.
        self.filterbank = SparseFilterbank(dense: dense.map { $0 * 0.25 }, nMels: nMels, bins: nFFT / 2 + 1)
        self.fft = try ComplexFFT(n: nFFT)
    }

    /// `scipy.signal.get_window("hann", n, fftbins=True)`: `0.5 + 0.5 * cos(x)` over
    /// `x = linspace(-pi, pi, n + 1)[:n]`, which equals `0.5 - 0.5 * cos(2 pi i / n)`.
    static func periodicHann(_ n: Int) -> [Double] {
        guard n > 1 else { return [Double](repeating: 1, count: n) }
        let step = (Double.pi - -Double.pi) / Double(n)
        return (0..<n).map { i in 0.5 + 0.5 * cos(Double(i) * step + -Double.pi) }
    }

    func frameCount(_ samples: Int) -> Int { Framing.centredFrameCount(samples: samples, nFFT: nFFT, hop: hop) }

    /// Frames processed together (even): their power spectra are stored bin-major (`bins x blockFrames`) so the
    /// mel product runs over contiguous frames, vectorised, instead of one short dependent sum per band and frame.
    /// 32 frames of power (26 KB at nFFT 400) stay in L1 beside the FFT buffers.
    static let blockFrames = 32

    /// Power values (`4 |X|^2`, double) below this are stored as 0. They are the separation residue of an
    /// all-zero frame packed beside a non-zero one, or the spectrum of a nearly silent frame; as float32 they are
    /// denormal or turn denormal in the mel products, and every denormal operation costs a microcode assist
    /// (measured on the sample clips, whose decoded audio fades to tiny values before its trailing zeros: the
    /// mel and dB stages ran 2.5x slower, the whole MFCC about 20%).
    /// Dropping them moves a mel sum by less than 1e-20: a band at or above `amin = 1e-10` changes by at most
    /// one float32 ulp (2.6e-7 dB), and only if its sum lies that close to a rounding boundary; a band below
    /// `amin` is clamped to it anyway.
    static let powerFloor = 1e-20

    /// Whether the CPU (and OS) run AVX2 code.
    static let cpuHasAVX2 = dsp_cpu_has_avx2() != 0

    /// Whether the AVX2 kernels of `CDSPKernels` replace the Swift loops by default: the CPU has AVX2 and
    /// `DSP_NO_AVX2` is not set in the environment. Both give bit-identical results.
    static let cpuRunsAVX2 = cpuHasAVX2 && ProcessInfo.processInfo.environment["DSP_NO_AVX2"] == nil

    /// The unclamped decibels of the whole clip, `10 * log10(max(1e-10, mel))`, written **band-major** into
    /// `db[m * frames + t]` (`nMels * frames` values, `frames == frameCount(samples.count)`).
    /// - Returns: the largest of them (the `top_db` reference), or -infinity when there are no frames.
    func melDecibels(_ samples: UnsafeBufferPointer<Float>, into db: UnsafeMutablePointer<Float>) -> Float {
        let frames = frameCount(samples.count)
        guard frames > 0 else { return -.infinity }
        let nFFT = self.nFFT, hop = self.hop, nMels = self.nMels, bins = nFFT / 2 + 1, pad = nFFT / 2
        let block = LogMelEngine.blockFrames
        let buffers = FFTBuffers(n: nFFT)
        let input = buffers.input, z = buffers.output
        // Power spectra of one block, bin-major (`power[k * block + b]`); the separation loop writes every entry
        // the mel loop reads.
        let power = UnsafeMutablePointer<Float>.allocate(capacity: bins * block)
        defer { power.deallocate() }
        let amin: Float = 1e-10, powerFloor = LogMelEngine.powerFloor, avx2 = self.avx2
        var peak8 = SIMD8<Float>(repeating: -.infinity)
        var peak: Float = -.infinity

        // Frames that hang over either end of the clip, zero-padded (one buffer per lane of a pair).
        let edges = UnsafeMutablePointer<Float>.allocate(capacity: 2 * nFFT)
        defer { edges.deallocate() }

        window.withUnsafeBufferPointer { w in
        filterbank.start.withUnsafeBufferPointer { fbStart in
        filterbank.offset.withUnsafeBufferPointer { fbOffset in
        filterbank.weights.withUnsafeBufferPointer { fbWeights in
            // nil only for an empty clip, whose single frame never reads a sample.
            let x = samples.baseAddress, n = samples.count
            let w = w.baseAddress!, p = power

            // Frames that cover no non-zero sample have an all-zero spectrum, so pairs of such frames skip the
            // window, FFT and separation. Only the leading and trailing zero runs are looked for: synthetic or
            // padded audio has them (the bundled sample's espeak-ng clips end in ~5000 zeros, 18% of their
            // frames); recorded audio rarely does, and then both scans stop at once.
            var lastNonZero = n - 1
            while lastNonZero >= 7 {
                let v = UnsafeRawPointer(x! + (lastNonZero - 7)).loadUnaligned(as: SIMD8<Float>.self)
                if any(v .!= 0) { break }
                lastNonZero -= 8
            }
            while lastNonZero >= 0 && x![lastNonZero] == 0 { lastNonZero -= 1 }
            var firstNonZero = 0
            while firstNonZero < lastNonZero && x![firstNonZero] == 0 { firstNonZero += 1 }
            /// Whether frame t (or a frame index past the end) reads only zeros.
            func silent(_ t: Int) -> Bool {
                let origin = t * hop - pad
                return t >= frames || origin > lastNonZero || origin + nFFT <= firstNonZero
            }
            /// The `nFFT` samples of frame t: in place inside the clip, else copied zero-padded into `edges`.
            func frameSamples(_ t: Int, lane: Int) -> UnsafePointer<Float> {
                let origin = t * hop - pad
                if t < frames && origin >= 0 && origin + nFFT <= n { return x! + origin }
                let buffer = edges + lane * nFFT
                buffer.initialize(repeating: 0, count: nFFT)
                let lo = min(nFFT, max(0, -origin)), hi = max(lo, min(nFFT, n - origin))
                if t < frames && hi > lo { (buffer + lo).update(from: x! + (origin + lo), count: hi - lo) }
                return UnsafePointer(buffer)
            }

            for t0 in stride(from: 0, to: frames, by: block) {
                let count = min(block, frames - t0)
                for b in stride(from: 0, to: count, by: 2) {
                    // Frames a = t0+b and b' = a+1 (maybe past the end) as one complex signal a + i b'.
                    let ta = t0 + b
                    if silent(ta) && silent(ta + 1) {
                        var out = p + b
                        for _ in 0..<bins {
                            UnsafeMutableRawPointer(out).storeBytes(of: SIMD2<Float>(), as: SIMD2<Float>.self)
                            out += block
                        }
                        continue
                    }
                    let xa = frameSamples(ta, lane: 0), xb = frameSamples(ta + 1, lane: 1)
                    if avx2 {
                        dsp_window_pair_avx2(xa, xb, w, input, nFFT)
                    } else {
                        for i in 0..<nFFT {
                            input[2 * i] = w[i] * Double(xa[i])
                            input[2 * i + 1] = w[i] * Double(xb[i])
                        }
                    }
                    fft.execute(buffers)
                    // Z = A + iB' ⇒ A[k] = (Z[k] + conj Z[N-k]) / 2, B'[k] = (Z[k] - conj Z[N-k]) / 2i, so with
                    // Z[k] = a + ib, Z[N-k] = c + id: |A|^2 = ((a+c)^2 + (b-d)^2) / 4, |B'|^2 = ((b+d)^2 + (a-c)^2) / 4.
                    // In SIMD2 lanes: s = Z[k] + Z[N-k] = (a+c, b+d), t = Z[k] - Z[N-k] = (a-c, b-d), and
                    // 4 (|A|^2, |B'|^2) = (s.x^2 + t.y^2, s.y^2 + t.x^2), stored as one float pair. The factor 4
                    // is undone exactly by the quartered filterbank weights (powers of two commute with rounding).
                    var first = SIMD2<Double>(4 * z[0] * z[0], 4 * z[1] * z[1])
                    first.replace(with: 0, where: first .< powerFloor)
                    UnsafeMutableRawPointer(p + b).storeBytes(of: SIMD2<Float>(first), as: SIMD2<Float>.self)
                    if avx2 {
                        dsp_separate_avx2(z, nFFT, bins, p + b, block, powerFloor)
                        continue
                    }
                    // Pointer increments rather than index arithmetic keep overflow checks out of the loop.
                    let rowBytes = 4 * block
                    var out = UnsafeMutableRawPointer(p + b)
                    var up = UnsafeRawPointer(z + 2), down = UnsafeRawPointer(z + 2 * (nFFT - 1))
                    for _ in 1..<bins {
                        out += rowBytes
                        let zk = up.load(as: SIMD2<Double>.self), zr = down.load(as: SIMD2<Double>.self)
                        let s = zk + zr, t = zk - zr
                        let s2 = s * s, t2 = t * t
                        var pair = s2 + SIMD2(t2.y, t2.x)
                        pair.replace(with: 0, where: pair .< powerFloor)
                        out.storeBytes(of: SIMD2<Float>(pair), as: SIMD2<Float>.self)
                        up += 16
                        down -= 16
                    }
                }
                // Mel product, float32, bins summed in order for each band, vectorised over the block's frames
                // (32 at a time in four 8-lane accumulators, so the adds of different frames overlap), then
                // decibels and the running maximum while the band's values are in registers.
                if avx2 {
                    // The kernel reads the columns up to the next multiple of 8: give them finite values.
                    let end = min(block, (count + 7) / 8 * 8)
                    if end > count {
                        for k in 0..<bins { (p + k * block + count).initialize(repeating: 0, count: end - count) }
                    }
                    peak = max(peak, dsp_mel_db_avx2(p, block, count, nMels, fbStart.baseAddress!, fbOffset.baseAddress!,
                                                     fbWeights.baseAddress!, db + t0, frames, amin))
                    continue
                }
                for m in 0..<nMels {
                    let dst = db + m * frames + t0
                    let o = fbOffset[m], taps = fbOffset[m + 1] - o
                    let weights = fbWeights.baseAddress! + o, band = p + fbStart[m] * block
                    let rowBytes = 4 * block
                    var b = 0
                    while b + 32 <= count {
                        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                        var src = UnsafeRawPointer(band + b)
                        for j in 0..<taps {
                            let wj = weights[j]
                            a0 += wj * src.loadUnaligned(as: SIMD8<Float>.self)
                            a1 += wj * src.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                            a2 += wj * src.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                            a3 += wj * src.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                            src += rowBytes
                        }
                        a0 = decibels(lanewiseMax(a0, SIMD8(repeating: amin)))
                        a1 = decibels(lanewiseMax(a1, SIMD8(repeating: amin)))
                        a2 = decibels(lanewiseMax(a2, SIMD8(repeating: amin)))
                        a3 = decibels(lanewiseMax(a3, SIMD8(repeating: amin)))
                        peak8 = lanewiseMax(peak8, lanewiseMax(lanewiseMax(a0, a1), lanewiseMax(a2, a3)))
                        let d = UnsafeMutableRawPointer(dst + b)
                        d.storeBytes(of: a0, as: SIMD8<Float>.self)
                        d.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
                        d.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self)
                        d.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
                        b += 32
                    }
                    while b + 8 <= count {
                        var acc = SIMD8<Float>()
                        var src = UnsafeRawPointer(band + b)
                        for j in 0..<taps {
                            acc += weights[j] * src.loadUnaligned(as: SIMD8<Float>.self)
                            src += rowBytes
                        }
                        acc = decibels(lanewiseMax(acc, SIMD8(repeating: amin)))
                        peak8 = lanewiseMax(peak8, acc)
                        UnsafeMutableRawPointer(dst + b).storeBytes(of: acc, as: SIMD8<Float>.self)
                        b += 8
                    }
                    while b < count {
                        var acc: Float = 0
                        var src = band + b
                        for j in 0..<taps {
                            acc += weights[j] * src.pointee
                            src += block
                        }
                        let value = decibels(max(amin, acc))
                        peak = max(peak, value)
                        dst[b] = value
                        b += 1
                    }
                }
            }
        }}}}
        return max(peak, peak8.max())
    }

    /// The `top_db` floor for a clip whose largest decibel value is `peak`: `peak - topDB`, or -infinity
    /// without a clamp. `max(v, floor)` is then librosa's `power_to_db` clamp.
    func floor(peak: Float) -> Float {
        guard let topDB else { return -.infinity }
        return peak - topDB
    }
}
