import FeatureStore
import Foundation
import MediaIO
import Models
import Tensor

/// `hubert`: HuBERT (or wav2vec2) on the clip's 16 kHz audio, from a Hugging Face checkpoint folder: the mean
/// over frames of a chosen layer (default the last) as `features`, optionally the frame sequence with frame
/// times. The input is normalised as the checkpoint's `preprocessor_config.json` asks. Clips longer than
/// `window_seconds` run window by window (bounded memory; frames near a window boundary then differ from one
/// pass over the whole clip). A clip shorter than one receptive field (400 samples, 25 ms) fails as `too_short`.
public enum HubertStage: StageKind {
    public static let kind = "hubert"
    public static let version = 1
    public static let input = StageInput.upstream
    public static let requiredUpstreamKind: String? = AudioStage.kind
    public static let paramSchema: [String: ParamSpec] = [
        "model": ParamSpec(.path, .string("Models/hubert-base-ls960"),
                           help: "HuBERT or wav2vec2 checkpoint folder (config.json, model.safetensors, preprocessor_config.json)"),
        "layer": ParamSpec(.int, .int(-1), help: "hidden state averaged: -1 the last layer, 0 the encoder input, k layer k"),
        "keep_frames": ParamSpec(.bool, .bool(false), help: "also store the frame sequence (20 ms frames)"),
        "window_seconds": ParamSpec(.double, .double(20), help: "longest audio run in one pass (memory bound)"),
    ]

    public static func validate(_ p: Params) -> String? {
        p.double("window_seconds") >= 1 ? nil : "window_seconds must be at least 1"
    }

    static let howToGet = "Get hubert-base-ls960 with `Tools/fetch_models.sh hubert` (see README, \"Models\")."

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        let p = spec.params
        let rate = upstream.first { $0.kind == AudioStage.kind }?.params.int("sample_rate") ?? 16000
        guard rate == 16000 else {
            throw ConfigurationError("stage `\(spec.name)`: HuBERT needs 16000 Hz audio, but its audio stage gives \(rate) Hz")
        }
        let folder = try ModelFolder.resolve(stage: spec.name, path: p.string("model"), environment: environment,
                                             standIn: "hubert-tiny",
                                             files: ["config.json", "model.safetensors", "preprocessor_config.json"],
                                             howToGet: howToGet)
        let model: HubertModel, extractor: HubertFeatureExtractor
        do {
            model = try HubertModel(folder: folder.url)
            extractor = try HubertFeatureExtractor.load(from: folder.url)
        } catch {
            throw ConfigurationError("stage `\(spec.name)`: cannot load the checkpoint in \(folder.url.path): \(error)")
        }
        let layers = model.config.numHiddenLayers
        let layer = p.int("layer")
        guard (-layers - 1...layers).contains(layer) else {
            throw ConfigurationError("stage `\(spec.name)`: layer \(layer) does not exist (the model has \(layers) layers: "
                                     + "use 0...\(layers), or -1 for the last)")
        }
        return Runner(name: spec.name, params: p, folder: folder, model: model, extractor: extractor,
                      hiddenIndex: layer < 0 ? layers + 1 + layer : layer)
    }

    final class Runner: StageRunner, @unchecked Sendable {
        let name: String
        let params: Params
        let folder: ModelFolder
        let model: HubertModel
        let extractor: HubertFeatureExtractor
        let hiddenIndex: Int
        let keepFrames: Bool
        let window: Double

        init(name: String, params: Params, folder: ModelFolder, model: HubertModel, extractor: HubertFeatureExtractor,
             hiddenIndex: Int) {
            self.name = name
            self.params = params
            self.folder = folder
            self.model = model
            self.extractor = extractor
            self.hiddenIndex = hiddenIndex
            keepFrames = params["keep_frames"].boolValue ?? false
            window = params.double("window_seconds")
        }

        var hidden: Int { model.config.hiddenSize }
        var paramsIdentity: String? { folder.paramsIdentity(params) }

        var output: OutputSchema? {
            OutputSchema(fixedShape: [hidden], sequenceRowShape: keepFrames ? [hidden] : nil, perItemInts: ["n_frames"],
                         perRowFloats: keepFrames ? ["frame_times"] : [], chunkRows: 8)
        }

        var attributes: [String: String] {
            var a = folder.encoderAttributes
            a["layer"] = String(hiddenIndex)
            a["hop_seconds"] = String(Double(model.config.samplesPerFrame) / 16000)
            a["window_seconds"] = String(window)
            a["axes"] = "features[item, \(hidden)] = mean over frames" + (keepFrames ? "; values[frame, \(hidden)], frame_times[frame] (start, s)" : "")
            return a
        }

        func run(_ item: ItemContext) throws -> StageValue {
            let audio = try item.upstreamAudio(of: name)
            guard audio.samples.count >= model.config.receptiveField else {
                throw ItemFailure(reason: "too_short", message: "\(name): \(audio.samples.count) samples is shorter than one "
                                  + "HuBERT frame (\(model.config.receptiveField) samples)")
            }
            var mean = [Double](repeating: 0, count: hidden)
            var frames: [Float] = [], times: [Float] = []
            var count = 0
            do {
                let input = try extractor(audio.samples, samplingRate: audio.sampleRate)
                let all = hiddenIndex != model.config.numHiddenLayers
                try model.forEachWindow(input, windowSeconds: window, outputHiddenStates: all) { w, out in
                    let states = all ? out.hiddenStates![hiddenIndex] : out.lastHiddenState
                    states.withUnsafeBufferPointer { x in
                        for t in 0..<w.frames.count {
                            for j in 0..<hidden { mean[j] += Double(x[t * hidden + j]) }
                        }
                        if keepFrames { frames.append(contentsOf: x) }
                    }
                    if keepFrames { times += w.frames.map { Float(model.config.frameStartTime($0)) } }
                    count += w.frames.count
                }
            } catch let e as ItemFailure { throw e } catch {
                throw ItemFailure(reason: "model_error", message: "\(name): \(error)")
            }
            var f = ItemFeature()
            f.fixed = mean.map { Float($0 / Double(count)) }
            f.perItemInts = ["n_frames": Int64(count)]
            if keepFrames { f.sequence = frames; f.sequenceRows = count; f.perRowFloats = ["frame_times": times] }
            return .feature(f)
        }
    }
}

