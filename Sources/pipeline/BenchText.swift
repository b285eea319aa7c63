import ArgumentParser
import Foundation
import Models
import PipelineKit
import Tensor

/// The options of `pipeline bench text` (the audio benchmark ignores them).
struct TextBenchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Threads for OpenBLAS, our own loops, and torch.set_num_threads (default: all cores).",
                               valueName: "n"))
    var threads: Int?

    @Option(help: "Alternating ours/PyTorch rounds per shape (text).")
    var rounds: Int = 3

    @Option(help: "Timed forward passes per side and round, after a warm-up (text).")
    var repeats: Int = 5

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard rounds >= 1, repeats >= 1 else { throw ValidationError("--rounds and --repeats must be at least 1") }
    }
}

/// `pipeline bench text`: our BERT encoder against transformers' on PyTorch's CPU backend, at bert-base shape with
/// random weights, in one run with the sgemm rate of this machine (the ceiling for an encoder that is nearly all
/// matrix products). Both sides use the same thread count; rounds alternate so that load from other processes
/// hits both alike, and the medians of the per-round ratios are the result.
struct TextBench {
    /// Batch × sequence length pairs: many short rows (MELD utterances) and one long row.
    static let shapes: [(batch: Int, length: Int)] = [(32, 24), (1, 128)]

    var threads: Int
    var rounds: Int
    var repeats: Int
    /// `--python`, when given.
    var python: String?

