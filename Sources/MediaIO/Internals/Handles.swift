import CFFmpeg
import Foundation

// One owner type per FFmpeg handle, each freed in `deinit` with the call that matches how it was made.
// The names say what the handle is for (a `Demuxer`, not an `AVFormatContext`). None of them is shared between
// threads: every public operation makes its own, which is what makes the public API thread-safe.

/// An opened input file (`avformat_open_input` … `avformat_close_input`).
final class Demuxer {
    let context: FFmpegCalls.FormatContext
    let path: String

    /// Opens `path` and reads the container header.
    /// - Throws: `MediaError` `.missingFile` when FFmpeg reports ENOENT, `.unreadableContainer` otherwise.
    init(path: String) throws {
        self.path = path
        // A relative path with a colon ("a:b.mp4") would be taken for a protocol; "file:" pins the file protocol.
        let url = path.hasPrefix("/") ? path : "file:" + path
        var raw: FFmpegCalls.FormatContext?
        let status = FFmpegCalls.openInput(&raw, url)
        guard status >= 0, let raw else {
            throw MediaError.ffmpeg(status == FFmpegCalls.enoent ? .missingFile : .unreadableContainer,
                                    path: path, code: status, "could not open the container")
        }
        context = raw
    }

    deinit {
        var raw: FFmpegCalls.FormatContext? = context
        FFmpegCalls.closeInput(&raw)
    }

    /// Reads a little of each stream to fill in codec parameters the header left out (`avformat_find_stream_info`).
    func findStreamInfo() throws {
        let status = FFmpegCalls.findStreamInfo(context)
        if status < 0 {
            throw MediaError.ffmpeg(.unreadableContainer, path: path, code: status, "could not read the stream parameters")
        }
    }

    var streamCount: Int { Int(context.pointee.nb_streams) }

    func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> { context.pointee.streams[index]! }

    /// The index of the stream FFmpeg ranks best for `type` (`av_find_best_stream`), or nil when there is none.
    func bestStream(_ type: AVMediaType) -> Int? {
        let index = FFmpegCalls.findBestStream(context, type)
        return index >= 0 ? Int(index) : nil
    }

    /// Tells the demuxer to skip every other stream's packets (cheaper reads; decoding is unaffected).
    func discardAll(except index: Int) {
        for i in 0..<streamCount where i != index { stream(i).pointee.discard = AVDISCARD_ALL }
    }

    /// The container's duration in seconds, or nil when unknown.
    var duration: Double? {
        let value = context.pointee.duration
        return value == FFmpegCalls.noPTS || value <= 0 ? nil : Double(value) / Double(AV_TIME_BASE)
    }

    /// FFmpeg's short name for the container format, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    var formatName: String? { context.pointee.iformat?.pointee.name.map { String(cString: $0) } }
}

/// A packet buffer reused for every read (`av_packet_alloc` … `av_packet_free`).
final class Packet {
    let raw: UnsafeMutablePointer<AVPacket>

    init(path: String) throws {
        guard let raw = FFmpegCalls.packetAlloc() else {
            throw MediaError(reason: .decodeFailed, path: path, code: FFmpegCalls.enomem, message: "av_packet_alloc failed: out of memory")
        }
        self.raw = raw
    }

    deinit {
        var raw: UnsafeMutablePointer<AVPacket>? = raw
        FFmpegCalls.packetFree(&raw)
    }
}

/// A frame buffer reused for every decoded frame (`av_frame_alloc` … `av_frame_free`).
final class Frame {
    let raw: UnsafeMutablePointer<AVFrame>

    init(path: String) throws {
        guard let raw = FFmpegCalls.frameAlloc() else {
            throw MediaError(reason: .decodeFailed, path: path, code: FFmpegCalls.enomem, message: "av_frame_alloc failed: out of memory")
        }
        self.raw = raw
    }

    deinit {
        var raw: UnsafeMutablePointer<AVFrame>? = raw
        FFmpegCalls.frameFree(&raw)
    }
}

