import DSP
import FeatureStore
import Foundation
import MediaIO

/// `audio`: demux and decode the clip's audio stream, downmix and resample to mono float32 (libswresample).
/// Ephemeral: the samples feed mfcc and melspec in memory and are not cached.
public enum AudioStage: StageKind {
    public static let kind = "audio"
    public static let version = 1
    public static let input = StageInput.media
    public static let paramSchema: [String: ParamSpec] = [
        "sample_rate": ParamSpec(.int, .int(16000), help: "output sample rate in Hz"),
    ]

    public static func validate(_ params: Params) -> String? {
        let sr = params.int("sample_rate")
        return (8000...192_000).contains(sr) ? nil : "sample_rate must be between 8000 and 192000 Hz, got \(sr)"
    }

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        Runner(sampleRate: spec.params.int("sample_rate"))
    }

    final class Runner: StageRunner, @unchecked Sendable {
        let sampleRate: Int
        init(sampleRate: Int) { self.sampleRate = sampleRate }
        var output: OutputSchema? { nil }

        func run(_ item: ItemContext) throws -> StageValue {
            guard let clip = item.clip else {
                throw ItemFailure(reason: "missing_clip",
                                  message: "no clip \(item.utterance.key.clipName).mp4 in the \(item.utterance.key.split.rawValue) clip folder")
            }
            do {
                let audio = try AudioDecoder.decodeMono(url: clip, sampleRate: sampleRate)
                return .audio(samples: audio.samples, sampleRate: audio.sampleRate)
            } catch let e as MediaError {
                throw ItemFailure(reason: e.reason.rawValue, message: e.description)
            }
        }
    }
}

/// Reads the sample rate of the audio stage a stage needs.
private func upstreamSampleRate(_ upstream: [StageSpec]) -> Int {
    upstream.first { $0.kind == AudioStage.kind }?.params.int("sample_rate") ?? 16000
}

/// `mfcc`: librosa-convention MFCC of the whole clip, truncated or zero-padded on the right to `frames`
/// (default 13 x 401), with the count of real frames per item.
public enum MFCCStage: StageKind {
    public static let kind = "mfcc"
    public static let version = 1
    public static let input = StageInput.upstream
    public static let requiredUpstreamKind: String? = AudioStage.kind
    public static let paramSchema: [String: ParamSpec] = [
        "n_mfcc": ParamSpec(.int, .int(13), help: "number of cepstral coefficients"),
        "frames": ParamSpec(.int, .int(401), help: "frames kept per item (pad/truncate on the right)"),
        "n_fft": ParamSpec(.int, .int(400), help: "FFT size in samples"),
        "hop": ParamSpec(.int, .int(160), help: "hop length in samples"),
        "n_mels": ParamSpec(.int, .int(40), help: "mel bands"),
        "fmin": ParamSpec(.double, .double(0), help: "lowest mel frequency in Hz"),
        "fmax": ParamSpec(.double, .double(8000), nullable: true, help: "highest mel frequency in Hz (null: sr/2)"),
        "top_db": ParamSpec(.double, .double(80), nullable: true, help: "dynamic range clamp in dB over the whole clip (null: none)"),
    ]

    public static func validate(_ p: Params) -> String? {
        if p.int("n_mfcc") < 1 || p.int("n_mfcc") > p.int("n_mels") { return "n_mfcc must be between 1 and n_mels (\(p.int("n_mels")))" }
        if p.int("frames") < 1 { return "frames must be at least 1" }
        if p.int("n_fft") < 2 || p.int("hop") < 1 || p.int("n_mels") < 1 { return "n_fft ≥ 2, hop ≥ 1 and n_mels ≥ 1 are required" }
        return nil
    }

    static func config(_ p: Params, sampleRate: Int) -> MFCCConfig {
        var c = MFCCConfig()
        c.sampleRate = sampleRate
        c.nMFCC = p.int("n_mfcc"); c.frames = p.int("frames"); c.nFFT = p.int("n_fft"); c.hop = p.int("hop")
        c.nMels = p.int("n_mels"); c.fmin = p.double("fmin"); c.fmax = p.optionalDouble("fmax")
        c.topDB = p.optionalDouble("top_db").map(Float.init)
        return c
    }

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        let config = config(spec.params, sampleRate: upstreamSampleRate(upstream))
        do { return Runner(name: spec.name, config: config, mfcc: try MFCC(config)) } catch {
            throw ConfigurationError("stage `\(spec.name)`: \(error)")
        }
    }

    final class Runner: StageRunner, @unchecked Sendable {
        let name: String
        let config: MFCCConfig
        let mfcc: MFCC
        init(name: String, config: MFCCConfig, mfcc: MFCC) { self.name = name; self.config = config; self.mfcc = mfcc }

        var output: OutputSchema? {
            OutputSchema(fixedShape: [config.nMFCC, config.frames], perItemInts: ["n_frames", "total_frames"], chunkRows: 1)
        }

        var attributes: [String: String] {
            ["sample_rate": String(config.sampleRate), "hop_seconds": String(Double(config.hop) / Double(config.sampleRate)),
             "axes": "features[item, coefficient, frame]"]
        }

        func run(_ item: ItemContext) throws -> StageValue {
            let audio = try item.upstreamAudio(of: name)
            let r = mfcc.compute(audio.samples)
            var f = ItemFeature()
            f.fixed = r.coefficients
            f.perItemInts = ["n_frames": Int64(r.realFrames), "total_frames": Int64(r.totalFrames)]
            return .feature(f)
        }
    }
}

