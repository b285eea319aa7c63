import CFFmpeg
import Foundation

/// Every raw call MediaIO makes into FFmpeg, one line each, named after the C function it wraps.
///
/// This is the one place to trace, time or fake FFmpeg (the swift-system `Syscalls.swift` pattern): the owner
/// types in `Handles.swift` and the public API call these, never the C functions directly. Field reads on the
/// C structs (`ctx.pointee.nb_streams`) are not calls and happen where they are needed.
enum FFmpegCalls {
    typealias FormatContext = UnsafeMutablePointer<AVFormatContext>
    typealias CodecContext = UnsafeMutablePointer<AVCodecContext>

    // MARK: Error codes and messages

    /// `AVERROR(EAGAIN)`: the decoder wants the other half of the send/receive pair first.
    static let eagain: Int32 = cffmpeg_averror_eagain()
    /// `AVERROR_EOF`: the demuxer or the drained decoder has nothing more.
    static let eof: Int32 = cffmpeg_averror_eof()
    /// `AVERROR(ENOENT)`: no such file.
    static let enoent: Int32 = -ENOENT
    /// `AVERROR(ENOMEM)`.
    static let enomem: Int32 = -ENOMEM
    /// `AV_NOPTS_VALUE`: "no timestamp / unknown duration".
    static let noPTS: Int64 = cffmpeg_nopts_value()

