import Foundation
import DSP
import MediaIO
import Models
import PipelineKit
import Tensor

/// `pipeline bench models`: HuBERT base on 4 s of audio, CLIP ViT-B/32 on a batch of 8 images and MTCNN on a
/// 1280x720 frame, ours against the Python references (transformers on PyTorch, facenet-pytorch) at the same
/// thread count when a Python with them is found, beside the sgemm rate measured in the same run; then the
/// projected wall time of the default `extract` over all of MELD on this machine.
struct ModelBench {
    var threads: Int
    var rounds: Int
    var repeats: Int
    var python: String?
    var facenetPython: String?

    /// MELD's size: 13,708 utterances; 3.138 s of media per utterance on average (the train CSV's EndTime −
    /// StartTime over 9,989 rows); video at 24.0 fps, every 10th frame sampled.
    static let meldUtterances = 13_708.0
    static let meldSecondsPerUtterance = 3.138
    static let sampledFramesPerSecond = 2.4

    func run() throws {
        BLAS.setThreads(threads)
        print("benchmark: models (random weights at the real checkpoints' shapes), \(threads) threads, "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("BLAS: \(BLAS.kernelChoice); kernel in use \(BLAS.coreName)")
        let sgemm = SgemmBenchmark.gflops(m: 768, n: 768, k: 768)
        print(String(format: "sgemm 768x768x768: %.1f GFLOP/s (%d threads)", sgemm, threads))
        let torch = ReferencePython.find(python, env: "MELD_TORCH_PYTHON", imports: "torch, transformers", threads: threads)
        if torch == nil { print("no Python with torch and transformers found (pass --python): ours only") }

        let other = ProductComparison.other
        print(ProductComparison.header)
        /// Our time with the other products (nil when there is no other).
        func otherTime(_ body: () throws -> Double) rethrows -> Double? {
            guard let other else { return nil }
            return try ProductComparison.with(other, body)
        }

        // HuBERT base, 4 s.
        var hubertOurs: [Double] = [], hubertTorch: [Double] = [], hubertOther: [Double] = []
        var hubertFlops = 0.0
        let hubertModel = try HubertModel.randomWeights(config: HubertConfig())
        BenchStats.letBLASThreadsSleep()   // after the sgemm rate's threaded calls
        for _ in 0..<rounds {
            let r = HubertBenchmark.time(model: hubertModel, seconds: 4, repeats: repeats)
            hubertOurs.append(r.median)
            hubertFlops = r.flops
            if let t = otherTime({ HubertBenchmark.time(model: hubertModel, seconds: 4, repeats: repeats).median }) {
                hubertOther.append(t)
            }
            if let torch, let t = torch.seconds("Tools/bench/torch_hubert.py",
                                            ["--seconds", "4", "--threads", "\(threads)", "--repeats", "\(repeats)"]) {
                hubertTorch.append(t)
            }
        }
        report("HuBERT base, 4 s of audio", ours: hubertOurs, theirs: hubertTorch, flops: hubertFlops, sgemm: sgemm, unit: "s/clip",
               other: hubertOther)

        // CLIP ViT-B/32, batch 8.
        let clipModel = try CLIPBenchmark.randomModel()
        var clipOurs: [Double] = [], clipTorch: [Double] = [], clipOther: [Double] = []
        let clipFlops = CLIPBenchmark.flops(batch: 8)
        for _ in 0..<rounds {
            clipOurs.append(try CLIPBenchmark.timeForward(model: clipModel, batch: 8, threads: threads, repeats: repeats).medianSeconds)
            if let t = try otherTime({
                try CLIPBenchmark.timeForward(model: clipModel, batch: 8, threads: threads, repeats: repeats).medianSeconds
            }) {
                clipOther.append(t)
            }
            if let torch, let t = torch.seconds("Tools/bench/torch_clip.py",
                                            ["--batch", "8", "--threads", "\(threads)", "--repeats", "\(repeats)"]) {
                clipTorch.append(t)
            }
        }
        report("CLIP ViT-B/32, batch of 8 images", ours: clipOurs, theirs: clipTorch, flops: clipFlops, sgemm: sgemm, unit: "s/batch",
               other: clipOther)

        // MTCNN, 1280x720.
        var mtcnnSingle: Double?
        if let weights = Locations.find("Tools/.downloads/mtcnn"), let frame = composite1280x720() {
            let model = try MTCNN(folder: weights)
            let image = try RGBImage(width: 1280, height: 720, pixels: frame)
            let facenet = ReferencePython.find(facenetPython, env: "MELD_FACENET_PYTHON", imports: "facenet_pytorch", threads: threads)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("meld-bench-frame-\(getpid()).rgb")
            try Data(frame).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            var ours: [Double] = [], theirs: [Double] = []
            for _ in 0..<rounds {
                ours.append(MTCNNBenchmark.timeDetect(model: model, image: image, repeats: repeats, blasThreads: 1))
                if let facenet, let t = facenet.seconds("Tools/bench/facenet_mtcnn.py",
                                                  [file.path, "1280", "720", "\(threads)", "\(repeats)"]) {
                    theirs.append(t)
                }
            }
            if facenet == nil { print("no Python with facenet_pytorch found (pass --facenet-python): ours only") }
            report("MTCNN on a 1280x720 frame (6 faces)", ours: ours, theirs: theirs, flops: 0, sgemm: sgemm, unit: "s/frame")
            mtcnnSingle = BenchStats.median(ours)
        } else {
            print("MTCNN: weights (Tools/.downloads/mtcnn, from Tools/fetch_mtcnn.sh) or Tests/Fixtures/mtcnn not found: skipped")
        }

        try projection(hubertPerSecond: BenchStats.median(hubertOurs) / 4, clipPerImage: BenchStats.median(clipOurs) / 8, mtcnnPerFrame: mtcnnSingle)
    }

    /// The default extract over all of MELD: per-stage cost per second of media (or per utterance) times MELD's
    /// totals. Model costs are the all-thread times above; the engine runs items in parallel with one BLAS thread
    /// each, which on this machine gives about the same throughput.
    func projection(hubertPerSecond: Double, clipPerImage: Double, mtcnnPerFrame: Double?) throws {
        let seconds = Self.meldUtterances * Self.meldSecondsPerUtterance
        let frames = seconds * Self.sampledFramesPerSecond
        var rows: [(String, Double)] = []
        // Decoding of MELD-sized media (1280x720 H.264 + AAC made here), per second of media, one clip per core.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meld-bench-proj-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("clip.mp4")
        if AudioBench.capture(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                               "testsrc2=s=1280x720:r=24:d=4", "-f", "lavfi", "-i", "sine=f=220:d=4", "-c:v", "libx264",
                               "-preset", "veryfast", "-c:a", "aac", "-y", clip.path], stderr: true) != nil {
            let video = try (0..<3).map { _ in try VideoBenchmark.timeSample(urls: [clip], stride: 10) }.min()! / 4
            let audio = try (0..<3).map { _ in try MediaBenchmark.timeDecode(urls: [clip], sampleRate: 16000) }.min()! / 4
            let noise = (0..<64000).map { _ in Float.random(in: -0.5...0.5) }
            let mfcc = DSPBenchmark.timeMFCC(samples: noise, repeats: 10) / 4
            rows.append(("audio + mfcc (decode, resample, MFCC)", (audio + mfcc) * seconds / Double(threads)))
            // The decoder runs 2 frame threads per clip; the engine runs one clip per core.
            rows.append(("frames (decode 1280x720, keep every 10th)", video * seconds))
        }
        if let m = mtcnnPerFrame { rows.append(("faces (MTCNN per sampled frame, 1280x720)", m * frames)) }
        rows.append(("hubert (base)", hubertPerSecond * seconds))
        rows.append(("clip (ViT-B/32 per sampled frame)", clipPerImage * frames))
        rows.append(("text (bert-base, 32 x 24 tokens per batch)", textPerUtterance() * Self.meldUtterances))
        print(String(format: "projected default extract over all of MELD (%.0f utterances, %.1f h of media, %.0f sampled frames) on this machine:",
                     Self.meldUtterances, seconds / 3600, frames))
        var total = 0.0
        for (name, s) in rows {
            total += s
            print("  " + name.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%7.1f min", s / 60))
        }
        print("  " + "total".padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%7.1f min (%.1f h)", total / 60, total / 3600))
    }

    /// Seconds per utterance of bert-base at 32 x 24 tokens (random weights), all threads.
    func textPerUtterance() -> Double {
        let bench = TextBench(threads: threads, rounds: 1, repeats: 1, python: nil)
        guard let folder = try? bench.writeRandomBertBase(BertConfig()) else { return 0 }
        defer { try? FileManager.default.removeItem(at: folder) }
        guard let model = try? BertModel(folder: folder) else { return 0 }
        let ids = (0..<32).map { _ in (0..<24).map { _ in Int32.random(in: 1000..<30000) } }
        let zeros = ids.map { $0.map { _ in Int32(0) } }, ones = ids.map { $0.map { _ in Int32(1) } }
        _ = try? model.forward(ids: ids, tokenTypes: zeros, mask: ones)
        let t = (0..<3).map { _ in BenchStats.timed { _ = try? model.forward(ids: ids, tokenTypes: zeros, mask: ones) } }.min()!
        return t / 32
    }

    // MARK: helpers

    func report(_ label: String, ours: [Double], theirs: [Double], flops: Double, sgemm: Double, unit: String,
                other: [Double] = []) {
        let mine = BenchStats.median(ours)
        var line = String(format: "%@: ours %.4f %@", label, mine, unit)
        if flops > 0 {
            let rate = flops / mine / 1e9
            line += String(format: " (%.1f GFLOP/s = %.0f%% of sgemm)", rate, 100 * rate / sgemm)
        }
        if !theirs.isEmpty {
            let t = BenchStats.median(theirs)
            line += String(format: "; reference %.4f %@; throughput ours/reference = %.2fx (medians of %d alternating rounds)",
                           t, unit, t / mine, min(ours.count, theirs.count))
        }
        print(line)
        if let kind = ProductComparison.other, !other.isEmpty {
            let alt = BenchStats.median(other)
            print(String(format: "  ours with %@ products: %.4f %@", ProductComparison.name(kind), alt, unit)
                  + (flops > 0 ? String(format: " (%.1f GFLOP/s = %.0f%% of sgemm)", flops / alt / 1e9, 100 * flops / alt / 1e9 / sgemm) : "")
                  + String(format: "; AMX products run at %.2fx the speed of sgemm ones",
                                  ProductComparison.amxSpeed(defaultSeconds: mine, otherSeconds: alt))
                  + (theirs.isEmpty ? "" : String(format: "; ours with %@ products/reference = %.2fx", ProductComparison.name(kind),
                                                  BenchStats.median(theirs) / alt)))
        }
        for (i, o) in ours.enumerated() {
            print(String(format: "  round %d: ours %.4f", i + 1, o)
                  + (i < other.count ? String(format: ", ours with the other products %.4f", other[i]) : "")
                  + (i < theirs.count ? String(format: ", reference %.4f", theirs[i]) : ""))
        }
    }

    /// The 1280x720 benchmark frame: the MTCNN fixture composite (640x360, six faces) with each pixel doubled.
    func composite1280x720() -> [UInt8]? {
        guard let url = Locations.find("Tests/Fixtures/mtcnn/composite.rgb"),
              let small = try? Data(contentsOf: url), small.count == 640 * 360 * 3 else { return nil }
        var out = [UInt8](repeating: 0, count: 1280 * 720 * 3)
        for y in 0..<720 {
            for x in 0..<1280 {
                let s = ((y / 2) * 640 + x / 2) * 3, d = (y * 1280 + x) * 3
                out[d] = small[s]; out[d + 1] = small[s + 1]; out[d + 2] = small[s + 2]
            }
        }
        return out
    }
}
