import Foundation

/// Why a media operation failed: a stable `reason` code for the run records, the file, FFmpeg's error code,
/// and a message that quotes FFmpeg's own words.
///
/// ```swift
/// do { _ = try AudioDecoder.decodeMono(url: clip) }
/// catch let error as MediaError where error.reason == .unreadableContainer {
///     print(error)   // '/data/dia1_utt0.mp4': could not open the container: Invalid data found when
///                    // processing input; FFmpeg logged "mov,mp4,m4a,3gp,3g2,mj2: moov atom not found"
///                    // [corrupt_container, code -1094995529]
/// }
/// ```
public struct MediaError: Error, CustomStringConvertible, Sendable {
    /// A stable code recorded in the run records (the raw value), never reworded.
    public enum Reason: String, Codable, Sendable {
        /// The file does not exist or cannot be opened for reading.
        case missingFile = "missing_file"
        /// The container cannot be parsed (truncated MP4 without a moov atom, not a media file, ...).
        case unreadableContainer = "corrupt_container"
        /// The container has no audio stream.
        case noAudioStream = "no_audio_stream"
        /// The container has no video stream.
        case noVideoStream = "no_video_stream"
        /// A decoder could not be opened, or decoding failed.
        case decodeFailed = "decode_error"
        /// The stream decoded without error but produced no samples.
        case emptyStream = "empty_stream"
        /// libswresample could not be set up or failed to convert.
        case resampleFailed = "resample_error"
    }

    public var reason: Reason
    /// The file the operation was about.
    public var path: String
    /// The FFmpeg return code (a negative AVERROR), when an FFmpeg call failed.
    public var code: Int32?
    /// What we were doing, FFmpeg's message for `code` (`av_strerror`), and the last line FFmpeg logged on
    /// this thread (see ``FFmpegLog``), e.g. `could not open the container: Invalid data found when processing
    /// input; FFmpeg logged "mov,mp4,m4a,3gp,3g2,mj2: moov atom not found"`.
    public var message: String

    public init(reason: Reason, path: String, code: Int32? = nil, message: String) {
        self.reason = reason
        self.path = path
        self.code = code
        self.message = message
    }

    /// One sentence naming the file, what went wrong in FFmpeg's words, the reason code and the C code.
    public var description: String {
        let codeText = code.map { ", code \($0)" } ?? ""
        return "'\(path)': \(message) [\(reason.rawValue)\(codeText)]"
    }
}

extension MediaError {
    /// An error for a failed FFmpeg call: `what` we were doing, FFmpeg's message for `code` (`av_strerror`), and
    /// the last error line FFmpeg logged on this thread, which often says more than the code
    /// ("moov atom not found" behind "Invalid data found when processing input").
    static func ffmpeg(_ reason: Reason, path: String, code: Int32, _ what: String) -> MediaError {
        var message = "\(what): \(FFmpegCalls.errorString(code))"
        if let logged = FFmpegLog.lastMessage { message += "; FFmpeg logged \"\(logged)\"" }
        return MediaError(reason: reason, path: path, code: code, message: message)
    }
}