/// `clip`: CLIP ViT image embeddings (`visual_projection` output, not normalised) of each sampled frame, or of
/// each frame's face crop (`input: faces`), preprocessed as `CLIPImageProcessor` does, as per-frame vectors
/// (`values` + `offsets`, with `frame_valid`) and their mean over the valid frames (`features`). An item with no
/// frame or no face at all is valid with zero `features` and `n_valid` 0: the mask, not a failure.
public enum ClipStage: StageKind {
    public static let kind = "clip"
    public static let version = 1
    public static let input = StageInput.upstream
    public static let requiredUpstreamKind: String? = FramesStage.kind
    public static let paramSchema: [String: ParamSpec] = [
        "model": ParamSpec(.path, .string("Models/clip-vit-base-patch32"),
                           help: "CLIP checkpoint folder (config.json, model.safetensors, preprocessor_config.json)"),
        "input": ParamSpec(.string, .string("frames"), allowed: ["frames", "faces"], help: "frames or faces (the face crops)"),
        "batch_size": ParamSpec(.int, .int(8), help: "images per forward pass"),
    ]

    public static func validate(_ p: Params) -> String? {
        (1...256).contains(p.int("batch_size")) ? nil : "batch_size must be between 1 and 256"
    }

    static let howToGet = "Get clip-vit-base-patch32 with `Tools/fetch_models.sh clip` (see README, \"Models\")."

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        let p = spec.params
        let source: String
        if p.string("input") == "faces" {
            guard let faces = upstream.first(where: { $0.kind == FacesStage.kind }) else {
                throw ConfigurationError("stage `\(spec.name)`: input faces needs a faces stage among its needs (needs: [frames, faces])")
            }
            source = faces.name
        } else {
            source = upstream.first { $0.kind == FramesStage.kind }!.name
        }
        let folder = try ModelFolder.resolve(stage: spec.name, path: p.string("model"), environment: environment,
                                             standIn: "clip-tiny",
                                             files: ["config.json", "model.safetensors", "preprocessor_config.json"],
                                             howToGet: howToGet)
        let model: CLIPVisionModel, processor: CLIPImageProcessor
        do {
            model = try CLIPVisionModel(folder: folder.url)
            processor = try CLIPImageProcessor(folder: folder.url)
        } catch {
            throw ConfigurationError("stage `\(spec.name)`: cannot load the checkpoint in \(folder.url.path): \(error)")
        }
        return Runner(name: spec.name, params: p, source: source, folder: folder, model: model, processor: processor)
    }

    final class Runner: StageRunner, @unchecked Sendable {
        let name: String
        let params: Params
        let source: String
        let onFaces: Bool
        let folder: ModelFolder
        let model: CLIPVisionModel
        let processor: CLIPImageProcessor
        let batchSize: Int

        init(name: String, params: Params, source: String, folder: ModelFolder, model: CLIPVisionModel,
             processor: CLIPImageProcessor) {
            self.name = name
            self.params = params
            self.source = source
            onFaces = params.string("input") == "faces"
            self.folder = folder
            self.model = model
            self.processor = processor
            batchSize = params.int("batch_size")
        }

        var dim: Int { model.config.projectionDim }
        var paramsIdentity: String? { folder.paramsIdentity(params) }
        var fingerprintNeeds: [String]? { [source] }

        var output: OutputSchema? {
            OutputSchema(fixedShape: [dim], sequenceRowShape: [dim], perItemInts: ["n_frames", "n_valid"], chunkRows: 8,
                         rowColumns: [RowColumn("frame_index", .int32), RowColumn("frame_time", .float32),
                                      RowColumn("frame_valid", .uint8)])
        }

        var attributes: [String: String] {
            var a = folder.encoderAttributes
            a["input"] = onFaces ? "faces (the face crops of stage \(source))" : "frames (stage \(source))"
            a["axes"] = "features[item, \(dim)] = mean over valid frames (zeros when n_valid is 0); values[frame, \(dim)] "
                + "image embeds (not normalised), zero where frame_valid is 0"
            return a
        }

        func run(_ item: ItemContext) throws -> StageValue {
            var rows: [Float] = [], index: [Int32] = [], time: [Float] = [], valid: [UInt8] = []
            var pending: [(row: Int, image: RGBImage)] = []
            func flush() throws {
                guard !pending.isEmpty else { return }
                let pixels = try processor(pending.map(\.image))
                let out = try model.forward(pixelValues: pixels)
                out.imageEmbeds.withUnsafeBufferPointer { e in
                    for (b, p) in pending.enumerated() {
                        for j in 0..<dim { rows[p.row * dim + j] = e[b * dim + j] }
                    }
                }
                pending.removeAll()
            }
            do {
                if onFaces {
                    guard case .faces(let crops, _) = try item.value(of: source) else {
                        throw ItemFailure(reason: "internal_error", message: "\(name) expected face crops from \(source)")
                    }
                    let per = crops.size * crops.size * crops.channels
                    for r in 0..<crops.valid.count {
                        rows += [Float](repeating: 0, count: dim)
                        index.append(crops.frameIndex[r]); time.append(crops.frameTime[r]); valid.append(crops.valid[r])
                        guard crops.valid[r] != 0 else { continue }
                        var rgb = Array(crops.crops[(r * per)..<((r + 1) * per)])
                        if crops.channels == 1 { rgb = rgb.flatMap { [$0, $0, $0] } }
                        pending.append((r, try RGBImage(width: crops.size, height: crops.size, pixels: rgb)))
                        if pending.count == batchSize { try flush() }
                    }
                } else {
                    guard case .frames(let set, _) = try item.value(of: source) else {
                        throw ItemFailure(reason: "internal_error", message: "\(name) expected frames from \(source)")
                    }
                    try set.forEach { frame in
                        let r = valid.count
                        rows += [Float](repeating: 0, count: dim)
                        index.append(Int32(frame.index)); time.append(Float(frame.time)); valid.append(1)
                        pending.append((r, try RGBImage(width: frame.width, height: frame.height, pixels: frame.pixels)))
                        if pending.count == batchSize { try flush() }
                    }
                }
                try flush()
            } catch let e as ItemFailure { throw e } catch {
                throw ItemFailure(reason: "model_error", message: "\(name): \(error)")
            }
            var mean = [Float](repeating: 0, count: dim)
            let nValid = valid.filter { $0 != 0 }.count
            if nValid > 0 {
                for r in 0..<valid.count where valid[r] != 0 { for j in 0..<dim { mean[j] += rows[r * dim + j] } }
                for j in 0..<dim { mean[j] /= Float(nValid) }
            }
            var f = ItemFeature()
            f.fixed = mean
            f.sequence = rows
            f.sequenceRows = valid.count
            f.rowColumns = ["frame_index": .int32(index), "frame_time": .float32(time), "frame_valid": .uint8(valid)]
            f.perItemInts = ["n_frames": Int64(valid.count), "n_valid": Int64(nValid)]
            return .feature(f)
        }
    }
}
