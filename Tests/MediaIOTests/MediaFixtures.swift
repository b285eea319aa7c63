import Foundation
import TestSupport
import XCTest

/// Clips made once per test run with the `ffmpeg` CLI into a temp dir (nothing binary is checked in), and the
/// CLI's own decode of them, the reference MediaIO must match.
enum MediaFixtures {
    /// The clips, or the reason they could not be made (an `XCTSkip` when `ffmpeg` is not installed).
    static func clips() throws -> Clips { try made.get() }

    struct Clips {
        let directory: URL
        /// AAC 48 kHz stereo (sine left, pink noise right) + H.264 video, 2 s.
        let stereo48k: URL
        /// AAC 44.1 kHz mono (tone + noise) + video, 2 s.
        let mono44k: URL
        /// AAC 48 kHz 5.1, a different signal on each channel, + video, 2 s.
        let surround48k: URL
        /// 0.05 s of stereo audio + video.
        let tiny: URL
        /// 60 s of stereo audio + a tiny, slow video.
        let long: URL
        /// `stereo48k` cut to its first 40%: the moov atom (written last) is gone.
        let truncated: URL
        /// `stereo48k` remuxed with the moov atom first (`+faststart`), then cut to its first 60%: it opens,
        /// and the demuxer meets end of file part-way through the audio.
        let cutAfterHeader: URL
        /// Video only (`-an`).
        let videoOnly: URL
        /// Matroska with an AAC track that has no packets (MP4 drops such a track, Matroska keeps it).
        let emptyAudio: URL
        /// `stereo48k` with random bytes written into its audio packets (`noise` bitstream filter): the AAC
        /// decoder rejects many of them.
        let damaged: URL
        /// A text file with an .mp4 name.
        let notMedia: URL
        /// A path where nothing is.
        let missing: URL
    }

    /// Where `ffmpeg` is, or nil.
    static let ffmpegPath: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/ffmpeg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Runs `ffmpeg -v error -y <arguments>` and fails with its stderr if it fails.
    static func ffmpeg(_ arguments: [String]) throws {
        guard let ffmpegPath else { throw XCTSkip("the ffmpeg CLI is not on PATH; MediaIO's tests make their clips with it") }
        let result = try runProcess(ffmpegPath, ["-nostdin", "-hide_banner", "-v", "error", "-y"] + arguments)
        if result.status != 0 {
            throw NSError(domain: "MediaFixtures", code: Int(result.status), userInfo: [
                NSLocalizedDescriptionKey: "ffmpeg \(arguments.joined(separator: " ")) failed: \(result.stderr)"])
        }
    }

    /// What `ffmpeg -v error -i <clip> -ac 1 -ar <rate> -f f32le -` writes, as floats (via a file: the output is binary).
    static func reference(_ clip: URL, sampleRate: Int = 16000) throws -> [Float] {
        let out = clip.deletingPathExtension().appendingPathExtension("ref\(sampleRate).f32")
        if !FileManager.default.fileExists(atPath: out.path) {
            try ffmpeg(["-i", clip.path, "-ac", "1", "-ar", "\(sampleRate)", "-f", "f32le", out.path])
        }
        return try Golden.floats(out)
    }

    private static let made: Result<Clips, Error> = Result { try make() }

