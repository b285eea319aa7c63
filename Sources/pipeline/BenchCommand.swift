import ArgumentParser
import DSP
import Foundation
import MediaIO
import PipelineKit

extension PipelineCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks against the references on the same inputs, in one run (not a test).",
            discussion: """
                audio: our decode+resample against `ffmpeg -benchmark` doing the same conversion; our MFCC against
                librosa's (when a Python with librosa is found); the audio stages of `extract` in clips per second.
                video: frame decoding and sampling (every 10th frame to RGB24) against `ffmpeg -benchmark` doing the
                same selection, on the sample's clips and on 1280x720 H.264 clips.
                text: our BERT encoder against transformers' on PyTorch (CPU, same threads; when a Python with torch
                is found) at bert-base shape with random weights, 32x24 and 1x128 tokens, beside the sgemm rate
                measured in the same run, and the peak memory with bert-base loaded.
                models: HuBERT base on 4 s of audio and CLIP ViT-B/32 on 8 images against transformers on PyTorch,
                MTCNN on a 1280x720 frame against facenet-pytorch, beside the sgemm rate; then the projected wall
                time of the default extract over all of MELD on this machine.
                Absolute times drift 5-20% on shared machines; the ratios are the result.
                """)

        @Argument(help: "What to benchmark: audio, video, text or models.")
        var what: String = "audio"

        @Option(help: ArgumentHelp("A folder of .mp4 clips to use (default: the bundled sample's clips).", valueName: "dir"))
        var clips: String?

        @Option(help: "How many clips the end-to-end run processes (the sample's clips repeated).")
        var endToEndClips: Int = 300

        @Option(help: ArgumentHelp("""
            Python for the reference: audio needs librosa (default: python3 on PATH); text and models need torch \
            and transformers (default: $MELD_TORCH_PYTHON, else python3 on PATH if it has both).
            """, valueName: "path"))
        var python: String?

        @Option(help: ArgumentHelp("Python with facenet_pytorch for the MTCNN reference (default: $MELD_FACENET_PYTHON, else python3 if it has it).",
                                   valueName: "path"))
        var facenetPython: String?

        @OptionGroup var text: TextBenchOptions

        func run() throws {
            let threads = text.threads ?? ProcessInfo.processInfo.activeProcessorCount
            switch what {
            case "audio":
                try AudioBench(clipsDir: clips, endToEndClips: endToEndClips, python: python ?? "python3").run()
            case "video":
                try VideoBench(clipsDir: clips).run()
            case "text":
                try TextBench(threads: threads, rounds: text.rounds, repeats: text.repeats, python: python).run()
            case "models":
                try ModelBench(threads: threads, rounds: text.rounds, repeats: text.repeats, python: python,
                               facenetPython: facenetPython).run()
            default:
                throw ValidationError("unknown benchmark `\(what)` (known: audio, video, text, models)")
            }
        }
    }
}

struct AudioBench {
    var clipsDir: String?
    var endToEndClips: Int
    var python: String

