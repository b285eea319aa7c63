import Foundation

/// Parameters of `MFCC`. The defaults are the MELD audio features: 13 x 401 at 16 kHz, 25 ms / 10 ms.
public struct MFCCConfig: Codable, Hashable, Sendable {
    /// Sampling rate of the input in Hz.
    public var sampleRate = 16000
    /// Cepstral coefficients kept (the first `nMFCC` of the DCT; 1...nMels).
    public var nMFCC = 13
    /// FFT and window length in samples.
    public var nFFT = 400
    /// Hop between frames in samples.
    public var hop = 160
    /// Mel bands.
    public var nMels = 40
    /// Lowest mel band edge in Hz.
    public var fmin: Double = 0
    /// Highest mel band edge in Hz; nil means `sampleRate / 2`.
    public var fmax: Double? = 8000
    /// Dynamic range clamp in dB below the clip's maximum; nil means no clamp.
    public var topDB: Float? = 80
    /// Frames kept by `MFCC.compute` (right zero-padding or truncation).
    public var frames = 401

    public init() {}
}

/// MFCCs of one clip, padded or truncated to a fixed number of frames.
public struct MFCCResult: Sendable {
    /// `nMFCC x frames`, row-major (coefficient-major, like librosa's `(n_mfcc, T)`), right zero-padded or truncated
    /// to `MFCCConfig.frames`.
    public var coefficients: [Float]
    /// Frames holding real data: `min(totalFrames, frames)`.
    public var realFrames: Int
    /// Frames of the whole clip before padding/truncation: `1 + n_samples / hop` (centred framing, even nFFT).
    public var totalFrames: Int

    public init(coefficients: [Float], realFrames: Int, totalFrames: Int) {
        self.coefficients = coefficients
        self.realFrames = realFrames
        self.totalFrames = totalFrames
    }
}

/// librosa-exact MFCC on FFTW:
/// `librosa.feature.mfcc(y=samples, sr=, n_mfcc=, n_fft=, hop_length=, n_mels=, fmin=, fmax=)` with librosa 0.11's
/// defaults for everything else (periodic Hann, centred zero padding, power 2, Slaney mel and norm,
/// `power_to_db(ref=1, amin=1e-10, top_db=)` with the maximum over the whole clip, DCT-II ortho, no lifter).
/// See `NUMERICS.md` §1. Matches the librosa goldens in `Tests/Fixtures/dsp` within 1.2e-4 (tests require 1e-3);
/// the precision and speed choices are described on `LogMelEngine`.
///
/// ```swift
/// let mfcc = try MFCC(MFCCConfig())          // 13 x 401 at 16 kHz
/// let r = mfcc.compute(samples)              // r.coefficients[k * 401 + t]
/// ```
///
/// The instance is immutable after `init` (window, sparse filterbank, DCT matrix, FFTW plan); `compute` and
/// `computeFull` allocate their own buffers, so both are safe to call from many threads at once.
///
/// Edge cases: the input may be shorter than one frame (it is zero-padded, as librosa does). An empty input,
/// which librosa rejects, follows the frame formula: one all-zero frame for even `nFFT` (every mel band at
/// -100 dB), no frame for odd `nFFT` (then `compute` returns all zeros with `realFrames == totalFrames == 0`).
public final class MFCC: @unchecked Sendable {
    public let config: MFCCConfig
    private let engine: LogMelEngine
    /// DCT-II ortho basis, `nMFCC x nMels`: `s_k * cos(pi * k * (2n + 1) / (2 * nMels))`.
    private let dct: [Double]

    /// Precomputes the window, filterbank, DCT matrix, and plans the FFT.
    /// - Throws: `DSPError.invalidConfig` for nFFT < 2, hop < 1, nMels < 1, nMFCC outside 1...nMels, frames < 1,
    ///   fmin < 0, fmin >= fmax, fmax > sampleRate / 2, or a negative topDB.
    public init(_ config: MFCCConfig) throws {
        let fmax = try validateSpectral(sampleRate: config.sampleRate, nFFT: config.nFFT, hop: config.hop,
                                        nMels: config.nMels, fmin: config.fmin, fmax: config.fmax, topDB: config.topDB)
        guard config.nMFCC >= 1, config.nMFCC <= config.nMels else {
            throw DSPError.invalidConfig("nMFCC must be between 1 and nMels = \(config.nMels) (got \(config.nMFCC))")
        }
        guard config.frames >= 1 else { throw DSPError.invalidConfig("frames must be at least 1 (got \(config.frames))") }
        self.config = config
        self.engine = try LogMelEngine(sampleRate: config.sampleRate, nFFT: config.nFFT, hop: config.hop,
                                       nMels: config.nMels, fmin: config.fmin, fmax: fmax, topDB: config.topDB)
        let n = config.nMels
        var dct = [Double](repeating: 0, count: config.nMFCC * n)
        for k in 0..<config.nMFCC {
            let scale = (k == 0 ? 1.0 : 2.0) / Double(n)
            for i in 0..<n {
                dct[k * n + i] = scale.squareRoot() * cos(Double.pi * Double(k) * Double(2 * i + 1) / Double(2 * n))
            }
        }
        self.dct = dct
    }

