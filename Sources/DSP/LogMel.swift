import Foundation

/// Parameters of `LogMel`.
public struct LogMelConfig: Codable, Hashable, Sendable {
    /// Sampling rate of the input in Hz.
    public var sampleRate = 16000
    /// FFT and window length in samples.
    public var nFFT = 1024
    /// Hop between frames in samples.
    public var hop = 160
    /// Mel bands.
    public var nMels = 40
    /// Lowest mel band edge in Hz.
    public var fmin: Double = 0
    /// Highest mel band edge in Hz; nil means `sampleRate / 2`.
    public var fmax: Double? = nil
    /// Dynamic range clamp in dB below the clip's maximum; nil means no clamp.
    public var topDB: Float? = 80

    public init() {}
}

/// The log-power mel spectrogram of one clip, time-major.
public struct LogMelResult: Sendable {
    /// `frames x nMels`, row-major: row t is frame t (the feature cache stores `[sum T, D]`).
    public var values: [Float]
    /// Frames of the clip: `1 + n_samples / hop` (centred framing, even nFFT).
    public var frames: Int
    /// Start of each frame's hop in seconds, `t * hop / sampleRate` (frame t is centred there).
    public var frameTimes: [Float]

    public init(values: [Float], frames: Int, frameTimes: [Float]) {
        self.values = values
        self.frames = frames
        self.frameTimes = frameTimes
    }
}

/// librosa-exact log-mel spectrogram on FFTW:
/// `librosa.power_to_db(librosa.feature.melspectrogram(y=samples, sr=, n_fft=, hop_length=, n_mels=, fmin=, fmax=),
/// ref=1.0, amin=1e-10, top_db=).T`, the `top_db` maximum taken over the whole clip.
/// Matches the librosa goldens in `Tests/Fixtures/dsp` within 1e-3 dB.
///
/// ```swift
/// let logmel = try LogMel(LogMelConfig())     // 40 bands, nFFT 1024, hop 10 ms at 16 kHz
/// let r = logmel.compute(samples)             // r.values[t * 40 + m]
/// ```
///
/// Immutable after `init`; `compute` is safe to call from many threads at once. Empty input follows the frame
/// formula (see `MFCC`): one frame at -100 dB for even nFFT.
public final class LogMel: @unchecked Sendable {
    public let config: LogMelConfig
    private let engine: LogMelEngine

    /// Precomputes the window and filterbank, and plans the FFT.
    /// - Throws: `DSPError.invalidConfig` for nFFT < 2, hop < 1, nMels < 1, fmin < 0, fmin >= fmax,
    ///   fmax > sampleRate / 2, or a negative topDB.
    public convenience init(_ config: LogMelConfig) throws {
        try self.init(config, avx2: LogMelEngine.cpuRunsAVX2)
    }

    /// `init(_:)`, choosing between the AVX2 kernels and the Swift loops (for the tests that compare them).
    init(_ config: LogMelConfig, avx2: Bool) throws {
        let fmax = try validateSpectral(sampleRate: config.sampleRate, nFFT: config.nFFT, hop: config.hop,
                                        nMels: config.nMels, fmin: config.fmin, fmax: config.fmax, topDB: config.topDB)
        self.config = config
        self.engine = try LogMelEngine(sampleRate: config.sampleRate, nFFT: config.nFFT, hop: config.hop,
                                       nMels: config.nMels, fmin: config.fmin, fmax: fmax, topDB: config.topDB,
                                       avx2: avx2)
    }

    /// The clamped dB mel spectrogram of the whole clip.
    public func compute(_ samples: [Float]) -> LogMelResult {
        let frames = engine.frameCount(samples.count)
        let nMels = config.nMels
        let db = UnsafeMutablePointer<Float>.allocate(capacity: max(1, nMels * frames))
        defer { db.deallocate() }
        let floor = engine.floor(peak: samples.withUnsafeBufferPointer { engine.melDecibels($0, into: db) })
        // Band-major to time-major, with the clip-wide top_db clamp.
        let values = [Float](unsafeUninitializedCapacity: nMels * frames) { dst, initialized in
            for m in 0..<nMels {
                let src = db + m * frames
                for t in 0..<frames { dst[t * nMels + m] = max(src[t], floor) }
            }
            initialized = nMels * frames
        }
        let hop = Double(config.hop), rate = Double(config.sampleRate)
        let times = (0..<frames).map { Float(Double($0) * hop / rate) }
        return LogMelResult(values: values, frames: frames, frameTimes: times)
    }
}
