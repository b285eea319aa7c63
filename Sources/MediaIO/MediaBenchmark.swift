import Foundation

/// Timing hooks for the CLI's `bench` command, which compares them with `ffmpeg -benchmark`.
public enum MediaBenchmark {
    /// Decodes every clip with ``AudioDecoder/decodeMono(url:sampleRate:)`` one after another on the calling
    /// thread and returns the total wall-clock seconds (monotonic clock).
    /// - Throws: the first ``MediaError``.
    public static func timeDecode(urls: [URL], sampleRate: Int) throws -> Double {
        FFmpegLog.install()
        let start = DispatchTime.now().uptimeNanoseconds
        var samples = 0
        for url in urls {
            samples &+= try AudioDecoder.decodeMono(url: url, sampleRate: sampleRate).samples.count
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        withExtendedLifetime(samples) {}
        return elapsed
    }
}
