import CFFmpeg
import Foundation

/// One decoded video frame as packed RGB24: what `ffmpeg -f rawvideo -pix_fmt rgb24` writes for it.
public struct RGBFrame: Sendable {
    public var width: Int
    public var height: Int
    /// `height` rows of `width` × 3 bytes (red, green, blue), top row first, no padding between rows.
    public var pixels: [UInt8]
    /// The frame's position in the decoder's output, counting from 0: the `n` of the CLI's
    /// `select=not(mod(n\,10))`. (The decoder outputs frames in presentation order; B-frames are already reordered.)
    public var index: Int
    /// Seconds from the start of the stream: the frame's `best_effort_timestamp` times the stream's `time_base`,
    /// minus the stream's `start_time` (so the first frame is normally at 0). A frame the decoder gives no
    /// timestamp gets `index / fps` (0 when the frame rate is unknown too).
    public var time: Double

    public init(width: Int, height: Int, pixels: [UInt8], index: Int, time: Double) {
        self.width = width
        self.height = height
        self.pixels = pixels
        self.index = index
        self.time = time
    }
}

/// What ``VideoFrameSampler/sample(url:stride:threads:body:)`` learnt about a clip's video stream.
public struct VideoInfo: Sendable {
    /// The frame size the container declares (that of the first decoded frame when it declares none).
    public var width: Int
    public var height: Int
    /// The stream's average frame rate, else its base rate (`avg_frame_rate`, `r_frame_rate`), or nil.
    public var fps: Double?
    /// How many frames the container says the stream has (`nb_frames`), else its duration × ``fps`` rounded, or
    /// nil. Only a hint: a file cut short decodes to fewer frames; compare with ``decodedFrames``.
    public var frameCountHint: Int?
    /// Frames the decoder produced, kept or not, before the pass ended (all of them unless `body` stopped it).
    public var decodedFrames: Int
    /// Packets the decoder rejected and that were skipped, as the ffmpeg CLI skips them; 0 for a clean stream.
    public var rejectedPackets: Int

    public init(width: Int, height: Int, fps: Double?, frameCountHint: Int?, decodedFrames: Int = 0, rejectedPackets: Int = 0) {
        self.width = width
        self.height = height
        self.fps = fps
        self.frameCountHint = frameCountHint
        self.decodedFrames = decodedFrames
        self.rejectedPackets = rejectedPackets
    }
}