    func run() throws {
        BLAS.setThreads(threads)
        let config = BertConfig()
        print("benchmark: text, bert-base shape (random weights: \(config.numHiddenLayers) layers, hidden \(config.hiddenSize), "
              + "\(config.numAttentionHeads) heads, intermediate \(config.intermediateSize), vocabulary \(config.vocabSize))")
        print("BLAS: \(BLAS.kernelChoice); kernel in use \(BLAS.coreName); \(BLAS.config)")
        print("threads: \(BLAS.threads) (OpenBLAS and our loops; torch.set_num_threads the same), "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        let precision = BLAS.productPrecision, other = ProductComparison.other
        print(ProductComparison.header)

        // 1. The sgemm rate: the square reference, and the products one encoder layer runs (x·Wᵀ, m = B·L).
        print(String(format: "sgemm 768x768x768: %.1f GFLOP/s", SgemmBenchmark.gflops(m: 768, n: 768, k: 768)))
        for (batch, length) in Self.shapes {
            let (rate, detail) = layerSgemmRate(config, rows: batch * length, seconds: 0.5)
            print(String(format: "sgemm at the %dx%d layer shapes: %@ -> %.1f GFLOP/s (flop-weighted)",
                         batch, length, detail, rate))
        }

        if precision == .amxSplitBF16 || other == .amxSplitBF16 {
            BLAS.productPrecision = .amxSplitBF16
            defer { BLAS.productPrecision = precision }
            for (batch, length) in Self.shapes {
                let parts = layerProducts(config).map { (name, n, k) in
                    String(format: "%@ %.1f", name, SgemmBenchmark.weightProductGflops(m: batch * length, n: n, k: k, seconds: 0.5))
                }
                print("AMX products at the \(batch)x\(length) layer shapes (GFLOP/s): \(parts.joined(separator: ", "))")
            }
        }

        // 2. A random bert-base checkpoint on disk, loaded (memory-mapped) as a real one would be.
        let folder = try writeRandomBertBase(config)
        defer { try? FileManager.default.removeItem(at: folder) }
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let model = try BertModel(folder: folder)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        print(String(format: "model: random bert-base written to %@, loaded in %.2f s; RSS after loading %.0f MB",
                     folder.path, loadSeconds, memoryMB("VmRSS")))

        // 3. One pass per shape with the default products (the first packs the weights for AMX); the peak memory
        //    of that path is read here, before the comparison with the other products (which may map the float32
        //    weights back in, or pack them).
        /// One pass per shape with the current products (the first with AMX packs the weights), its time printed.
        func firstPasses(_ label: String) throws {
            for (batch, length) in Self.shapes {
                let inputs = randomInputs(config, batch: batch, length: length)
                let first = try BenchStats.timed { _ = try model.forward(ids: inputs, tokenTypes: zeros(inputs), mask: ones(inputs)) }
                print(String(format: "first pass %dx%d%@: %.2f s%@", batch, length, label, first,
                             BLAS.productPrecision == .float32 ? "" : " (includes packing the weights for AMX once)"))
            }
        }
        try firstPasses("")
        let defaultPeak = memoryMB("VmHWM")
        if let other {
            try ProductComparison.with(other) { try firstPasses(" with \(ProductComparison.name(other)) products") }
        }
        print(String(format: "peak RSS (VmHWM) with bert-base loaded and run, %@ products: %.0f MB",
                     ProductComparison.name(precision), defaultPeak))

        // 4. Ours vs PyTorch in alternating rounds, each with the sgemm rate at that moment, so that load from
        //    other processes on a shared machine hits all three alike; medians of the per-round figures.
        let torch = ReferencePython.find(python, env: "MELD_TORCH_PYTHON", imports: "torch, transformers", threads: threads)
        if torch == nil { print("no Python with torch found (pass --python)") }
        for (batch, length) in Self.shapes {
            let flops = encoderFlops(config, batch: batch, length: length)
            let inputs = randomInputs(config, batch: batch, length: length)
            let (types, mask) = (zeros(inputs), ones(inputs))
            _ = try model.forward(ids: inputs, tokenTypes: types, mask: mask)   // warm-up
            var ours: [Double] = [], theirs: [Double] = [], ratios: [Double] = []
            var oursOfSgemm: [Double] = [], theirsOfSgemm: [Double] = [], oursOther: [Double] = []
            print(String(format: "bert-base %dx%d: %.1f GFLOP per batch (every matmul, attention's included)",
                         batch, length, flops / 1e9))
            for round in 1...rounds {
                let sgemm = layerSgemmRate(config, rows: batch * length, seconds: 0.15).rate
                BenchStats.letBLASThreadsSleep()
                let mine = BenchStats.median(try (0..<repeats).map { _ in
                    try BenchStats.timed { _ = try model.forward(ids: inputs, tokenTypes: types, mask: mask) }
                })
                ours.append(mine)
                oursOfSgemm.append(flops / mine / 1e9 / sgemm)
                var line = String(format: "  round %d: sgemm %.1f GFLOP/s; ours %.4f s (%.1f GFLOP/s, %.0f%% of sgemm)",
                                  round, sgemm, mine, flops / mine / 1e9, 100 * flops / mine / 1e9 / sgemm)
                if let other {
                    let alt = try ProductComparison.with(other) {
                        BenchStats.median(try (0..<repeats).map { _ in
                            try BenchStats.timed { _ = try model.forward(ids: inputs, tokenTypes: types, mask: mask) }
                        })
                    }
                    oursOther.append(alt)
                    line += String(format: "; ours with %@ %.4f s", ProductComparison.name(other), alt)
                }
                if let torch {
                    if let t = torch.seconds("Tools/bench/torch_bert.py", ["--batch", "\(batch)", "--length", "\(length)",
                                                                            "--threads", "\(threads)", "--repeats", "\(repeats)"]) {
                        theirs.append(t)
                        ratios.append(t / mine)
                        theirsOfSgemm.append(flops / t / 1e9 / sgemm)
                        line += String(format: "; torch %.4f s (%.1f GFLOP/s); ours/torch %.2fx", t, flops / t / 1e9, t / mine)
                    } else {
                        line += "; torch failed (its message is above)"
                    }
                }
                print(line)
            }
            let mine = BenchStats.median(ours)
            print(String(format: "  ours:  %.4f s/batch, %.1f sequences/s, %.1f GFLOP/s = %.0f%% of the sgemm rate at these shapes",
                         mine, Double(batch) / mine, flops / mine / 1e9, 100 * BenchStats.median(oursOfSgemm)))
            if let other, !oursOther.isEmpty {
                let alt = BenchStats.median(oursOther)
                print(String(format: "  ours with %@ products: %.4f s/batch, %.1f GFLOP/s = %.0f%% of the sgemm rate; AMX products run at %.2fx the speed of sgemm ones",
                             ProductComparison.name(other), alt, flops / alt / 1e9, 100 * BenchStats.median(oursOfSgemm) * mine / alt,
                             ProductComparison.amxSpeed(defaultSeconds: mine, otherSeconds: alt)))
                if !theirs.isEmpty {
                    print(String(format: "  throughput ours with %@ products/torch = %.2fx (medians)", ProductComparison.name(other),
                                 BenchStats.median(theirs) / alt))
                }
            }
            if !theirs.isEmpty {
                let t = BenchStats.median(theirs)
                print(String(format: "  torch: %.4f s/batch, %.1f sequences/s, %.1f GFLOP/s = %.0f%% of the sgemm rate at these shapes",
                             t, Double(batch) / t, flops / t / 1e9, 100 * BenchStats.median(theirsOfSgemm)))
                print(String(format: "  throughput ours/torch = %.2fx (median of %d alternating rounds); at 100%% of the sgemm rate it would be %.2fx",
                             BenchStats.median(ratios), ratios.count, 1 / BenchStats.median(theirsOfSgemm)))
            }
        }
        withExtendedLifetime(model) {}
        print(String(format: "peak RSS (VmHWM) with bert-base loaded and run: %.0f MB with %@ products%@ (weights memory-mapped from the file)",
                     defaultPeak, ProductComparison.name(precision),
                     other.map { String(format: "; %.0f MB after also running with %@ products", memoryMB("VmHWM"), ProductComparison.name($0)) } ?? ""))
    }

    // MARK: FLOPs and rates

    /// The matrix products one layer runs as `x·Wᵀ` (m = rows), `(name, n, k)`.
    func layerProducts(_ c: BertConfig) -> [(String, Int, Int)] {
        let h = c.hiddenSize, i = c.intermediateSize
        return [("qkv", 3 * h, h), ("attn-out", h, h), ("intermediate", i, h), ("output", h, i)]
    }

    /// The sgemm rate over one layer's projection shapes (each measured for `seconds`), weighted by their flops,
    /// and a per-shape description.
    func layerSgemmRate(_ c: BertConfig, rows: Int, seconds perShape: Double) -> (rate: Double, detail: String) {
        var seconds = 0.0, flops = 0.0
        var parts: [String] = []
        for (name, n, k) in layerProducts(c) {
            let rate = SgemmBenchmark.gflops(m: rows, n: n, k: k, seconds: perShape)
            let f = 2 * Double(rows) * Double(n) * Double(k)
            flops += f
            seconds += f / (rate * 1e9)
            parts.append(String(format: "%@ %dx%dx%d %.1f", name, rows, n, k, rate))
        }
        return (flops / seconds / 1e9, parts.joined(separator: ", "))
    }

    /// Flops of every matrix product of one forward pass: per layer the q/k/v, attention-output, intermediate and
    /// output projections, and the attention's Q·Kᵀ and P·V (2·B·L²·H each); then the pooler.
    func encoderFlops(_ c: BertConfig, batch: Int, length: Int) -> Double {
        let rows = Double(batch * length), h = Double(c.hiddenSize)
        var perLayer = 0.0
        for (_, n, k) in layerProducts(c) { perLayer += 2 * rows * Double(n) * Double(k) }
        perLayer += 2 * 2 * rows * Double(length) * h
        return Double(c.numHiddenLayers) * perLayer + 2 * Double(batch) * h * h
    }

    // MARK: Inputs and timing

    func randomInputs(_ c: BertConfig, batch: Int, length: Int) -> [[Int32]] {
        var g = SystemRandomNumberGenerator()
        return (0..<batch).map { _ in (0..<length).map { _ in Int32.random(in: 1000..<Int32(c.vocabSize), using: &g) } }
    }
    func zeros(_ x: [[Int32]]) -> [[Int32]] { x.map { [Int32](repeating: 0, count: $0.count) } }
    func ones(_ x: [[Int32]]) -> [[Int32]] { x.map { [Int32](repeating: 1, count: $0.count) } }

    /// A field of /proc/self/status ("VmHWM", "VmRSS") in MB, or 0 where there is none.
    func memoryMB(_ field: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return 0 }
        let kB = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kB / 1024
    }

