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

/// The part MFCC and log-mel share: centred STFT → power → Slaney mel → `power_to_db` with the clip-wide
/// `top_db` clamp, producing a band-major `[nMels, frames]` dB matrix.
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
/// - takes decibels with a vectorised float32 `10 * log10` (`decibels`: within 1e-6 dB), then
///   `max(v, clipMax - topDB)`.
///
/// Choices measured against the librosa goldens (Tests/Fixtures/dsp; max abs error over all five cases):
/// - single-precision FFT (`fftwf_`, float32 window*frame): log-mel up to 2.9e-4 dB and MFCC 2.5e-4 on quiet
///   speech frames, 40x worse than double and too close to the 1e-3 tolerance, for no speed gain at n = 400;
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

    init(sampleRate: Int, nFFT: Int, hop: Int, nMels: Int, fmin: Double, fmax: Double, topDB: Float?) throws {
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
    static let blockFrames = 32

    /// The clamped dB mel matrix of the whole clip, **band-major** `[nMels * frames]` (row m = band m over time).
    func melDB(_ samples: [Float]) -> (values: [Float], frames: Int) {
        let frames = frameCount(samples.count)
        guard frames > 0 else { return ([], 0) }
        let nFFT = self.nFFT, hop = self.hop, nMels = self.nMels, bins = nFFT / 2 + 1, pad = nFFT / 2
        let block = LogMelEngine.blockFrames
        let buffers = FFTBuffers(n: nFFT)
        let input = buffers.input, z = buffers.output
        // Power spectra of one block, bin-major (`power[k * block + b]`); the separation loop writes every entry
        // the mel loop reads.
        var power = [Float](unsafeUninitializedCapacity: bins * block) { _, n in n = bins * block }
        // Every element is written by the mel loop below.
        var mel = [Float](unsafeUninitializedCapacity: nMels * frames) { _, n in n = nMels * frames }

        samples.withUnsafeBufferPointer { x in
        window.withUnsafeBufferPointer { w in
        power.withUnsafeMutableBufferPointer { powerBuffer in
        mel.withUnsafeMutableBufferPointer { melBuffer in
        filterbank.start.withUnsafeBufferPointer { fbStart in
        filterbank.offset.withUnsafeBufferPointer { fbOffset in
        filterbank.weights.withUnsafeBufferPointer { fbWeights in
            let n = x.count
            let w = w.baseAddress!, p = powerBuffer.baseAddress!, melOut = melBuffer.baseAddress!

            /// Writes windowed frame t (zero where it hangs over the signal) into the real (lane 0) or imaginary
            /// (lane 1) parts of the FFT input; a frame index past the end writes zeros.
            func fill(frame t: Int, lane: Int) {
                let slot = input + lane
                let origin = t * hop - pad
                let lo = t < frames ? min(nFFT, max(0, -origin)) : nFFT
                let hi = t < frames ? max(lo, min(nFFT, n - origin)) : nFFT
                for i in 0..<lo { slot[2 * i] = 0 }
                if hi > lo {
                    let src = x.baseAddress! + (origin + lo), win = w + lo, dst = slot + 2 * lo
                    for i in 0..<(hi - lo) { dst[2 * i] = win[i] * Double(src[i]) }
                }
                for i in hi..<nFFT { slot[2 * i] = 0 }
            }

            for t0 in stride(from: 0, to: frames, by: block) {
                let count = min(block, frames - t0)
                for b in stride(from: 0, to: count, by: 2) {
                    // Frames a = t0+b and b' = a+1 (maybe past the end) as one complex signal a + i b'.
                    let ta = t0 + b, originA = ta * hop - pad
                    if originA >= 0 && originA + hop + nFFT <= n {
                        // Both frames inside the signal: one interleaving loop.
                        let xa = x.baseAddress! + originA, xb = xa + hop
                        for i in 0..<nFFT {
                            input[2 * i] = w[i] * Double(xa[i])
                            input[2 * i + 1] = w[i] * Double(xb[i])
                        }
                    } else {
                        fill(frame: ta, lane: 0)
                        fill(frame: ta + 1, lane: 1)
                    }
                    fft.execute(buffers)
                    // Z = A + iB' ⇒ A[k] = (Z[k] + conj Z[N-k]) / 2, B'[k] = (Z[k] - conj Z[N-k]) / 2i, so with
                    // Z[k] = a + ib, Z[N-k] = c + id: |A|^2 = ((a+c)^2 + (b-d)^2) / 4, |B'|^2 = ((b+d)^2 + (a-c)^2) / 4.
                    // In SIMD2 lanes: s = Z[k] + Z[N-k] = (a+c, b+d), t = Z[k] - Z[N-k] = (a-c, b-d), and
                    // 4 (|A|^2, |B'|^2) = (s.x^2 + t.y^2, s.y^2 + t.x^2), stored as one float pair. The factor 4
                    // is undone exactly by the quartered filterbank weights (powers of two commute with rounding).
                    // Pointer increments rather than index arithmetic keep overflow checks out of the loop.
                    let rowBytes = 4 * block
                    var out = UnsafeMutableRawPointer(p + b)
                    out.storeBytes(of: SIMD2<Float>(Float(4 * z[0] * z[0]), Float(4 * z[1] * z[1])), as: SIMD2<Float>.self)
                    var up = UnsafeRawPointer(z + 2), down = UnsafeRawPointer(z + 2 * (nFFT - 1))
                    for _ in 1..<bins {
                        out += rowBytes
                        let zk = up.load(as: SIMD2<Double>.self), zr = down.load(as: SIMD2<Double>.self)
                        let s = zk + zr, t = zk - zr
                        let s2 = s * s, t2 = t * t
                        let pair = s2 + SIMD2(t2.y, t2.x)
                        out.storeBytes(of: SIMD2<Float>(Float(pair.x), Float(pair.y)), as: SIMD2<Float>.self)
                        up += 16
                        down -= 16
                    }
                }
                // Mel product, float32, bins summed in order for each band, vectorised over the block's frames:
                // eight frames at a time held in registers across the band's taps.
                for m in 0..<nMels {
                    let dst = melOut + m * frames + t0
                    let o = fbOffset[m], taps = fbOffset[m + 1] - o
                    let weights = fbWeights.baseAddress! + o, band = p + fbStart[m] * block
                    let rowBytes = 4 * block
                    var b = 0
                    while b + 8 <= count {
                        var acc = SIMD8<Float>()
                        var src = UnsafeRawPointer(band + b)
                        for j in 0..<taps {
                            acc += weights[j] * src.loadUnaligned(as: SIMD8<Float>.self)
                            src += rowBytes
                        }
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
                        dst[b] = acc
                        b += 1
                    }
                }
            }
        }}}}}}}
        powerToDB(&mel)
        return (mel, frames)
    }

    /// `power_to_db` of the mel matrix in place, with this engine's `topDB`.
    func powerToDB(_ values: inout [Float]) { Decibels.powerToDBInPlace(&values, topDB: topDB) }
}