/// Decodes a clip's video and streams every Nth frame as RGB24, the frames
/// `ffmpeg -i clip.mp4 -vf "select=not(mod(n\,10))" -vsync 0 -f rawvideo -pix_fmt rgb24 -` writes.
///
/// ```swift
/// let info = try VideoFrameSampler.sample(url: clip, stride: 10) { frame in
///     print(frame.index, frame.time, frame.pixels.count)   // 0 0.0 2764800, 10 0.4166 2764800, ...
///     return true                                           // false stops the decode
/// }
/// print(info.fps ?? 0, info.decodedFrames)                  // 24.0 72
/// ```
public enum VideoFrameSampler {
    /// Decodes the best video stream with libavcodec and hands every `stride`-th frame (0, `stride`,
    /// 2 × `stride`, …, counted in the decoder's output order) to `body` as packed RGB24. Only the kept frames are
    /// converted, with libswscale set up as the ffmpeg CLI sets up its own scaler for `-pix_fmt rgb24` (bicubic
    /// flags, the frame's colour matrix and range; `RGBScaler` in `Internals/Handles.swift` says why), so the
    /// pixels equal the CLI's.
    ///
    /// Streams frame by frame: memory is the decoder's reference frames plus one RGB frame, whatever the clip's
    /// length, as long as `body` does not keep the frames. Thread-safe: each call owns its handles. The decoder
    /// runs `threads` frame threads (`thread_type` `FF_THREAD_FRAME`) of its own; `body` is called on the calling
    /// thread.
    ///
    /// Damage is handled as the CLI handles it. Packets the decoder rejects are skipped and counted in
    /// ``VideoInfo/rejectedPackets``. A file cut short after its header (an MP4 with the moov atom first) reads to
    /// a clean end of file at the cut: the frames before it are streamed (the frames the CLI writes for the cut
    /// file), the call returns normally, and ``VideoInfo/decodedFrames`` falls short of
    /// ``VideoInfo/frameCountHint``. The packet the cut goes through is read partial (flagged corrupt); the
    /// decoder usually rejects it ("Invalid NAL unit size"), which counts in ``VideoInfo/rejectedPackets``. A read
    /// error other than end of file throws, after the frames before it have been streamed.
    ///
    /// - Parameters:
    ///   - url: A file URL.
    ///   - stride: Keep every `stride`-th frame, at least 1 (1 keeps them all).
    ///   - threads: Decoder threads (`thread_count`); 0 lets FFmpeg pick from the core count.
    ///   - body: Called with each kept frame in order; returns false to stop decoding early.
    /// - Returns: The stream's size and rate, and how many frames were decoded.
    /// - Throws: ``MediaError`` with reason `missing_file`, `corrupt_container`, `no_video_stream`,
    ///   `decode_error` (a bad `stride` or `threads`, no decoder, a read error, every packet rejected, or a frame
    ///   libswscale cannot convert), or `empty_stream` (the stream decoded to no frames); whatever `body` throws.
    @discardableResult
    public static func sample(url: URL, stride: Int = 10, threads: Int = 2, body: (RGBFrame) throws -> Bool) throws -> VideoInfo {
        FFmpegLog.install()
        FFmpegLog.clear()
        let path = url.path
        guard stride >= 1 else {
            throw MediaError(reason: .decodeFailed, path: path, message: "the frame stride \(stride) is out of range (at least 1)")
        }
        guard (0...64).contains(threads) else {
            throw MediaError(reason: .decodeFailed, path: path, message: "the decoder thread count \(threads) is out of range (0...64)")
        }
        try AudioDecoder.requireFile(path)
        let source = try VideoSource(demuxer: Demuxer(path: path), threads: threads)

        var scaler: RGBScaler?
        var firstSize: (width: Int, height: Int)?
        let stats = try source.forEachFrame { frame, index in
            if firstSize == nil { firstSize = (Int(frame.pointee.width), Int(frame.pointee.height)) }
            guard index % stride == 0 else { return true }
            if scaler.map({ !$0.accepts(frame) }) ?? true {
                scaler = try RGBScaler(for: frame, path: path)  // first kept frame, or the stream changed size or format
            }
            let pixels = try scaler!.convert(frame)
            let rgb = RGBFrame(width: Int(frame.pointee.width), height: Int(frame.pointee.height), pixels: pixels,
                               index: index, time: source.time(of: frame, index: index))
            return try body(rgb)
        }
        try source.requireFrames(stats)

        var info = source.info
        if info.width <= 0 || info.height <= 0, let firstSize { (info.width, info.height) = firstSize }
        info.decodedFrames = stats.frames
        info.rejectedPackets = stats.rejectedPackets
        return info
    }
}

/// The best video stream of an opened file with its frame-threaded decoder: the demux-and-decode loop of
/// ``VideoFrameSampler``.
final class VideoSource {
    let demuxer: Demuxer
    let streamIndex: Int
    let stream: UnsafeMutablePointer<AVStream>
    let decoder: StreamDecoder

    /// Picks the best video stream of `demuxer` and opens its decoder with `threads` frame threads.
    /// - Throws: `MediaError` `.noVideoStream`, or `.decodeFailed` when the decoder cannot be opened.
    init(demuxer: Demuxer, threads: Int) throws {
        guard let index = demuxer.bestStream(AVMEDIA_TYPE_VIDEO) else {
            throw MediaError(reason: .noVideoStream, path: demuxer.path,
                             message: "the file has no video stream (\(demuxer.streamCount) stream(s) in all)")
        }
        self.demuxer = demuxer
        streamIndex = index
        stream = demuxer.stream(index)
        decoder = try StreamDecoder(stream: stream, threads: Int32(threads), threadType: FF_THREAD_FRAME, path: demuxer.path)
        demuxer.discardAll(except: index)
    }

