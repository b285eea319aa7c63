import CFFmpeg
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// FFmpeg's logging, silenced and captured per thread so errors can quote it.
///
/// Some of FFmpeg's most useful messages never reach a return code: `avformat_open_input` on a truncated MP4
/// returns only "Invalid data found when processing input", while the mov demuxer logs "moov atom not found"
/// through `av_log`. ``install()`` replaces FFmpeg's stderr logger (`av_log_set_callback`) with one that prints
/// nothing and keeps the last error line logged on each thread; MediaIO clears it before each operation and
/// quotes it in ``MediaError/message``.
///
/// ```swift
/// FFmpegLog.install()               // once, at start-up (MediaIO's entry points also call it)
/// FFmpegLog.clear()
/// // ... some FFmpeg call fails ...
/// FFmpegLog.lastMessage            // "mov,mp4,m4a,3gp,3g2,mj2: moov atom not found"
/// ```
///
/// Thread-safety: the callback is process-wide and installed once; the captured text lives in thread-local
/// storage, so concurrent decodes on different threads never see each other's messages. Messages logged by
/// FFmpeg's own worker threads (frame-threaded video decoders) land in those threads' storage, not the caller's.
public enum FFmpegLog {
    /// Installs the capturing callback (idempotent, thread-safe). Sets FFmpeg's level to `AV_LOG_ERROR`, so
    /// FFmpeg skips formatting info/debug lines; nothing is printed to stderr any more.
    public static func install() { _ = installed }

    /// The last error line FFmpeg logged on the calling thread since the last ``clear()``, prefixed with the
    /// logging component's name ("aac: ...", "mov,mp4,m4a,3gp,3g2,mj2: ..."), or nil.
    public static var lastMessage: String? { ThreadLogState.current.last }

    /// Forgets the calling thread's captured message (MediaIO does this at the start of each operation).
    public static func clear() {
        let state = ThreadLogState.current
        state.last = nil
        state.pending = ""
    }

    /// Levels at or below this (panic, fatal, error) are captured; warnings and chatter are dropped.
    static let capturedLevel: Int32 = AV_LOG_ERROR

    private static let installed: Void = {
        FFmpegCalls.logSetLevel(AV_LOG_ERROR)
        FFmpegCalls.logSetCaptureCallback()
    }()
}

extension FFmpegLog {
    /// The `av_log` callback's body: formats the line with `vsnprintf` and records it for the calling thread.
    static func capture(_ context: UnsafeMutableRawPointer?, _ level: Int32, _ format: UnsafePointer<CChar>?,
                        _ arguments: CVaListPointer?) {
        guard level <= capturedLevel, let format, let arguments else { return }
        var buffer = [CChar](repeating: 0, count: 1024)
        _ = vsnprintf(&buffer, buffer.count, format, arguments)
        let text = String(cString: buffer)

        // FFmpeg may build one line from several calls; only the first piece carries the component's name.
        let state = ThreadLogState.current
        if state.pending.isEmpty, let component = componentName(context) {
            state.pending = component + ": "
        }
        state.pending += text
        let line = state.pending.trimmingCharacters(in: .whitespacesAndNewlines)
        if !line.isEmpty { state.last = line }
        if text.hasSuffix("\n") { state.pending = "" }
    }
}

/// The name of the component that logged (`AVClass.item_name`), e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "aac".
private func componentName(_ context: UnsafeMutableRawPointer?) -> String? {
    guard let context,
          let avClass = context.assumingMemoryBound(to: UnsafePointer<AVClass>?.self).pointee,
          let itemName = avClass.pointee.item_name,
          let name = itemName(context) else { return nil }
    return String(cString: name)
}

/// Per-thread capture state, kept behind a pthread key and released when the thread exits.
final class ThreadLogState {
    var last: String?
    var pending = ""

    static var current: ThreadLogState {
        if let raw = pthread_getspecific(threadLogKey) {
            return Unmanaged<ThreadLogState>.fromOpaque(raw).takeUnretainedValue()
        }
        let state = ThreadLogState()
        pthread_setspecific(threadLogKey, Unmanaged.passRetained(state).toOpaque())
        return state
    }
}

private let threadLogKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
        guard let raw = raw as UnsafeMutableRawPointer? else { return }
        Unmanaged<ThreadLogState>.fromOpaque(raw).release()
    }
    precondition(status == 0, "pthread_key_create failed (\(status))")
    return key
}()