    /// MFCCs of the whole clip, padded with zero columns or truncated on the right to `config.frames`.
    /// The `top_db` clamp still uses the maximum over the whole clip, including truncated frames.
    public func compute(_ samples: [Float]) -> MFCCResult {
        let (values, total) = coefficients(samples, columns: config.frames)
        return MFCCResult(coefficients: values, realFrames: min(total, config.frames), totalFrames: total)
    }

    /// MFCCs of the whole clip, untruncated: `nMFCC x T` row-major with `T = frames`, as `librosa.feature.mfcc`.
    public func computeFull(_ samples: [Float]) -> (values: [Float], frames: Int) {
        let total = engine.frameCount(samples.count)
        return (coefficients(samples, columns: total).values, total)
    }

    /// DCT of the first `min(T, columns)` frames into an `nMFCC x columns` zero-initialised matrix.
    ///
    /// Double-precision sums, vectorised over frames (the dB matrix is band-major). The DCT-II basis is symmetric
    /// (even k) or antisymmetric (odd k) about the middle band, so each coefficient sums `nMels / 2` products of
    /// the basis with `x[i] + x[N-1-i]` or `x[i] - x[N-1-i]` (exact in double), halving the work.
    private func coefficients(_ samples: [Float], columns: Int) -> (values: [Float], total: Int) {
        let (db, total) = engine.melDB(samples)
        let nMels = config.nMels, nMFCC = config.nMFCC, half = nMels / 2
        var out = [Float](repeating: 0, count: nMFCC * columns)
        let kept = min(total, columns)
        guard kept > 0 else { return (out, total) }
        // sums[i] = x[i] + x[N-1-i], diffs[i] = x[i] - x[N-1-i] for i < half; the middle band (odd N) in sums[half].
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: (half + 1) * kept)
        let diffs = UnsafeMutablePointer<Double>.allocate(capacity: max(half, 1) * kept)
        defer { sums.deallocate(); diffs.deallocate() }
        db.withUnsafeBufferPointer { db in
        dct.withUnsafeBufferPointer { basis in
        out.withUnsafeMutableBufferPointer { out in
            let db = db.baseAddress!
            for i in 0..<half {
                let lo = db + i * total, hi = db + (nMels - 1 - i) * total
                let s = sums + i * kept, d = diffs + i * kept
                for t in 0..<kept {
                    s[t] = Double(lo[t]) + Double(hi[t])
                    d[t] = Double(lo[t]) - Double(hi[t])
                }
            }
            if nMels % 2 == 1 {
                let mid = db + half * total, s = sums + half * kept
                for t in 0..<kept { s[t] = Double(mid[t]) }
            }
            // Odd k: cos(pi k / 2) = 0 at the middle band of an odd nMels, so only even k use sums[half].
            let evenTerms = nMels % 2 == 1 ? half + 1 : half
            for k in 0..<nMFCC {
                let source = UnsafeRawPointer(k % 2 == 0 ? sums : diffs), terms = k % 2 == 0 ? evenTerms : half
                let coefficients = basis.baseAddress! + k * nMels
                let dst = out.baseAddress! + k * columns
                let rowBytes = 8 * kept
                var t = 0
                // Eight frames at a time, accumulated in registers over the terms (pointer increments keep
                // overflow checks out of the inner loop).
                while t + 8 <= kept {
                    var acc = SIMD8<Double>()
                    var row = source + 8 * t
                    for i in 0..<terms {
                        acc += coefficients[i] * row.loadUnaligned(as: SIMD8<Double>.self)
                        row += rowBytes
                    }
                    for j in 0..<8 { dst[t + j] = Float(acc[j]) }
                    t += 8
                }
                while t < kept {
                    var acc = 0.0
                    var row = source + 8 * t
                    for i in 0..<terms {
                        acc += coefficients[i] * row.load(as: Double.self)
                        row += rowBytes
                    }
                    dst[t] = Float(acc)
                    t += 1
                }
            }
        }}}
        return (out, total)
    }
}