    /// The stream's size, rate and frame count as the container declares them.
    var info: VideoInfo {
        let parameters = stream.pointee.codecpar.pointee
        let fps = Self.rate(stream.pointee.avg_frame_rate) ?? Self.rate(stream.pointee.r_frame_rate)
        var count: Int?
        if stream.pointee.nb_frames > 0 {
            count = Int(stream.pointee.nb_frames)
        } else if let fps, let seconds = declaredDuration {
            count = Int((seconds * fps).rounded())
        }
        return VideoInfo(width: Int(parameters.width), height: Int(parameters.height), fps: fps, frameCountHint: count)
    }

    /// The stream's length in seconds from the container (stream duration, else the file's), or nil.
    var declaredDuration: Double? {
        let duration = stream.pointee.duration, base = stream.pointee.time_base
        if duration != FFmpegCalls.noPTS, duration > 0, base.num > 0, base.den > 0 {
            return Double(duration) * Double(base.num) / Double(base.den)
        }
        return demuxer.duration
    }

    /// `frame`'s time in seconds from the stream's start (see ``RGBFrame/time``).
    func time(of frame: UnsafePointer<AVFrame>, index: Int) -> Double {
        let timestamp = frame.pointee.best_effort_timestamp, base = stream.pointee.time_base
        if timestamp != FFmpegCalls.noPTS, base.num > 0, base.den > 0 {
            let start = stream.pointee.start_time == FFmpegCalls.noPTS ? 0 : stream.pointee.start_time
            return Double(timestamp - start) * Double(base.num) / Double(base.den)
        }
        guard let fps = info.fps else { return 0 }
        return Double(index) / fps
    }

    /// Reads the stream packet by packet and hands each decoded frame with its output index (0, 1, …) to `body`,
    /// then drains the decoder; stops reading as soon as `body` returns false.
    /// - Returns: What the pass saw; `frames` counts the frames handed to `body`.
    /// - Throws: `MediaError` `.decodeFailed` on a read error other than end of file; whatever `body` throws.
    func forEachFrame(_ body: (UnsafeMutablePointer<AVFrame>, Int) throws -> Bool) throws -> DecodeStats {
        let packet = try Packet(path: demuxer.path)
        let frame = try Frame(path: demuxer.path)
        var stats = DecodeStats()
        var stopped = false
        let countingBody: (UnsafeMutablePointer<AVFrame>) throws -> Void = { frame in
            guard !stopped else { return }  // frames the decoder still had when body said stop
            let index = stats.frames
            stats.frames += 1
            if try !body(frame, index) { stopped = true }
        }
        while !stopped {
            let status = FFmpegCalls.readFrame(demuxer.context, packet.raw)
            if status == FFmpegCalls.eof { break }
            if status < 0 {
                throw MediaError.ffmpeg(.decodeFailed, path: demuxer.path, code: status,
                                        "could not read packet \(stats.packets + 1) of the video stream")
            }
            defer { FFmpegCalls.packetUnref(packet.raw) }
            guard Int(packet.raw.pointee.stream_index) == streamIndex else { continue }
            stats.packets += 1
            let error = try decoder.decode(packet.raw, into: frame, countingBody)
            if error < 0 { stats.reject(error) }
        }
        if !stopped {
            let error = try decoder.decode(nil, into: frame, countingBody)
            if error < 0 { stats.reject(error) }
        }
        return stats
    }

    /// Throws when the pass produced no frame: `decode_error` if packets were rejected, else `empty_stream`.
    func requireFrames(_ stats: DecodeStats) throws {
        if stats.frames > 0 { return }
        if let (code, message) = stats.lastRejection {
            throw MediaError(reason: .decodeFailed, path: demuxer.path, code: code,
                             message: "all \(stats.rejectedPackets) of \(stats.packets) video packets failed to decode: \(message)")
        }
        throw MediaError(reason: .emptyStream, path: demuxer.path,
                         message: "the video stream decoded to no frames (\(stats.packets) packets)")
    }

    private static func rate(_ value: AVRational) -> Double? {
        value.num > 0 && value.den > 0 ? Double(value.num) / Double(value.den) : nil
    }
}