/// `melspec`: log-power mel spectrogram (power_to_db) of the whole clip, variable length, with frame times.
public enum MelSpecStage: StageKind {
    public static let kind = "melspec"
    public static let version = 1
    public static let input = StageInput.upstream
    public static let requiredUpstreamKind: String? = AudioStage.kind
    public static let paramSchema: [String: ParamSpec] = [
        "n_mels": ParamSpec(.int, .int(40), help: "mel bands"),
        "n_fft": ParamSpec(.int, .int(1024), help: "FFT size in samples"),
        "hop": ParamSpec(.int, .int(160), help: "hop length in samples"),
        "fmin": ParamSpec(.double, .double(0), help: "lowest mel frequency in Hz"),
        "fmax": ParamSpec(.double, .null, nullable: true, help: "highest mel frequency in Hz (null: sr/2)"),
        "top_db": ParamSpec(.double, .double(80), nullable: true, help: "dynamic range clamp in dB over the whole clip (null: none)"),
    ]

    public static func validate(_ p: Params) -> String? {
        if p.int("n_fft") < 2 || p.int("hop") < 1 || p.int("n_mels") < 1 { return "n_fft ≥ 2, hop ≥ 1 and n_mels ≥ 1 are required" }
        return nil
    }

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        var c = LogMelConfig()
        let p = spec.params
        c.sampleRate = upstreamSampleRate(upstream)
        c.nMels = p.int("n_mels"); c.nFFT = p.int("n_fft"); c.hop = p.int("hop"); c.fmin = p.double("fmin")
        c.fmax = p.optionalDouble("fmax"); c.topDB = p.optionalDouble("top_db").map(Float.init)
        do { return Runner(name: spec.name, config: c, logmel: try LogMel(c)) } catch {
            throw ConfigurationError("stage `\(spec.name)`: \(error)")
        }
    }

    final class Runner: StageRunner, @unchecked Sendable {
        let name: String
        let config: LogMelConfig
        let logmel: LogMel
        init(name: String, config: LogMelConfig, logmel: LogMel) { self.name = name; self.config = config; self.logmel = logmel }

        var output: OutputSchema? {
            OutputSchema(sequenceRowShape: [config.nMels], perItemInts: ["n_frames"], perRowFloats: ["frame_times"], chunkRows: 128)
        }

        var attributes: [String: String] {
            ["sample_rate": String(config.sampleRate), "hop_seconds": String(Double(config.hop) / Double(config.sampleRate)),
             "axes": "values[frame, mel_band] (rows of item i: offsets[i]..<offsets[i+1])"]
        }

        func run(_ item: ItemContext) throws -> StageValue {
            let audio = try item.upstreamAudio(of: name)
            let r = logmel.compute(audio.samples)
            var f = ItemFeature()
            f.sequence = r.values
            f.sequenceRows = r.frames
            f.perItemInts = ["n_frames": Int64(r.frames)]
            f.perRowFloats = ["frame_times": r.frameTimes]
            return .feature(f)
        }
    }
}

extension MFCCStage.Runner: StatisticsProvider {
    /// Per-coefficient mean and population std over the real frames (the first `n_frames` of each valid item),
    /// accumulated in double precision in shard order, so the result is deterministic.
    func statistics(shards: [URL]) throws -> (mean: [Float], std: [Float]) {
        let c = config.nMFCC, frames = config.frames
        var sum = [Double](repeating: 0, count: c), sumsq = [Double](repeating: 0, count: c)
        var count = 0.0
        for url in shards {
            let file = try FeatureFile(url: url)
            let features = try file.readFloats("features")
            let nFrames = try file.readInt64s("n_frames")
            let valid = try file.readInt64s("valid")
            for i in 0..<valid.count where valid[i] != 0 {
                let t = Int(nFrames[i])
                for k in 0..<c {
                    let base = (i * c + k) * frames
                    for j in 0..<t {
                        let v = Double(features[base + j])
                        sum[k] += v
                        sumsq[k] += v * v
                    }
                }
                count += Double(t)
            }
        }
        guard count > 0 else { return ([Float](repeating: 0, count: c), [Float](repeating: 1, count: c)) }
        let mean = sum.map { $0 / count }
        let std = zip(sumsq, mean).map { (sq, m) in (max(0, sq / count - m * m)).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }
}
