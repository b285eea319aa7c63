import Foundation
import TestSupport
import XCTest

/// Video clips made once per test run with the `ffmpeg` CLI into a temp dir (nothing binary is checked in), and
/// the CLI's own RGB24 frames for them, the reference ``VideoFrameSampler`` must match.
enum VideoFixtures {
    /// The clips, or the reason they could not be made (an `XCTSkip` when `ffmpeg` or libx264 is missing).
    static func clips() throws -> Clips { try made.get() }

    struct Clips {
        let directory: URL
        /// testsrc2 320x180 at 24 fps, 3 s (72 frames), H.264 yuv420p with B-frames, + AAC audio.
        let main: URL
        /// `main`'s picture tagged BT.709 limited range: the colour matrix must follow the tag.
        let bt709: URL
        /// 321x241, H.264 4:4:4 (libx264 refuses odd sizes in 4:2:0), 3 s.
        let odd444: URL
        /// 321x241, MPEG-4 Part 2 yuv420p (odd chroma planes: 161x121), 3 s.
        let odd420: URL
        /// 180x320 portrait, H.264 yuv420p, 3 s (a 540-byte RGB row, not a multiple of 16).
        let portrait: URL
        /// One frame of H.264.
        let oneFrame: URL
        /// AAC only.
        let audioOnly: URL
        /// `main` remuxed with the moov atom first (`+faststart`), then cut to its first 60% of bytes: it opens,
        /// and the demuxer meets end of file part-way through the streams.
        let cutAfterHeader: URL
        /// A text file with an .mp4 name.
        let notMedia: URL
        /// A path where nothing is.
        let missing: URL
    }

    /// The frame rate of every testsrc2 clip.
    static let fps = 24.0

    /// What `ffmpeg -i <clip> -vf "select=not(mod(n\,<stride>))" -vsync 0 -f rawvideo -pix_fmt rgb24` writes
    /// (via a file: the output is binary).
    static func reference(_ clip: URL, stride: Int) throws -> Data {
        let out = clip.deletingPathExtension().appendingPathExtension("every\(stride).rgb")
        if !FileManager.default.fileExists(atPath: out.path) {
            try MediaFixtures.ffmpeg(["-i", clip.path, "-vf", "select=not(mod(n\\,\(stride)))", "-vsync", "0",
                                      "-f", "rawvideo", "-pix_fmt", "rgb24", out.path])
        }
        return try Data(contentsOf: out)
    }

    /// 300 s of 1280x720 gray at 24 fps (7200 frames), H.264: a 10 s encode looped 30 times by stream copy, which
    /// takes about a second instead of half a minute. Made on first use only.
    static func long() throws -> URL {
        let clips = try clips()
        let url = clips.directory.appendingPathComponent("long720p.mp4")
        if !FileManager.default.fileExists(atPath: url.path) {
            let piece = clips.directory.appendingPathComponent("gray10s.mp4")
            try MediaFixtures.ffmpeg(["-f", "lavfi", "-i", "color=c=gray:s=1280x720:r=24:d=10",
                                      "-c:v", "libx264", "-preset", "ultrafast", "-crf", "40", piece.path])
            try MediaFixtures.ffmpeg(["-stream_loop", "29", "-i", piece.path, "-c", "copy", url.path])
        }
        return url
    }

    private static let made: Result<Clips, Error> = Result { try make() }

    private static func make() throws -> Clips {
        guard let ffmpegPath = MediaFixtures.ffmpegPath else {
            throw XCTSkip("the ffmpeg CLI is not on PATH; the video tests make their clips with it")
        }
        let encoders = try runProcess(ffmpegPath, ["-hide_banner", "-encoders"]).stdout
        guard encoders.contains("libx264") else { throw XCTSkip("this ffmpeg has no libx264; the video tests need H.264 clips") }
        let dir = try TestPaths.makeTempDir("mediaio-video")
        XCTestObservationCenter.shared.addTestObserver(RemoveWhenDone(dir))
        func url(_ name: String) -> URL { dir.appendingPathComponent(name) }
        func testsrc(_ size: String, seconds: Double = 3) -> [String] {
            ["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=24:duration=\(seconds)"]
        }
        // veryfast keeps B-frames (ultrafast has none), so decode order and output order differ.
        let h264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]

        let clips = Clips(
            directory: dir, main: url("main.mp4"), bt709: url("bt709.mp4"), odd444: url("odd444.mp4"),
            odd420: url("odd420.mp4"), portrait: url("portrait.mp4"), oneFrame: url("one_frame.mp4"),
            audioOnly: url("audio_only.mp4"), cutAfterHeader: url("cut_after_header.mp4"),
            notMedia: url("not_media.mp4"), missing: url("no_such_clip.mp4"))

        try MediaFixtures.ffmpeg(testsrc("320x180") + ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
                                                      "-map", "0:v", "-map", "1:a"] + h264 + ["-c:a", "aac", clips.main.path])
        try MediaFixtures.ffmpeg(testsrc("320x180") + h264 + ["-colorspace", "bt709", "-color_primaries", "bt709",
                                                             "-color_trc", "bt709", "-color_range", "tv", clips.bt709.path])
        // testsrc2 rounds its size down to even numbers, so the odd size comes from a scale filter.
        try MediaFixtures.ffmpeg(testsrc("322x242") + ["-vf", "scale=321:241", "-c:v", "libx264", "-preset", "veryfast",
                                                      "-pix_fmt", "yuv444p", clips.odd444.path])
        try MediaFixtures.ffmpeg(testsrc("322x242") + ["-vf", "scale=321:241", "-c:v", "mpeg4", "-q:v", "3",
                                                      "-pix_fmt", "yuv420p", clips.odd420.path])
        try MediaFixtures.ffmpeg(testsrc("180x320") + h264 + [clips.portrait.path])
        try MediaFixtures.ffmpeg(testsrc("320x180") + ["-frames:v", "1"] + h264 + [clips.oneFrame.path])
        try MediaFixtures.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1", "-c:a", "aac",
                                  clips.audioOnly.path])

        let faststart = url("faststart.mp4")
        try MediaFixtures.ffmpeg(["-i", clips.main.path, "-map", "0", "-c", "copy", "-movflags", "+faststart", faststart.path])
        let whole = try Data(contentsOf: faststart)
        try whole.prefix(whole.count * 60 / 100).write(to: clips.cutAfterHeader)
        try Data("this is not a video\n".utf8).write(to: clips.notMedia)
        return clips
    }
}
