import Foundation
import MediaIO
import PipelineKit

/// `pipeline bench video`: frame decoding and sampling (every 10th frame to RGB24) against `ffmpeg -benchmark`
/// doing the same selection, on the sample's clips and on MELD-sized 1280x720 H.264 clips made with ffmpeg.
struct VideoBench {
    var clipsDir: String?
    var stride = 10

    func run() throws {
        print("benchmark: video frames (every \(stride)th frame to RGB24), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let sample = try AudioBench(clipsDir: clipsDir, endToEndClips: 0, python: "python3").clips()
        try compare("sample clips (\(sample.count))", sample)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meld-bench-video-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var hd: [URL] = []
        for i in 0..<4 {
            let url = dir.appendingPathComponent("clip\(i).mp4")
            // MELD's clips: 1280x720 H.264 (High, yuv420p), ~24 fps, a few seconds.
            let ok = AudioBench.capture(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                                         "testsrc2=s=1280x720:r=23.976:d=\(3 + i)", "-c:v", "libx264", "-preset", "veryfast",
                                         "-pix_fmt", "yuv420p", "-y", url.path], stderr: true) != nil
            guard ok else { print("ffmpeg could not make 1280x720 clips; skipped"); return }
            hd.append(url)
        }
        try compare("1280x720 H.264 clips (\(hd.count), 3-6 s)", hd)
    }

    func compare(_ label: String, _ urls: [URL]) throws {
        var ratios: [Double] = []
        var line = ""
        for round in 1...3 {
            var ours = Double.infinity
            for _ in 0..<3 { ours = min(ours, try VideoBenchmark.timeSample(urls: urls, stride: stride)) }
            var theirs = 0.0
            for url in urls {
                var best = Double.infinity
                for _ in 0..<3 {
                    guard let t = ffmpegSelectTime(url) else { print("\(label): ours \(ms(ours)); ffmpeg not found, no reference"); return }
                    best = min(best, t)
                }
                theirs += best
            }
            ratios.append(theirs / ours)
            line += String(format: "\n  round %d: ours %@, ffmpeg -benchmark %@, ratio %.2fx", round, ms(ours), ms(theirs), theirs / ours)
        }
        print(String(format: "%@: ffmpeg/ours = %.2fx (median of 3 alternating rounds; >1 means we are faster)%@",
                     label, ratios.sorted()[1], line))
    }

    func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }

    /// ffmpeg's own loop time for the same selection and conversion (its `-benchmark` rtime, no process start-up).
    func ffmpegSelectTime(_ url: URL) -> Double? {
        guard let text = AudioBench.capture(["ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-i", url.path, "-an", "-vf",
                                             "select=not(mod(n\\,\(stride)))", "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24",
                                             "-y", "/dev/null"], stderr: true),
              let r = text.range(of: "rtime=") else { return nil }
        return Double(text[r.upperBound...].prefix { $0 == "." || $0.isNumber })
    }
}