/// An opened decoder for one stream (`avcodec_alloc_context3` + `avcodec_open2` … `avcodec_free_context`).
final class StreamDecoder {
    let context: FFmpegCalls.CodecContext
    let path: String

    /// Opens the decoder for `stream` the way the ffmpeg CLI does (parameters from the container, packet time
    /// base set), with `threads` decoding threads (0: FFmpeg picks from the core count) of `threadType`
    /// (`FF_THREAD_FRAME`, `FF_THREAD_SLICE`; nil keeps libavcodec's default, both).
    /// - Throws: `MediaError` `.decodeFailed` when there is no decoder for the codec or it cannot be opened.
    init(stream: UnsafeMutablePointer<AVStream>, threads: Int32, threadType: Int32? = nil, path: String) throws {
        self.path = path
        let parameters = stream.pointee.codecpar!
        let codecID = parameters.pointee.codec_id
        guard let codec = FFmpegCalls.findDecoder(codecID) else {
            throw MediaError(reason: .decodeFailed, path: path,
                             message: "this FFmpeg has no decoder for codec '\(FFmpegCalls.codecName(codecID))'")
        }
        guard let context = FFmpegCalls.codecAllocContext(codec) else {
            throw MediaError(reason: .decodeFailed, path: path, code: FFmpegCalls.enomem, message: "avcodec_alloc_context3 failed: out of memory")
        }
        self.context = context  // from here on, deinit frees it whatever happens below
        var status = FFmpegCalls.parametersToContext(context, parameters)
        if status < 0 {
            throw MediaError.ffmpeg(.decodeFailed, path: path, code: status, "could not copy the stream parameters to the decoder")
        }
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = threads
        if let threadType { context.pointee.thread_type = threadType }
        status = FFmpegCalls.codecOpen(context, codec)
        if status < 0 {
            throw MediaError.ffmpeg(.decodeFailed, path: path, code: status,
                                    "could not open the '\(FFmpegCalls.codecName(codecID))' decoder")
        }
    }

    deinit {
        var raw: FFmpegCalls.CodecContext? = context
        FFmpegCalls.codecFreeContext(&raw)
    }

    /// The send/receive loop, the only one in MediaIO: sends `packet` (nil drains the decoder at end of stream)
    /// and hands every frame the decoder then has to `body`, until it answers EAGAIN (wants more input) or EOF.
    ///
    /// A packet the decoder rejects is not fatal, as in the ffmpeg CLI, which logs the error and goes on with
    /// the next packet: the error code is returned for the caller to count.
    /// - Returns: 0, or the negative AVERROR of a rejected packet or failed frame.
    /// - Throws: `MediaError` `.decodeFailed` when FFmpeg runs out of memory; whatever `body` throws.
    func decode(_ packet: UnsafeMutablePointer<AVPacket>?, into frame: Frame,
                _ body: (UnsafeMutablePointer<AVFrame>) throws -> Void) throws -> Int32 {
        var attempts = 0
        while true {
            let sent = FFmpegCalls.sendPacket(context, packet)
            // Drain whatever the decoder holds, whether or not it took the packet.
            var received: Int32 = 0
            while true {
                received = FFmpegCalls.receiveFrame(context, frame.raw)
                if received == FFmpegCalls.eagain || received == FFmpegCalls.eof { received = 0; break }
                if received < 0 { break }
                defer { FFmpegCalls.frameUnref(frame.raw) }
                try body(frame.raw)
            }
            if sent == FFmpegCalls.enomem || received == FFmpegCalls.enomem {
                throw MediaError.ffmpeg(.decodeFailed, path: path, code: FFmpegCalls.enomem, "the decoder ran out of memory")
            }
            // EAGAIN on send means "take my output first": it has been drained, so send the same packet again.
            if sent == FFmpegCalls.eagain {
                attempts += 1
                if attempts < 8 { continue }
                return sent
            }
            if sent < 0 && sent != FFmpegCalls.eof { return sent }
            return received
        }
    }
}

/// A copy of a channel layout, owned (`av_channel_layout_copy` … `av_channel_layout_uninit`).
final class ChannelLayout {
    var layout = AVChannelLayout()