    // MARK: The random checkpoint

    /// Writes `config.json` and a random `model.safetensors` (F32, every tensor `BertModel` takes, with
    /// transformers' initialisation scale: N(0, 0.02)-like weights, LayerNorm γ = 1 and β = 0) to a new temporary
    /// folder, streaming one tensor at a time so the writer itself stays small.
    func writeRandomBertBase(_ c: BertConfig) throws -> URL {
        let fm = FileManager.default
        let folder = fm.temporaryDirectory.appendingPathComponent("meld-bench-bert-\(getpid())")
        try? fm.removeItem(at: folder)
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let configJSON = """
            {"model_type": "bert", "vocab_size": \(c.vocabSize), "hidden_size": \(c.hiddenSize), \
            "num_hidden_layers": \(c.numHiddenLayers), "num_attention_heads": \(c.numAttentionHeads), \
            "intermediate_size": \(c.intermediateSize), "hidden_act": "gelu", \
            "max_position_embeddings": \(c.maxPositionEmbeddings), "type_vocab_size": \(c.typeVocabSize), \
            "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute"}
            """
        try configJSON.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)

        enum Fill { case random, one, zero }
        let h = c.hiddenSize, i = c.intermediateSize
        var tensors: [(name: String, shape: [Int], fill: Fill)] = [
            ("embeddings.word_embeddings.weight", [c.vocabSize, h], .random),
            ("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, h], .random),
            ("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h], .random),
            ("embeddings.LayerNorm.weight", [h], .one), ("embeddings.LayerNorm.bias", [h], .zero),
        ]
        for l in 0..<c.numHiddenLayers {
            let p = "encoder.layer.\(l)."
            for name in ["query", "key", "value"] {
                tensors += [(p + "attention.self.\(name).weight", [h, h], .random), (p + "attention.self.\(name).bias", [h], .random)]
            }
            tensors += [
                (p + "attention.output.dense.weight", [h, h], .random), (p + "attention.output.dense.bias", [h], .random),
                (p + "attention.output.LayerNorm.weight", [h], .one), (p + "attention.output.LayerNorm.bias", [h], .zero),
                (p + "intermediate.dense.weight", [i, h], .random), (p + "intermediate.dense.bias", [i], .random),
                (p + "output.dense.weight", [h, i], .random), (p + "output.dense.bias", [h], .random),
                (p + "output.LayerNorm.weight", [h], .one), (p + "output.LayerNorm.bias", [h], .zero),
            ]
        }
        tensors += [("pooler.dense.weight", [h, h], .random), ("pooler.dense.bias", [h], .random)]

        var entries: [String] = []
        var offset = 0
        for t in tensors {
            let bytes = 4 * t.shape.reduce(1, *)
            entries.append("\"\(t.name)\":{\"dtype\":\"F32\",\"shape\":\(t.shape),\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array(("{\"__metadata__\":{\"format\":\"pt\"}," + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }   // data starts 8-byte aligned

        let url = folder.appendingPathComponent("model.safetensors")
        guard fm.createFile(atPath: url.path, contents: nil), let out = FileHandle(forWritingAtPath: url.path) else {
            throw ConfigurationError("cannot create \(url.path)")
        }
        defer { try? out.close() }
        var length = UInt64(header.count).littleEndian
        try out.write(contentsOf: Data(bytes: &length, count: 8) + Data(header))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        // One chunk of at most 1M floats at a time, so the writer adds little to the peak memory measured later.
        var chunk = [Float](repeating: 0, count: 1 << 20)
        for t in tensors {
            var left = t.shape.reduce(1, *)
            while left > 0 {
                let n = min(left, chunk.count)
                for j in 0..<n {
                    switch t.fill {
                    case .one: chunk[j] = 1
                    case .zero: chunk[j] = 0
                    case .random:
                        // Uniform on ±0.02·√3 (standard deviation 0.02) from a 64-bit LCG: fast and reproducible.
                        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        chunk[j] = (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.069_282
                    }
                }
                try chunk.withUnsafeBytes { try out.write(contentsOf: Data($0.prefix(4 * n))) }
                left -= n
            }
        }
        return folder
    }
}
