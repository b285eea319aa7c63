import CFFmpeg
import Foundation

/// One stream of a container, as FFmpeg reports it.
public struct StreamInfo: Codable, Sendable, Equatable {
    /// The stream's index in the container.
    public var index: Int
    /// "audio", "video", or FFmpeg's name for another type ("data", "subtitle", ...).
    public var type: String
    /// FFmpeg's codec name ("aac", "h264", ...).
    public var codec: String
    public var sampleRate: Int?
    public var channels: Int?
    public var width: Int?
    public var height: Int?
    /// Average frame rate (else the container's base rate), for video.
    public var fps: Double?
    /// The stream's own duration in seconds, when the container states one.
    public var duration: Double?

    public init(index: Int, type: String, codec: String, sampleRate: Int? = nil, channels: Int? = nil,
                width: Int? = nil, height: Int? = nil, fps: Double? = nil, duration: Double? = nil) {
        self.index = index
        self.type = type
        self.codec = codec
        self.sampleRate = sampleRate
        self.channels = channels
        self.width = width
        self.height = height
        self.fps = fps
        self.duration = duration
    }
}

/// What ``MediaProber/probe(url:decodeAudio:)`` found out about a file.
public struct ProbeResult: Codable, Sendable {
    public var path: String
    public var sizeBytes: Int64?
    /// FFmpeg's name for the container format ("mov,mp4,m4a,3gp,3g2,mj2").
    public var format: String?
    /// The container's duration in seconds.
    public var duration: Double?
    public var streams: [StreamInfo]
    /// Whether the best audio stream decoded to at least one sample; nil when not checked or there is no audio.
    public var audioDecodable: Bool?
    /// The decoded audio's real length in seconds (samples after the priming skip / source rate).
    public var decodedAudioSeconds: Double?
    /// A ``MediaError/Reason`` raw value when something is wrong, else nil.
    public var reason: String?
    /// What is wrong, in FFmpeg's words where it had any. May also be set with a nil `reason` for a warning:
    /// some audio packets were rejected and skipped but the rest decoded, or the audio decodes to less than the
    /// container declares (a file cut short after its header), the way the ffmpeg CLI would decode it too.
    public var message: String?

    public init(path: String, sizeBytes: Int64? = nil, format: String? = nil, duration: Double? = nil,
                streams: [StreamInfo] = [], audioDecodable: Bool? = nil, decodedAudioSeconds: Double? = nil,
                reason: String? = nil, message: String? = nil) {
        self.path = path
        self.sizeBytes = sizeBytes
        self.format = format
        self.duration = duration
        self.streams = streams
        self.audioDecodable = audioDecodable
        self.decodedAudioSeconds = decodedAudioSeconds
        self.reason = reason
        self.message = message
    }
}

/// Checks what a media file holds and whether its audio decodes.
///
/// ```swift
/// let result = MediaProber.probe(url: clip)
/// if let reason = result.reason { print("skip \(clip.lastPathComponent): \(reason): \(result.message ?? "")") }
/// ```
public enum MediaProber {
    /// Opens the container, lists its streams, and (if `decodeAudio`) decodes the best audio stream fully,
    /// without resampling, to check it decodes and to measure its real length. Never throws: problems go into
    /// `reason` and `message`. Thread-safe (each call owns its handles).
    ///
    /// `reason`, in order of precedence: `missing_file`, `corrupt_container` (the container cannot be opened
    /// or its streams read), `no_audio_stream`, `decode_error` / `empty_stream` (only when `decodeAudio`),
    /// and `no_video_stream` when everything about the audio is fine but there is no video (MELD clips have both).
    public static func probe(url: URL, decodeAudio: Bool = true) -> ProbeResult {
        FFmpegLog.install()
        FFmpegLog.clear()
        let path = url.path
        var result = ProbeResult(path: path)
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber {
            result.sizeBytes = size.int64Value
        }
        do {
            try AudioDecoder.requireFile(path)
            let demuxer = try Demuxer(path: path)
            result.format = demuxer.formatName
            result.duration = demuxer.duration
            try demuxer.findStreamInfo()
            result.duration = demuxer.duration
            result.streams = (0..<demuxer.streamCount).map { describe(demuxer.stream($0), index: $0) }

            let source = try AudioSource(demuxer: demuxer)
            if decodeAudio {
                var seconds = 0.0
                let stats = try source.forEachFrame { frame in
                    let rate = frame.pointee.sample_rate
                    if rate > 0 { seconds += Double(frame.pointee.nb_samples) / Double(rate) }
                }
                result.decodedAudioSeconds = seconds
                result.audioDecodable = stats.frames > 0 && seconds > 0
                try stats.requireSamples(seconds > 0, path: path)
                var warnings: [String] = []
                if let (_, message) = stats.lastRejection {
                    warnings.append("\(stats.rejectedPackets) of \(stats.packets) audio packets failed to decode and were skipped: \(message)")
                }
                // A file cut after its header (moov first) reads to a clean end of file, as in the CLI: say so.
                if let declared = source.declaredDuration, seconds < declared - shortfallTolerance {
                    var warning = String(format: "the audio decodes to %.3f s but the container declares %.3f s", seconds, declared)
                    if let logged = FFmpegLog.lastMessage { warning += "; FFmpeg logged \"\(logged)\"" }
                    warnings.append(warning)
                }
                if !warnings.isEmpty { result.message = warnings.joined(separator: "; ") }
            }
            if demuxer.bestStream(AVMEDIA_TYPE_VIDEO) == nil {
                result.reason = MediaError.Reason.noVideoStream.rawValue
                result.message = "the file has no video stream"
            }
        } catch let error as MediaError {
            result.reason = error.reason.rawValue
            result.message = error.message
            if error.reason == .decodeFailed || error.reason == .emptyStream { result.audioDecodable = false }
        } catch {
            result.reason = MediaError.Reason.decodeFailed.rawValue
            result.message = "\(error)"
        }
        return result
    }

    /// How much shorter than declared the decoded audio may be before the probe warns (decoded audio is normally
    /// a little longer: the encoder's end padding is kept, as in the CLI).
    static let shortfallTolerance = 0.1

    /// A stream's parameters as `StreamInfo`.
    static func describe(_ stream: UnsafeMutablePointer<AVStream>, index: Int) -> StreamInfo {
        let parameters = stream.pointee.codecpar.pointee
        let type = parameters.codec_type
        var info = StreamInfo(index: index, type: FFmpegCalls.mediaTypeName(type) ?? "unknown",
                              codec: FFmpegCalls.codecName(parameters.codec_id))
        if type == AVMEDIA_TYPE_AUDIO {
            info.sampleRate = parameters.sample_rate > 0 ? Int(parameters.sample_rate) : nil
            info.channels = parameters.ch_layout.nb_channels > 0 ? Int(parameters.ch_layout.nb_channels) : nil
        } else if type == AVMEDIA_TYPE_VIDEO {
            info.width = parameters.width > 0 ? Int(parameters.width) : nil
            info.height = parameters.height > 0 ? Int(parameters.height) : nil
            info.fps = rate(stream.pointee.avg_frame_rate) ?? rate(stream.pointee.r_frame_rate)
        }
        let duration = stream.pointee.duration, base = stream.pointee.time_base
        if duration != FFmpegCalls.noPTS, duration > 0, base.num > 0, base.den > 0 {
            info.duration = Double(duration) * Double(base.num) / Double(base.den)
        }
        return info
    }

    private static func rate(_ value: AVRational) -> Double? {
        value.num > 0 && value.den > 0 ? Double(value.num) / Double(value.den) : nil
    }
}