    /// FFmpeg's default layout for `channels` channels (`av_channel_layout_default`); 1 gives mono.
    init(defaultFor channels: Int32) { FFmpegCalls.channelLayoutDefault(&layout, channels) }

    /// A copy of `source`; a layout of unspecified order becomes the default layout for its channel count,
    /// as libswresample itself would assume.
    init(copying source: UnsafePointer<AVChannelLayout>) {
        if source.pointee.order == AV_CHANNEL_ORDER_UNSPEC || FFmpegCalls.channelLayoutCopy(&layout, source) < 0 {
            FFmpegCalls.channelLayoutDefault(&layout, source.pointee.nb_channels)
        }
    }

    deinit { FFmpegCalls.channelLayoutUninit(&layout) }

    var channels: Int { Int(layout.nb_channels) }

    func equals(_ other: UnsafePointer<AVChannelLayout>) -> Bool {
        withUnsafePointer(to: &layout) { FFmpegCalls.channelLayoutCompare($0, other) == 0 }
    }
}

/// A libswresample context converting decoded frames to packed float32 mono (`swr_alloc_set_opts2` + `swr_init`
/// … `swr_free`), with libswresample's default options, the ones the ffmpeg CLI's auto-inserted `aresample`
/// filter uses for `-ac 1 -ar <rate>`.
final class Resampler {
    let swr: OpaquePointer
    let path: String
    private let inputLayout: ChannelLayout
    private let inputFormat: Int32
    private let inputRate: Int32

    /// Sets up a conversion from `frame`'s format, rate and layout to mono float32 at `outputRate`.
    /// - Throws: `MediaError` `.resampleFailed` when libswresample rejects the parameters.
    init(from frame: UnsafePointer<AVFrame>, outputRate: Int32, path: String) throws {
        self.path = path
        inputLayout = withUnsafePointer(to: frame.pointee.ch_layout) { ChannelLayout(copying: $0) }
        inputFormat = frame.pointee.format
        inputRate = frame.pointee.sample_rate
        let mono = ChannelLayout(defaultFor: 1)
        var raw: OpaquePointer?
        let inLayout = inputLayout, inFormat = AVSampleFormat(rawValue: inputFormat), inRate = inputRate
        var status = withUnsafeMutablePointer(to: &mono.layout) { outPointer in
            withUnsafeMutablePointer(to: &inLayout.layout) { inPointer in
                FFmpegCalls.swrAllocSetOpts2(&raw, outPointer, AV_SAMPLE_FMT_FLT, outputRate, inPointer, inFormat, inRate)
            }
        }
        guard status >= 0, let raw else {
            throw MediaError.ffmpeg(.resampleFailed, path: path, code: status,
                                    "could not configure the resampler for \(inputLayout.channels) channels at \(inputRate) Hz")
        }
        swr = raw  // from here on, deinit frees it
        status = FFmpegCalls.swrInit(raw)
        if status < 0 {
            throw MediaError.ffmpeg(.resampleFailed, path: path, code: status,
                                    "could not initialise the resampler for \(inputLayout.channels) channels at \(inputRate) Hz")
        }
    }

    deinit {
        var raw: OpaquePointer? = swr
        FFmpegCalls.swrFree(&raw)
    }

    /// Whether `frame` has the format, rate and layout this resampler was made for.
    func accepts(_ frame: UnsafePointer<AVFrame>) -> Bool {
        frame.pointee.format == inputFormat && frame.pointee.sample_rate == inputRate
            && withUnsafePointer(to: frame.pointee.ch_layout) { inputLayout.equals($0) }
    }

    /// Converts `frame` and appends the output to `output` (`swr_convert`).
    func convert(_ frame: UnsafePointer<AVFrame>, into output: inout SampleBuffer) throws {
        let inCount = frame.pointee.nb_samples
        let input = UnsafeMutableRawPointer(frame.pointee.extended_data)?
            .assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
        try run(input: input, count: inCount, into: &output)
    }