    private static func make() throws -> Clips {
        guard ffmpegPath != nil else { throw XCTSkip("the ffmpeg CLI is not on PATH; MediaIO's tests make their clips with it") }
        let dir = try TestPaths.makeTempDir("mediaio")
        XCTestObservationCenter.shared.addTestObserver(RemoveWhenDone(dir))
        func url(_ name: String) -> URL { dir.appendingPathComponent(name) }
        let encoders = try runProcess(ffmpegPath!, ["-hide_banner", "-encoders"]).stdout
        let videoCodec = encoders.contains("libx264") ? ["-c:v", "libx264", "-preset", "ultrafast"] : ["-c:v", "mpeg4"]
        func video(_ seconds: Double, rate: Int = 25, size: String = "96x64") -> [String] {
            ["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=\(rate):duration=\(seconds)"]
        }
        let encode = videoCodec + ["-pix_fmt", "yuv420p", "-c:a", "aac"]

        let clips = Clips(
            directory: dir, stereo48k: url("stereo48k.mp4"), mono44k: url("mono44k.mp4"), surround48k: url("surround48k.mp4"),
            tiny: url("tiny.mp4"), long: url("long.mp4"), truncated: url("truncated.mp4"), cutAfterHeader: url("cut_after_header.mp4"), videoOnly: url("video_only.mp4"),
            emptyAudio: url("empty_audio.mkv"), damaged: url("damaged.mp4"), notMedia: url("not_media.mp4"), missing: url("no_such_clip.mp4"))

        // Input 0 is the video; the audio comes from the other inputs.
        try ffmpeg(video(2) + ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
                               "-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:amplitude=0.3:duration=2:seed=7",
                               "-filter_complex", "[1:a][2:a]amerge=inputs=2[a]", "-map", "0:v", "-map", "[a]"]
                   + encode + [clips.stereo48k.path])
        try ffmpeg(video(2) + ["-f", "lavfi", "-i", "aevalsrc=exprs=0.5*sin(2*PI*330*t)+0.1*(random(0)-0.5):s=44100:d=2",
                               "-map", "0:v", "-map", "1:a"] + encode + [clips.mono44k.path])
        let sixChannels = ["0.3*sin(2*PI*220*t)", "0.3*sin(2*PI*330*t)", "0.3*sin(2*PI*440*t)",
                           "0.2*sin(2*PI*60*t)", "0.2*(random(0)-0.5)", "0.3*sin(2*PI*550*t)"].joined(separator: "|")
        try ffmpeg(video(2) + ["-f", "lavfi", "-i", "aevalsrc=exprs=\(sixChannels):c=5.1:s=48000:d=2",
                               "-map", "0:v", "-map", "1:a"] + encode + [clips.surround48k.path])
        try ffmpeg(video(0.05) + ["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=0.05",
                                  "-map", "0:v", "-map", "1:a", "-ac", "2"] + encode + [clips.tiny.path])
        try ffmpeg(video(60, rate: 2, size: "32x32") + ["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000:duration=60",
                                                        "-map", "0:v", "-map", "1:a", "-ac", "2"] + encode + [clips.long.path])
        try ffmpeg(video(1) + ["-an"] + videoCodec + ["-pix_fmt", "yuv420p", clips.videoOnly.path])
        try ffmpeg(["-i", clips.stereo48k.path, "-map", "0", "-c", "copy", "-bsf:a", "noise=dropamount=1", clips.emptyAudio.path])
        try ffmpeg(["-i", clips.stereo48k.path, "-map", "0", "-c", "copy", "-bsf:a", "noise=amount=200", clips.damaged.path])

        let whole = try Data(contentsOf: clips.stereo48k)
        try whole.prefix(whole.count * 40 / 100).write(to: clips.truncated)
        let faststart = url("faststart.mp4")
        try ffmpeg(["-i", clips.stereo48k.path, "-map", "0", "-c", "copy", "-movflags", "+faststart", faststart.path])
        let header = try Data(contentsOf: faststart)
        try header.prefix(header.count * 60 / 100).write(to: clips.cutAfterHeader)
        try Data("this is not a video\n".utf8).write(to: clips.notMedia)
        return clips
    }
}

/// Removes a fixture directory when the test bundle finishes (set `MEDIAIO_KEEP_FIXTURES=1` to keep it).
final class RemoveWhenDone: NSObject, XCTestObservation {
    let directory: URL
    init(_ directory: URL) { self.directory = directory }
    func testBundleDidFinish(_ testBundle: Bundle) {
        if ProcessInfo.processInfo.environment["MEDIAIO_KEEP_FIXTURES"] == "1" {
            print("MediaIO fixtures kept in \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
