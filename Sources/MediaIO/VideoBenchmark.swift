import Foundation

/// Timing hook for the CLI's `bench` command, which compares it with
/// `ffmpeg -benchmark -i clip.mp4 -vf "select=not(mod(n\,10))" -vsync 0 -f rawvideo -pix_fmt rgb24 -y /dev/null`.
public enum VideoBenchmark {
    /// Streams every clip through ``VideoFrameSampler/sample(url:stride:threads:body:)`` (default threads) one
    /// after another on the calling thread, touching each kept frame once, and returns the total wall-clock seconds
    /// (monotonic clock).
    /// - Throws: the first ``MediaError``.
    public static func timeSample(urls: [URL], stride: Int) throws -> Double {
        FFmpegLog.install()
        let start = DispatchTime.now().uptimeNanoseconds
        var checksum = 0
        for url in urls {
            try VideoFrameSampler.sample(url: url, stride: stride) { frame in
                checksum &+= Int(frame.pixels[frame.pixels.count / 2])
                return true
            }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        withExtendedLifetime(checksum) {}
        return elapsed
    }
}
