import CFFmpeg
import Foundation

/// A clip's audio, decoded, downmixed to mono and resampled: what `ffmpeg -i clip.mp4 -ac 1 -ar 16000 -f f32le -`
/// writes, as floats.
public struct DecodedAudio: Sendable {
    /// Mono float32 samples at ``sampleRate``.
    public var samples: [Float]
    /// The rate of ``samples`` (what was asked for).
    public var sampleRate: Int
    /// The decoder's output rate before resampling (e.g. 48000).
    public var sourceSampleRate: Int
    /// The decoder's channel count before the downmix (e.g. 2, 6).
    public var sourceChannels: Int
    /// FFmpeg's name for the audio codec (e.g. "aac").
    public var codec: String
    /// Packets the decoder rejected and that were skipped, as the ffmpeg CLI skips them; 0 for a clean stream.
    public var rejectedPackets: Int

    /// Seconds of audio in ``samples``.
    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }

    public init(samples: [Float], sampleRate: Int, sourceSampleRate: Int, sourceChannels: Int, codec: String,
                rejectedPackets: Int = 0) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.sourceSampleRate = sourceSampleRate
        self.sourceChannels = sourceChannels
        self.codec = codec
        self.rejectedPackets = rejectedPackets
    }
}

/// Decodes a clip's audio to mono float32.
///
/// ```swift
/// let audio = try AudioDecoder.decodeMono(url: clip)       // 16 kHz
/// print(audio.samples.count, audio.duration, audio.codec)  // 48000 3.0 aac
/// ```
public enum AudioDecoder {
    /// Decodes the best audio stream, downmixes and resamples it to mono float32 at `sampleRate` with
    /// libswresample, exactly as `ffmpeg -i clip.mp4 -ac 1 -ar 16000 -f f32le -` does: libavcodec drops the
    /// AAC encoder priming given by the MP4 edit list, libswresample's defaults do the downmix (-3 dB centre
    /// and surround, no LFE) and the resampling, and its filter delay is flushed at the end.
    ///
    /// Streams packet by packet; memory is about the size of the output. Thread-safe: each call owns its
    /// handles, and the decoder runs on the calling thread only (`thread_count` 1; parallelise across clips).
    /// Packets the decoder rejects are skipped, as the CLI does, and counted in ``DecodedAudio/rejectedPackets``.
    ///
    /// - Parameters:
    ///   - url: A file URL.
    ///   - sampleRate: The output rate in Hz.
    /// - Returns: The samples and what they came from.
    /// - Throws: ``MediaError`` with reason `missing_file`, `corrupt_container`, `no_audio_stream`,
    ///   `decode_error` (no decoder, a read error, or every packet rejected), `empty_stream` (no samples), or
    ///   `resample_error`.
    public static func decodeMono(url: URL, sampleRate: Int = 16000) throws -> DecodedAudio {
        FFmpegLog.install()
        FFmpegLog.clear()
        let path = url.path
        guard sampleRate > 0, sampleRate <= 1_000_000 else {
            throw MediaError(reason: .resampleFailed, path: path, message: "the output sample rate \(sampleRate) Hz is out of range")
        }
        try requireFile(path)
        let source = try AudioSource(demuxer: Demuxer(path: path))

        var output = SampleBuffer(expectedCount: source.expectedSampleCount(at: sampleRate))
        var resampler: Resampler?
        var sourceRate = Int(source.parameters.pointee.sample_rate)
        var sourceChannels = Int(source.parameters.pointee.ch_layout.nb_channels)
        var sawFrame = false
        let stats = try source.forEachFrame { frame in
            if !sawFrame {
                sawFrame = true
                sourceRate = Int(frame.pointee.sample_rate)
                sourceChannels = Int(frame.pointee.ch_layout.nb_channels)
            }
            if let current = resampler, current.accepts(frame) {
                try current.convert(frame, into: &output)
            } else {
                // First frame, or the stream changed format mid-way: finish the old conversion, start a new one.
                try resampler?.flush(into: &output)
                let fresh = try Resampler(from: frame, outputRate: Int32(sampleRate), path: path)
                try fresh.convert(frame, into: &output)
                resampler = fresh
            }
        }
        try resampler?.flush(into: &output)
        try stats.requireSamples(output.count > 0, path: path)
        return DecodedAudio(samples: output.finish(), sampleRate: sampleRate, sourceSampleRate: sourceRate,
                            sourceChannels: sourceChannels, codec: source.codecName,
                            rejectedPackets: stats.rejectedPackets)
    }

