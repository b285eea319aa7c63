import CDSPKernels
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
    /// The DCT-II ortho basis and the order its coefficients are computed in (see `FoldedDCT`).
    private let dct: FoldedDCT

    /// Precomputes the window, filterbank, DCT matrix, and plans the FFT.
    /// - Throws: `DSPError.invalidConfig` for nFFT < 2, hop < 1, nMels < 1, nMFCC outside 1...nMels, frames < 1,
    ///   fmin < 0, fmin >= fmax, fmax > sampleRate / 2, or a negative topDB.
    public convenience init(_ config: MFCCConfig) throws {
        try self.init(config, avx2: LogMelEngine.cpuRunsAVX2)
    }

    /// `init(_:)`, choosing between the AVX2 kernels and the Swift loops (for the tests that compare them).
    init(_ config: MFCCConfig, avx2: Bool) throws {
        let fmax = try validateSpectral(sampleRate: config.sampleRate, nFFT: config.nFFT, hop: config.hop,
                                        nMels: config.nMels, fmin: config.fmin, fmax: config.fmax, topDB: config.topDB)
        guard config.nMFCC >= 1, config.nMFCC <= config.nMels else {
            throw DSPError.invalidConfig("nMFCC must be between 1 and nMels = \(config.nMels) (got \(config.nMFCC))")
        }
        guard config.frames >= 1 else { throw DSPError.invalidConfig("frames must be at least 1 (got \(config.frames))") }
        self.config = config
        self.engine = try LogMelEngine(sampleRate: config.sampleRate, nFFT: config.nFFT, hop: config.hop,
                                       nMels: config.nMels, fmin: config.fmin, fmax: fmax, topDB: config.topDB,
                                       avx2: avx2)
        self.dct = FoldedDCT(nMels: config.nMels, nMFCC: config.nMFCC)
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

    /// DCT of the first `min(T, columns)` frames into an `nMFCC x columns` zero-initialised matrix; the dB values
    /// of the later frames are still computed, for the clip-wide `top_db` maximum.
    private func coefficients(_ samples: [Float], columns: Int) -> (values: [Float], total: Int) {
        let total = engine.frameCount(samples.count)
        let nMels = config.nMels
        let db = UnsafeMutablePointer<Float>.allocate(capacity: max(1, nMels * total))
        defer { db.deallocate() }
        let floor = engine.floor(peak: samples.withUnsafeBufferPointer { engine.melDecibels($0, into: db) })
        var out = [Float](repeating: 0, count: config.nMFCC * columns)
        let kept = min(total, columns)
        guard kept > 0 else { return (out, total) }
        out.withUnsafeMutableBufferPointer { out in
            dct.apply(db: db, frames: total, kept: kept, floor: floor, into: out.baseAddress!, columns: columns,
                      avx2: engine.avx2)
        }
        return (out, total)
    }
}

/// The orthonormal DCT-II over the mel bands, `C[k] = s_k * sum_i x[i] cos(pi k (2i + 1) / (2N))`
/// (`s_0 = sqrt(1/N)`, `s_k = sqrt(2/N)`), for the first `nMFCC` coefficients, in double precision.
///
/// The basis is symmetric (even k) or antisymmetric (odd k) about the middle band, so the even coefficients
/// need only the `N/2` sums `x[i] + x[N-1-i]` and the odd ones the `N/2` differences. The even ones fold again
/// on the sums (k a multiple of 4 symmetric, k = 2 mod 4 antisymmetric), and so on while at least two
/// coefficients share a level: for N = 40 and 13 coefficients, 170 multiply-adds per frame instead of 520
/// (260 with one fold). The first fold's sums and differences of float32 values are exact in double and the
/// later ones round at double precision, so the results match the plain double sums to about 1e-16.
struct FoldedDCT: Sendable {
    /// One fold: the vector of `length` values becomes `length / 2` sums (plus the middle value for an odd
    /// length, which ends the folding) and `length / 2` differences, from which `oddCoefficients` are summed.
    struct Fold: Sendable {
        let length: Int
        let oddCoefficients: [Int]
    }

    let nMels: Int
    let nMFCC: Int
    /// `nMFCC x nMels`: `s_k * cos(pi * k * (2i + 1) / (2 * nMels))`. A coefficient computed after `j` folds
    /// uses the first entries of its row (band i of the folded vector pairs band i with its mirror images).
    let basis: [Double]
    let folds: [Fold]
    /// The coefficients left after the folds, summed over the first `finalLength` folded values.
    let finalCoefficients: [Int]
    let finalLength: Int
    /// `folds` and the final step flattened for `dsp_dct_avx2`: per fold its length, the number of its odd
    /// coefficients and those coefficients; then the final length, count and coefficients.
    let plan: [Int]