    /// FFmpeg's own message for an error code (`av_strerror`), e.g. "Invalid data found when processing input".
    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        cffmpeg_strerror(code, &buffer, buffer.count)
        return String(cString: buffer)
    }

    // MARK: Logging (libavutil/log.h)

    /// Routes every `av_log` line to ``FFmpegLog/capture(_:_:_:_:)``. (The callback's type, which has a
    /// `va_list`, cannot be spelled in Swift source, so the C closure is written here, inferred from the import.)
    static func logSetCaptureCallback() { av_log_set_callback { FFmpegLog.capture($0, $1, $2, $3) } }
    static func logSetLevel(_ level: Int32) { av_log_set_level(level) }

    // MARK: Demuxing (libavformat)

    static func openInput(_ ctx: inout FormatContext?, _ url: String) -> Int32 { avformat_open_input(&ctx, url, nil, nil) }
    static func findStreamInfo(_ ctx: FormatContext) -> Int32 { avformat_find_stream_info(ctx, nil) }
    static func findBestStream(_ ctx: FormatContext, _ type: AVMediaType) -> Int32 { av_find_best_stream(ctx, type, -1, -1, nil, 0) }
    static func readFrame(_ ctx: FormatContext, _ packet: UnsafeMutablePointer<AVPacket>) -> Int32 { av_read_frame(ctx, packet) }
    static func closeInput(_ ctx: inout FormatContext?) { avformat_close_input(&ctx) }

    // MARK: Packets and frames (libavcodec, libavutil)

    static func packetAlloc() -> UnsafeMutablePointer<AVPacket>? { av_packet_alloc() }
    static func packetUnref(_ packet: UnsafeMutablePointer<AVPacket>) { av_packet_unref(packet) }
    static func packetFree(_ packet: inout UnsafeMutablePointer<AVPacket>?) { av_packet_free(&packet) }
    static func frameAlloc() -> UnsafeMutablePointer<AVFrame>? { av_frame_alloc() }
    static func frameUnref(_ frame: UnsafeMutablePointer<AVFrame>) { av_frame_unref(frame) }
    static func frameFree(_ frame: inout UnsafeMutablePointer<AVFrame>?) { av_frame_free(&frame) }

    // MARK: Decoding (libavcodec)

    static func findDecoder(_ id: AVCodecID) -> UnsafePointer<AVCodec>? { avcodec_find_decoder(id) }
    static func codecName(_ id: AVCodecID) -> String { String(cString: avcodec_get_name(id)) }
    static func pixelFormatName(_ format: Int32) -> String {
        av_get_pix_fmt_name(AVPixelFormat(rawValue: format)).map { String(cString: $0) } ?? "pixel format \(format)"
    }
    static func mediaTypeName(_ type: AVMediaType) -> String? { av_get_media_type_string(type).map { String(cString: $0) } }
    static func codecAllocContext(_ codec: UnsafePointer<AVCodec>) -> CodecContext? { avcodec_alloc_context3(codec) }
    static func parametersToContext(_ ctx: CodecContext, _ par: UnsafePointer<AVCodecParameters>) -> Int32 { avcodec_parameters_to_context(ctx, par) }
    static func codecOpen(_ ctx: CodecContext, _ codec: UnsafePointer<AVCodec>) -> Int32 { avcodec_open2(ctx, codec, nil) }
    static func codecFreeContext(_ ctx: inout CodecContext?) { avcodec_free_context(&ctx) }
    static func sendPacket(_ ctx: CodecContext, _ packet: UnsafePointer<AVPacket>?) -> Int32 { avcodec_send_packet(ctx, packet) }
    static func receiveFrame(_ ctx: CodecContext, _ frame: UnsafeMutablePointer<AVFrame>) -> Int32 { avcodec_receive_frame(ctx, frame) }

    // MARK: Channel layouts (libavutil/channel_layout.h, the 5.1 AVChannelLayout API)

    static func channelLayoutDefault(_ layout: inout AVChannelLayout, _ channels: Int32) { av_channel_layout_default(&layout, channels) }
    static func channelLayoutCopy(_ dst: inout AVChannelLayout, _ src: UnsafePointer<AVChannelLayout>) -> Int32 { av_channel_layout_copy(&dst, src) }
    static func channelLayoutCompare(_ a: UnsafePointer<AVChannelLayout>, _ b: UnsafePointer<AVChannelLayout>) -> Int32 { av_channel_layout_compare(a, b) }
    static func channelLayoutUninit(_ layout: inout AVChannelLayout) { av_channel_layout_uninit(&layout) }

    // MARK: Resampling (libswresample)

    static func swrAllocSetOpts2(_ swr: inout OpaquePointer?,
                                 _ outLayout: UnsafeMutablePointer<AVChannelLayout>, _ outFormat: AVSampleFormat, _ outRate: Int32,
                                 _ inLayout: UnsafeMutablePointer<AVChannelLayout>, _ inFormat: AVSampleFormat, _ inRate: Int32) -> Int32 {
        swr_alloc_set_opts2(&swr, outLayout, outFormat, outRate, inLayout, inFormat, inRate, 0, nil)
    }
    static func swrInit(_ swr: OpaquePointer) -> Int32 { swr_init(swr) }
    static func swrGetOutSamples(_ swr: OpaquePointer, _ inSamples: Int32) -> Int32 { swr_get_out_samples(swr, inSamples) }
    static func swrConvert(_ swr: OpaquePointer, _ out: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, _ outCount: Int32,
                           _ input: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ inCount: Int32) -> Int32 {
        swr_convert(swr, out, outCount, input, inCount)
    }
    static func swrFree(_ swr: inout OpaquePointer?) { swr_free(&swr) }

    // MARK: Pixel conversion (libswscale)

    /// A converter from `width`×`height` `source` to the same size in `destination` (`sws_getContext`, no filters).
    static func swsGetContext(_ width: Int32, _ height: Int32, _ source: AVPixelFormat, _ destination: AVPixelFormat,
                              _ flags: Int32) -> OpaquePointer? {
        sws_getContext(width, height, source, width, height, destination, flags, nil, nil, nil)
    }
    static func swsGetCoefficients(_ colorspace: Int32) -> UnsafePointer<Int32> { sws_getCoefficients(colorspace) }
    static func swsGetColorspaceDetails(_ sws: OpaquePointer, _ invTable: inout UnsafeMutablePointer<Int32>?, _ srcRange: inout Int32,
                                        _ table: inout UnsafeMutablePointer<Int32>?, _ dstRange: inout Int32,
                                        _ brightness: inout Int32, _ contrast: inout Int32, _ saturation: inout Int32) -> Int32 {
        sws_getColorspaceDetails(sws, &invTable, &srcRange, &table, &dstRange, &brightness, &contrast, &saturation)
    }
    static func swsSetColorspaceDetails(_ sws: OpaquePointer, _ invTable: UnsafePointer<Int32>, _ srcRange: Int32,
                                        _ table: UnsafePointer<Int32>, _ dstRange: Int32,
                                        _ brightness: Int32, _ contrast: Int32, _ saturation: Int32) -> Int32 {
        sws_setColorspaceDetails(sws, invTable, srcRange, table, dstRange, brightness, contrast, saturation)
    }
    static func swsScale(_ sws: OpaquePointer, _ source: UnsafePointer<UnsafePointer<UInt8>?>, _ sourceStrides: UnsafePointer<Int32>,
                         _ height: Int32, _ destination: UnsafePointer<UnsafeMutablePointer<UInt8>?>,
                         _ destinationStrides: UnsafePointer<Int32>) -> Int32 {
        sws_scale(sws, source, sourceStrides, 0, height, destination, destinationStrides)
    }
    static func swsFreeContext(_ sws: OpaquePointer) { sws_freeContext(sws) }
}