    /// Throws `missing_file` with a plain message when nothing is at `path` (FFmpeg would say ENOENT too,
    /// but later and less clearly).
    static func requireFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MediaError(reason: .missingFile, path: path, message: "no such file")
        }
        if isDirectory.boolValue {
            throw MediaError(reason: .missingFile, path: path, message: "this is a directory, not a media file")
        }
    }
}

/// The best audio stream of an opened file with its decoder: the demux-and-decode loop shared by
/// ``AudioDecoder`` and ``MediaProber``.
final class AudioSource {
    let demuxer: Demuxer
    let streamIndex: Int
    let stream: UnsafeMutablePointer<AVStream>
    let decoder: StreamDecoder

    /// Picks the best audio stream of `demuxer` and opens its decoder (one thread).
    /// - Throws: `MediaError` `.noAudioStream`, or `.decodeFailed` when the decoder cannot be opened.
    init(demuxer: Demuxer) throws {
        guard let index = demuxer.bestStream(AVMEDIA_TYPE_AUDIO) else {
            throw MediaError(reason: .noAudioStream, path: demuxer.path,
                             message: "the file has no audio stream (\(demuxer.streamCount) stream(s) in all)")
        }
        self.demuxer = demuxer
        streamIndex = index
        stream = demuxer.stream(index)
        decoder = try StreamDecoder(stream: stream, threads: 1, path: demuxer.path)
        demuxer.discardAll(except: index)
    }

    var parameters: UnsafeMutablePointer<AVCodecParameters> { stream.pointee.codecpar }
    var codecName: String { FFmpegCalls.codecName(parameters.pointee.codec_id) }

    /// The stream's length in seconds from the container (stream duration, else the file's), or nil.
    var declaredDuration: Double? {
        let duration = stream.pointee.duration, base = stream.pointee.time_base
        if duration != FFmpegCalls.noPTS, duration > 0, base.den > 0 {
            return Double(duration) * Double(base.num) / Double(base.den)
        }
        return demuxer.duration
    }

    /// How many output samples to make room for at `rate`: the declared length plus the encoder's padding.
    func expectedSampleCount(at rate: Int) -> Int {
        let seconds = min(declaredDuration ?? 10, 4 * 3600)
        return Int(seconds * Double(rate)) + rate / 10 + 1024
    }

    /// Reads the stream packet by packet and hands each decoded frame to `body`, then drains the decoder.
    /// - Throws: `MediaError` `.decodeFailed` on a read error other than end of file; whatever `body` throws.
    func forEachFrame(_ body: (UnsafeMutablePointer<AVFrame>) throws -> Void) throws -> DecodeStats {
        let packet = try Packet(path: demuxer.path)
        let frame = try Frame(path: demuxer.path)
        var stats = DecodeStats()
        let countingBody: (UnsafeMutablePointer<AVFrame>) throws -> Void = { frame in
            stats.frames += 1
            try body(frame)
        }
        while true {
            let status = FFmpegCalls.readFrame(demuxer.context, packet.raw)
            if status == FFmpegCalls.eof { break }
            if status < 0 {
                throw MediaError.ffmpeg(.decodeFailed, path: demuxer.path, code: status,
                                        "could not read packet \(stats.packets + 1) of the audio stream")
            }
            defer { FFmpegCalls.packetUnref(packet.raw) }
            guard Int(packet.raw.pointee.stream_index) == streamIndex else { continue }
            stats.packets += 1
            let error = try decoder.decode(packet.raw, into: frame, countingBody)
            if error < 0 { stats.reject(error) }
        }
        let error = try decoder.decode(nil, into: frame, countingBody)
        if error < 0 { stats.reject(error) }
        return stats
    }
}

/// What a pass over an audio stream saw.
struct DecodeStats {
    var packets = 0
    var frames = 0
    var rejectedPackets = 0
    /// The last rejection's code, FFmpeg's message for it, and what FFmpeg logged then.
    var lastRejection: (code: Int32, message: String)?

    mutating func reject(_ code: Int32) {
        rejectedPackets += 1
        var message = FFmpegCalls.errorString(code)
        if let logged = FFmpegLog.lastMessage { message += "; FFmpeg logged \"\(logged)\"" }
        lastRejection = (code, message)
    }

    /// Throws when the pass produced nothing: `decode_error` if packets were rejected, else `empty_stream`.
    func requireSamples(_ haveSamples: Bool, path: String) throws {
        if haveSamples { return }
        if let (code, message) = lastRejection {
            throw MediaError(reason: .decodeFailed, path: path, code: code,
                             message: "all \(rejectedPackets) of \(packets) audio packets failed to decode: \(message)")
        }
        throw MediaError(reason: .emptyStream, path: path,
                         message: "the audio stream decoded to no samples (\(packets) packets, \(frames) frames)")
    }
}