    /// Drains the samples libswresample still holds (its filter delay) into `output` (`swr_convert` with no input).
    func flush(into output: inout SampleBuffer) throws {
        while try run(input: nil, count: 0, into: &output) > 0 {}
    }

    @discardableResult
    private func run(input: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, count: Int32,
                     into output: inout SampleBuffer) throws -> Int32 {
        let capacity = max(FFmpegCalls.swrGetOutSamples(swr, count), 0) + 16
        let produced = output.append(upTo: Int(capacity)) { destination in
            var plane: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(destination).assumingMemoryBound(to: UInt8.self)
            return Int(FFmpegCalls.swrConvert(swr, &plane, capacity, input, count))
        }
        if produced < 0 {
            throw MediaError.ffmpeg(.resampleFailed, path: path, code: Int32(produced), "swr_convert failed")
        }
        return Int32(produced)
    }
}

/// A growing `[Float]` that libswresample writes into directly: sized once from the expected length and
/// doubled when that was too small, so a whole clip costs one allocation and no per-sample Swift work.
struct SampleBuffer {
    private var storage: [Float]
    private(set) var count = 0

    init(expectedCount: Int) { storage = [Float](repeating: 0, count: max(expectedCount, 1024)) }

    /// Lets `write` fill up to `maximum` samples after the current end; it returns how many it wrote
    /// (negative for an error, which leaves the buffer as it was).
    mutating func append(upTo maximum: Int, _ write: (UnsafeMutablePointer<Float>) -> Int) -> Int {
        if storage.count - count < maximum {
            storage += [Float](repeating: 0, count: max(maximum, storage.count))
        }
        let start = count
        let written = storage.withUnsafeMutableBufferPointer { write($0.baseAddress! + start) }
        if written > 0 { count += min(written, maximum) }
        return written
    }

    /// The samples written, as an array (the unused tail is dropped without copying).
    consuming func finish() -> [Float] {
        storage.removeSubrange(count...)
        return storage
    }
}

/// A libswscale context converting decoded video frames of one size, pixel format, colour range and matrix to
/// packed RGB24 (`sws_getContext` … `sws_freeContext`), with the aligned buffer it writes into.
///
/// It is set up the way the ffmpeg CLI (5.1) sets up the scale filter it inserts for `-pix_fmt rgb24`
/// (libavfilter `vf_scale`), so the output equals the CLI's byte for byte:
/// - flags `SWS_BICUBIC`: the inserted filter's flags are empty and libswscale then picks bicubic. With no
///   resize only the colour conversion matters; `SWS_ACCURATE_RND` would change it (up to 101 per value on a
///   4:2:0 clip), `SWS_FULL_CHR_H_INT` makes no difference.
/// - the YUV→RGB matrix of the frame's `colorspace` (`sws_getCoefficients`; unspecified means BT.601) and the
///   input range of its `color_range` when set (else libswscale's own: full for the `yuvj` formats), given to
///   `sws_setColorspaceDetails` as `vf_scale`'s `in_color_matrix=auto` does. Without it a BT.709 clip is up to
///   41 per value off.
/// - rows 64-pixel aligned, as in the CLI's frames: libswscale's x86 YUV→RGB code converts whole groups of 8
///   pixels and, when a row's stride has no room for the last group, leaves the last pixels of each row unwritten
///   (a 180-pixel-wide frame written with a packed 540-byte stride loses 4 pixels per row). ``convert(_:)``
///   copies the rows out packed.
final class RGBScaler {
    let sws: OpaquePointer
    let path: String
    let width: Int32
    let height: Int32
    private let format: Int32
    private let range: AVColorRange
    private let colorspace: AVColorSpace
    /// Bytes per row of ``buffer``: the width rounded up to 64 pixels, times 3.
    private let rowStride: Int
    private let buffer: UnsafeMutableRawPointer