    init(nMels n: Int, nMFCC: Int) {
        self.nMels = n
        self.nMFCC = nMFCC
        var basis = [Double](repeating: 0, count: nMFCC * n)
        for k in 0..<nMFCC {
            let scale = (k == 0 ? 1.0 : 2.0) / Double(n)
            for i in 0..<n {
                basis[k * n + i] = scale.squareRoot() * cos(Double.pi * Double(k) * Double(2 * i + 1) / Double(2 * n))
            }
        }
        self.basis = basis
        // After j even folds the vector has N / 2^j values and holds the coefficients k that are multiples of
        // 2^j; mirroring i -> L-1-i turns the angle into pi k / 2^j - angle, so k / 2^j even is symmetric and
        // odd antisymmetric (cos = 0 at the middle of an odd length).
        var folds = [Fold](), group = Array(0..<nMFCC), length = n, level = 0
        while group.count >= 2 && length >= 2 {
            folds.append(Fold(length: length, oddCoefficients: group.filter { ($0 >> level) & 1 == 1 }))
            group = group.filter { ($0 >> level) & 1 == 0 }
            level += 1
            if length % 2 == 1 { length = length / 2 + 1; break }
            length /= 2
        }
        self.folds = folds
        self.finalCoefficients = group
        self.finalLength = length
        var plan = [Int]()
        for fold in folds { plan += [fold.length, fold.oddCoefficients.count] + fold.oddCoefficients }
        plan += [length, group.count] + group
        self.plan = plan
    }

    /// Coefficients of the first `kept` frames of a band-major dB matrix (`db[m * frames + t]`), each value
    /// first clamped to `max(v, floor)`, into `out[k * columns + t]`: `dsp_dct_avx2` (16 frames at a time) when
    /// `avx2`, else eight frames at a time, one SIMD8 lane per frame; the same operations per frame either way.
    func apply(db: UnsafePointer<Float>, frames: Int, kept: Int, floor: Float,
               into out: UnsafeMutablePointer<Float>, columns: Int, avx2: Bool) {
        let n = nMels
        if avx2 {
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 24 * n)
            defer { scratch.deallocate() }
            basis.withUnsafeBufferPointer { basis in
                plan.withUnsafeBufferPointer { plan in
                    dsp_dct_avx2(db, frames, kept, floor, basis.baseAddress!, n, plan.baseAddress!, folds.count, scratch,
                                 out, columns)
                }
            }
            return
        }
        let values = UnsafeMutablePointer<SIMD8<Double>>.allocate(capacity: n)
        let diffs = UnsafeMutablePointer<SIMD8<Double>>.allocate(capacity: max(1, n / 2))
        defer { values.deallocate(); diffs.deallocate() }
        basis.withUnsafeBufferPointer { basis in
            let basis = basis.baseAddress!
            /// `sum_i basis[k][i] * vector[i]` for i < length, in order.
            func coefficient(_ k: Int, _ vector: UnsafePointer<SIMD8<Double>>, _ length: Int) -> SIMD8<Double> {
                let row = basis + k * n
                var acc = SIMD8<Double>()
                for i in 0..<length { acc += row[i] * vector[i] }
                return acc
            }
            var t = 0
            while t < kept {
                let lanes = min(8, kept - t)
                let low = SIMD8<Float>(repeating: floor)
                for i in 0..<n {
                    let src = db + i * frames + t
                    var v = SIMD8<Float>()
                    if lanes == 8 {
                        v = UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self)
                    } else {
                        for j in 0..<lanes { v[j] = src[j] }
                    }
                    values[i] = SIMD8<Double>(lanewiseMax(v, low))
                }
                func store(_ k: Int, _ c: SIMD8<Double>) {
                    let dst = out + k * columns + t
                    if lanes == 8 {
                        UnsafeMutableRawPointer(dst).storeBytes(of: SIMD8<Float>(c), as: SIMD8<Float>.self)
                    } else {
                        for j in 0..<lanes { dst[j] = Float(c[j]) }
                    }
                }
                for fold in folds {
                    let length = fold.length, half = length / 2
                    for i in 0..<half {
                        let a = values[i], b = values[length - 1 - i]
                        values[i] = a + b
                        diffs[i] = a - b
                    }
                    // An odd length keeps its middle value at index `half`, already in place.
                    for k in fold.oddCoefficients { store(k, coefficient(k, diffs, half)) }
                }
                for k in finalCoefficients { store(k, coefficient(k, values, finalLength)) }
                t += 8
            }
        }
    }
}