    func clips() throws -> [URL] {
        let dir = clipsDir.map { URL(fileURLWithPath: $0) } ?? Locations.find("Samples/MELD.Raw")
        guard let dir, let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil) else {
            throw ConfigurationError("no clips folder (pass --clips DIR)")
        }
        let urls = e.compactMap { $0 as? URL }.filter { $0.pathExtension == "mp4" }.sorted { $0.path < $1.path }
        guard !urls.isEmpty else { throw ConfigurationError("no .mp4 clips under \(dir.path)") }
        return urls
    }

    func run() throws {
        let urls = try clips()
        print("benchmark: audio, \(urls.count) clips, \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // 1. Decode + resample to 16 kHz mono: ours (one thread) vs ffmpeg's own loop (its -benchmark rtime).
        let repeats = 3
        var ours = Double.infinity
        for _ in 0..<repeats { ours = min(ours, try MediaBenchmark.timeDecode(urls: urls, sampleRate: 16000)) }
        var theirs = 0.0
        var ffmpegOK = true
        for url in urls {
            var best = Double.infinity
            for _ in 0..<repeats {
                guard let t = ffmpegRealTime(url) else { ffmpegOK = false; break }
                best = min(best, t)
            }
            theirs += best
        }
        if ffmpegOK {
            print(String(format: "decode+resample: ours %.1f ms, ffmpeg -benchmark %.1f ms (all clips, best of %d): ratio ffmpeg/ours = %.2fx",
                         ours * 1000, theirs * 1000, repeats, theirs / ours))
        } else {
            print(String(format: "decode+resample: ours %.1f ms; ffmpeg not found, no reference", ours * 1000))
        }

        // 2. MFCC per clip: ours vs librosa on the same decoded samples, in alternating rounds so that load on a
        //    shared machine hits both sides alike; the median ratio is the result.
        let audio = try urls.map { try AudioDecoder.decodeMono(url: $0, sampleRate: 16000).samples }
        var ratios: [Double] = []
        var lines: [String] = []
        for round in 1...3 {
            var oursMFCC = 0.0
            for a in audio { oursMFCC += DSPBenchmark.timeMFCC(samples: a, repeats: 20) }
            let perClip = oursMFCC / Double(audio.count)
            guard let lib = librosaTime(audio) else {
                print(String(format: "mfcc 13x401: ours %.3f ms/clip; no Python with librosa found (%@), no reference", perClip * 1000, python))
                lines = []
                break
            }
            ratios.append(lib / perClip)
            lines.append(String(format: "  round %d: ours %.3f ms/clip, librosa %.3f ms/clip, ratio %.1fx", round, perClip * 1000, lib * 1000, lib / perClip))
        }
        if !ratios.isEmpty {
            print(String(format: "mfcc 13x401 per clip: librosa/ours = %.1fx (median of %d alternating rounds)", ratios.sorted()[ratios.count / 2], ratios.count))
            lines.forEach { print($0) }
        }

        // 3. The audio stages of extract, end to end, on MELD-length clips.
        let rate = try endToEnd(urls)
        print(String(format: "extract audio stages (audio+mfcc+melspec, cache writes included): %.1f clips/s on %d clips", rate.0, rate.1))
    }

    /// Runs a program found on PATH; returns the chosen output stream's text, or nil if it failed to run or exit 0.
    static func capture(_ arguments: [String], stderr: Bool) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        let pipe = Pipe()
        if stderr { p.standardError = pipe; p.standardOutput = FileHandle.nullDevice }
        else { p.standardOutput = pipe; p.standardError = FileHandle.nullDevice }
        guard (try? p.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    func ffmpegRealTime(_ url: URL) -> Double? {
        // ffmpeg's own decode loop time, from "bench: utime=0.012s stime=0.004s rtime=0.016s" (no process start-up).
        guard let text = Self.capture(["ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-i", url.path, "-vn", "-ac", "1",
                                  "-ar", "16000", "-f", "f32le", "-y", "/dev/null"], stderr: true) else { return nil }
        guard let r = text.range(of: "rtime=") else { return nil }
        let rest = text[r.upperBound...].prefix { $0 == "." || $0.isNumber }
        return Double(rest)
    }

    func librosaTime(_ audio: [[Float]]) -> Double? {
        guard let dir = try? FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask,
                                                     appropriateFor: URL(fileURLWithPath: "/tmp"), create: true) else { return nil }
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths: [String] = []
        for (i, a) in audio.enumerated() {
            let url = dir.appendingPathComponent("clip\(i).f32")
            a.withUnsafeBufferPointer { try? Data(buffer: $0).write(to: url) }
            paths.append(url.path)
        }
        let script = """
            import sys, time, numpy as np
            import librosa
            tot = 0.0
            for p in sys.argv[1:]:
                y = np.fromfile(p, dtype='<f4')
                best = 1e9
                for _ in range(20):
                    t = time.perf_counter()
                    m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=400, hop_length=160, n_mels=40, fmin=0, fmax=8000)
                    m = m[:, :401]
                    if m.shape[1] < 401: m = np.pad(m, ((0, 0), (0, 401 - m.shape[1])))
                    best = min(best, time.perf_counter() - t)
                tot += best
            print(tot / (len(sys.argv) - 1))
            """
        return Self.capture([python, "-c", script] + paths, stderr: false)
            .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Builds a MELD-layout dataset of `endToEndClips` items (symlinks to the clips), runs the audio stages of
    /// extract on it into a scratch cache, and returns clips per second.
    func endToEnd(_ urls: [URL]) throws -> (Double, Int) {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("meld-bench-\(getpid())")
        defer { try? fm.removeItem(at: root) }
        let clipsDir = root.appendingPathComponent("MELD.Raw/train_splits")
        try fm.createDirectory(at: clipsDir, withIntermediateDirectories: true)
        var csv = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\r\n"
        for i in 0..<endToEndClips {
            let d = i / 10, u = i % 10
            try fm.createSymbolicLink(at: clipsDir.appendingPathComponent("dia\(d)_utt\(u).mp4"), withDestinationURL: urls[i % urls.count])
            csv += "\(i + 1),Benchmark line.,Joey,neutral,neutral,\(d),\(u),1,1,\"00:00:01,000\",\"00:00:04,000\"\r\n"
        }
        try csv.write(to: root.appendingPathComponent("MELD.Raw/train_sent_emo.csv"), atomically: true, encoding: .utf8)
        guard let pipelineURL = Locations.find("Pipelines/extract.yaml") else { throw ConfigurationError("Pipelines/extract.yaml not found") }
        let spec = try PipelineSpec.load(from: pipelineURL)
        var options = Engine.Options(datasetRoot: root.appendingPathComponent("MELD.Raw"),
                                     cacheDir: root.appendingPathComponent("Cache"),
                                     manifestsDir: root.appendingPathComponent("Manifests"), splits: [.train])
        options.only = ["mfcc", "melspec"]
        options.progress = false
        let start = Date()
        let engine = try Engine(spec: spec, options: options)
        let summary = try engine.run()
        let elapsed = Date().timeIntervalSince(start)
        guard summary.failures.isEmpty else { throw ConfigurationError("benchmark run had failures: \(summary.failures.first!)") }
        return (Double(endToEndClips) / elapsed, endToEndClips)
    }
}