    /// Sets up a conversion for frames like `frame` (same size, format, range and colour matrix).
    /// - Throws: `MediaError` `.decodeFailed` when libswscale cannot convert the frame's pixel format.
    init(for frame: UnsafePointer<AVFrame>, path: String) throws {
        self.path = path
        width = frame.pointee.width
        height = frame.pointee.height
        format = frame.pointee.format
        range = frame.pointee.color_range
        colorspace = frame.pointee.colorspace
        let formatName = FFmpegCalls.pixelFormatName(format)
        guard width > 0, height > 0,
              let sws = FFmpegCalls.swsGetContext(width, height, AVPixelFormat(rawValue: format), AV_PIX_FMT_RGB24, SWS_BICUBIC) else {
            throw MediaError(reason: .decodeFailed, path: path,
                             message: "libswscale cannot convert \(width)x\(height) \(formatName) frames to rgb24")
        }
        self.sws = sws  // from here on, deinit frees it
        rowStride = (Int(width) + 63) / 64 * 64 * 3
        buffer = UnsafeMutableRawPointer.allocate(byteCount: rowStride * Int(height), alignment: 64)

        // vf_scale's colour set-up: start from libswscale's defaults, then take the matrix and range the frame states.
        var inverse: UnsafeMutablePointer<Int32>?, table: UnsafeMutablePointer<Int32>?
        var sourceFull: Int32 = 0, destinationFull: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        var status = FFmpegCalls.swsGetColorspaceDetails(sws, &inverse, &sourceFull, &table, &destinationFull,
                                                         &brightness, &contrast, &saturation)
        if status >= 0 {
            let coefficients = FFmpegCalls.swsGetCoefficients(Int32(colorspace.rawValue))
            if range != AVCOL_RANGE_UNSPECIFIED { sourceFull = range == AVCOL_RANGE_JPEG ? 1 : 0 }
            status = FFmpegCalls.swsSetColorspaceDetails(sws, coefficients, sourceFull, coefficients, destinationFull,
                                                         brightness, contrast, saturation)
        }
        if status < 0 {
            throw MediaError(reason: .decodeFailed, path: path, code: status,
                             message: "libswscale cannot set the colour matrix and range of \(formatName) frames")
        }
    }

    deinit {
        FFmpegCalls.swsFreeContext(sws)
        buffer.deallocate()
    }

    /// Whether `frame` has the size, format, range and colour matrix this scaler was made for.
    func accepts(_ frame: UnsafePointer<AVFrame>) -> Bool {
        frame.pointee.width == width && frame.pointee.height == height && frame.pointee.format == format
            && frame.pointee.color_range == range && frame.pointee.colorspace == colorspace
    }

    /// Converts `frame` (`sws_scale`) and returns its pixels as packed RGB24 rows, `width * height * 3` bytes.
    /// - Throws: `MediaError` `.decodeFailed` when `sws_scale` fails.
    func convert(_ frame: UnsafePointer<AVFrame>) throws -> [UInt8] {
        var destination: UnsafeMutablePointer<UInt8>? = buffer.assumingMemoryBound(to: UInt8.self)
        var destinationStride = Int32(rowStride)
        let rows = withUnsafeBytes(of: frame.pointee.data) { planes in
            withUnsafeBytes(of: frame.pointee.linesize) { strides in
                FFmpegCalls.swsScale(sws, planes.baseAddress!.assumingMemoryBound(to: UnsafePointer<UInt8>?.self),
                                     strides.baseAddress!.assumingMemoryBound(to: Int32.self), height,
                                     &destination, &destinationStride)
            }
        }
        guard rows == height else {
            throw MediaError(reason: .decodeFailed, path: path, code: rows < 0 ? rows : nil,
                             message: "sws_scale converted \(rows) of \(height) rows to rgb24")
        }
        let rowBytes = Int(width) * 3, count = rowBytes * Int(height)
        return [UInt8](unsafeUninitializedCapacity: count) { pixels, initialized in
            for row in 0..<Int(height) {
                (pixels.baseAddress! + row * rowBytes).initialize(
                    from: (buffer + row * rowStride).assumingMemoryBound(to: UInt8.self), count: rowBytes)
            }
            initialized = count
        }
    }
}
