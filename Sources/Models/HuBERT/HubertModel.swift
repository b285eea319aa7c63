import Foundation
import Tensor

// A native HuBERT / wav2vec 2.0 encoder (inference only), following transformers' `HubertModel`
// (https://github.com/huggingface/transformers/blob/main/src/transformers/models/hubert/modeling_hubert.py) and
// `Wav2Vec2Model` (models/wav2vec2/modeling_wav2vec2.py), which share every layer used here.
// Weights are read-only after loading, so one model can serve several threads; `forward` keeps no state.
// Shapes: B batch, N samples, T frames, H hidden size.

/// A Hugging Face `HubertModel` or `Wav2Vec2Model` (post-LN encoder: hubert-base-ls960, wav2vec2-base) loaded from
/// a folder with `config.json` and `model.safetensors`.
///
/// ```swift
/// let model = try HubertModel(folder: url)
/// let extractor = try HubertFeatureExtractor.load(from: url)       // preprocessor_config.json
/// let input = try extractor(samples, samplingRate: 16000)           // zero mean, unit variance
/// let out = try model.forward(input, outputHiddenStates: true)
/// out.lastHiddenState        // [1, T, H], T = ⌊(N − 400) / 320⌋ + 1 frames, 20 ms apart
/// out.hiddenStates![9]       // layer 9's output (index 0 is the encoder's input after its LayerNorm)
/// let long = try model.forwardWindowed(input, windowSeconds: 20)   // bounded memory for long clips
/// ```
public final class HubertModel: @unchecked Sendable {
    /// The hyper-parameters from `config.json`.
    public let config: HubertConfig
    let featureEncoder: HubertFeatureEncoder          // feature_extractor.*
    let featureProjection: HubertFeatureProjection    // feature_projection.*
    let encoder: HubertEncoder                        // encoder.*

    /// Key spellings accepted in the checkpoint: with or without the base-model prefix (`hubert.` or
    /// `wav2vec2.`, as saved from `HubertForCTC`, `Wav2Vec2ForPreTraining`, ...), and the positional conv's weight
    /// norm as `weight_g`/`weight_v` (`torch.nn.utils.weight_norm`, older checkpoints such as the hub's
    /// hubert-base-ls960) or `parametrizations.weight.original0`/`original1` (what transformers saves today).
    public static func keyRenames(for type: HubertConfig.ModelType) -> [KeyRename] {
        [.optionalPrefix("\(type.rawValue).")] + KeyRename.weightNorm
    }

    /// Checkpoint keys that belong to heads around the base model and are skipped: `lm_head.` (…ForCTC),
    /// `projector.`, `classifier.`, `layer_weights` (…ForSequenceClassification), `quantizer.`, `project_q.`,
    /// `project_hid.` (Wav2Vec2ForPreTraining, e.g. the hub's wav2vec2-base). Integer tensors are never counted
    /// as unused. `masked_spec_embed` [H] (SpecAugment's mask vector, used only in training, present whenever
    /// `mask_time_prob > 0`, i.e. in both base checkpoints) is not ignored by prefix: it is taken with a shape
    /// check when present and then dropped, so a malformed one still fails loading.
    public static let ignoredPrefixes = ["lm_head.", "projector.", "classifier.", "layer_weights",
                                         "quantizer.", "project_q.", "project_hid."]

    /// Loads `folder/config.json` and `folder/model.safetensors` strictly.
    /// - Throws: `ModelError` for a missing folder or file, or a bad/unsupported config; `WeightsError` naming the
    ///   file and tensor for an unreadable or truncated safetensors file, a missing tensor, a shape that does not
    ///   match the config ("got [..], expected [..]"), a non-float dtype, both spellings of one tensor, or float
    ///   tensors left unused.
    public convenience init(folder: URL) throws {
        let config = try HubertConfig.load(from: folder)
        let weightsURL = folder.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw ModelError.missingFile(path: weightsURL.path)
        }
        let store = try WeightStore(url: weightsURL, renames: Self.keyRenames(for: config.modelType),
                                    ignoring: Self.ignoredPrefixes)
        try self.init(config: config, weights: store)
    }

    /// Builds the model from an open weight store (keys as in `HubertModel.state_dict()`), then checks that every
    /// float tensor was used.
    public convenience init(config: HubertConfig, weights store: WeightStore) throws {
        try self.init(config: config, source: store.scope(""))
        _ = try store.takeIfPresent("masked_spec_embed", shape: [config.hiddenSize])   // training only
        try store.finish()
    }

    init<W: HubertWeightSource>(config: HubertConfig, source w: W) throws {
        try config.validate(file: "config")
        self.config = config
        featureEncoder = try HubertFeatureEncoder(w.scope("feature_extractor."), config)
        featureProjection = try HubertFeatureProjection(w.scope("feature_projection."), config)
        encoder = try HubertEncoder(w.scope("encoder."), config)
    }

    /// A model with deterministic pseudo-random weights (see `RandomHubertWeights`), for benchmarks and tests
    /// that need a shape, not a checkpoint.
    public static func randomWeights(config: HubertConfig = HubertConfig(), seed: UInt64 = 0) throws -> HubertModel {
        try HubertModel(config: config, source: RandomHubertWeights(seed: seed))
    }

    /// The encoder's outputs, as transformers' `BaseModelOutput`.
    public struct Output: Sendable {
        /// The last layer's output, `[B, T, H]`.
        public var lastHiddenState: Tensor
        /// With `outputHiddenStates`: transformers' `hidden_states`, `layers + 1` tensors of `[B, T, H]`: the
        /// encoder's input to layer 0 (projected features + positional conv, after `encoder.layer_norm`), then
        /// every layer's output (the last equals `lastHiddenState`); nil otherwise.
        public var hiddenStates: [Tensor]?
    }

    /// Runs the model on a batch of equal-length waveforms (no attention mask, as hubert-base and wav2vec2-base
    /// are run: their processors return none; pad shorter clips with zeros yourself if you must batch them).
    /// - Parameters:
    ///   - inputValues: `[B, N]` or `[N]`, 16 kHz mono, normalised as the checkpoint's processor does
    ///     (`HubertFeatureExtractor`).
    ///   - outputHiddenStates: also return every layer's output.
    /// - Returns: `[B, T, H]` outputs (B = 1 for `[N]`), `T = config.frameCount(samples: N)`.
    /// - Throws: `ModelError.invalidInput` for another rank, an empty batch, or N shorter than one receptive
    ///   field (400 samples for the base models).
    public func forward(_ inputValues: Tensor, outputHiddenStates: Bool = false) throws -> Output {
        guard inputValues.rank == 1 || inputValues.rank == 2 else {
            throw ModelError.invalidInput("input values must be [B, N] or [N], got \(inputValues.shape)")
        }
        let batch = inputValues.rank == 2 ? inputValues.shape[0] : 1
        let samples = inputValues.shape.last!
        guard batch > 0 else { throw ModelError.invalidInput("empty batch \(inputValues.shape)") }
        guard samples >= config.receptiveField else {
            throw ModelError.invalidInput("\(samples) samples is shorter than one frame's receptive field "
                                          + "(\(config.receptiveField) samples)")
        }
        // The conv stack runs per waveform (its first GroupNorm is per sample anyway), then the batch is stacked.
        let rows = inputValues.reshaped([batch, samples])
        var features: [Tensor] = []
        for b in 0..<batch {
            let row = batch == 1 ? rows.reshaped([samples]) : rows.slice(axis: 0, b..<(b + 1)).reshaped([samples])
            let f = featureEncoder(row)
            features.append(f.reshaped([1] + f.shape))
        }
        let frames = features[0].shape[1]
        let stacked = batch == 1 ? features[0] : Tensor.concatenate(features, axis: 0)
        features.removeAll()
        let projected = featureProjection(stacked)
        var hidden: [Tensor]? = outputHiddenStates ? [] : nil
        let last = encoder(projected, hiddenStates: &hidden)
        precondition(last.shape == [batch, frames, config.hiddenSize])
        return Output(lastHiddenState: last, hiddenStates: hidden)
    }

    /// Runs the model on one waveform. See `forward(_:outputHiddenStates:)` with a `[N]` tensor.
    public func forward(_ samples: [Float], outputHiddenStates: Bool = false) throws -> Output {
        guard !samples.isEmpty else { throw ModelError.invalidInput("no samples") }
        return try forward(Tensor(shape: [samples.count], samples), outputHiddenStates: outputHiddenStates)
    }

    // MARK: - Long inputs

    /// A piece of a long waveform that `forEachWindow` runs on its own: the input samples it reads and the output
    /// frames (indices into the whole clip's frame sequence) it produces.
    public struct Window: Sendable, Equatable {
        /// The input samples the window reads.
        public var samples: Range<Int>
        /// The output frames it produces, as indices into the whole clip's frames.
        public var frames: Range<Int>

        public init(samples: Range<Int>, frames: Range<Int>) {
            self.samples = samples
            self.frames = frames
        }
    }

    /// How `forEachWindow` splits `sampleCount` samples. When all `T = frameCount(sampleCount)` frames fit in one
    /// window of `windowSeconds` (`T ≤ frameCount(windowSeconds · samplingRate)`), the plan is one window over all
    /// the samples: the single pass (this reads at most `samplesPerFrame − 1` samples more than the window, the
    /// tail no frame covers). Otherwise the frames are split evenly into the fewest windows of at most
    /// `windowSeconds` each; a window producing frames `a..<b` reads exactly their receptive fields, samples
    /// `a · 320 ..< (b − 1) · 320 + 400` (base models), and the tail no frame covers is not read.
    /// - Throws: `ModelError.invalidInput` when `windowSeconds` holds less than one receptive field, or the clip
    ///   is shorter than one.
    public func windows(sampleCount: Int, windowSeconds: Double = 20, samplingRate: Int = 16000) throws -> [Window] {
        guard windowSeconds.isFinite, windowSeconds > 0,
              Int((windowSeconds * Double(samplingRate)).rounded()) >= config.receptiveField else {
            throw ModelError.invalidInput("a window of \(windowSeconds) s at \(samplingRate) Hz holds less than one "
                                          + "receptive field (\(config.receptiveField) samples)")
        }
        let total = config.frameCount(samples: sampleCount)
        guard total > 0 else {
            throw ModelError.invalidInput("\(sampleCount) samples is shorter than one frame's receptive field "
                                          + "(\(config.receptiveField) samples)")
        }
        let perWindow = config.frameCount(samples: Int((windowSeconds * Double(samplingRate)).rounded()))
        if total <= perWindow { return [Window(samples: 0..<sampleCount, frames: 0..<total)] }
        let count = (total + perWindow - 1) / perWindow
        return (0..<count).map { i in
            let a = total * i / count, b = total * (i + 1) / count
            let start = config.sampleRange(frame: a).lowerBound, end = config.sampleRange(frame: b - 1).upperBound
            return Window(samples: start..<end, frames: a..<b)
        }
    }

    /// Runs the model window by window over a long waveform (see `windows(sampleCount:windowSeconds:samplingRate:)`),
    /// handing each window's output to `body` as soon as it is ready, so memory stays bounded by one window,
    /// whatever the clip's length (hubert-base, 20 s windows: about 100 MB of activations and buffers on top of
    /// the weights and the clip; the conv front end itself runs in 64-frame stretches).
    ///
    /// For a clip whose frames fit in one window (any clip no longer than `windowSeconds`) this is exactly
    /// `forward`. Otherwise each window sees only its own samples, so frames near window boundaries differ from
    /// a single pass (attention and the positional conv lose their context across the cut, and the first conv's
    /// GroupNorm statistics are per window); the frame count and timing are the same. Normalise the whole clip
    /// first (`HubertFeatureExtractor`), as a single pass would see it.
    /// - Parameters:
    ///   - samples: `[N]`, 16 kHz mono, normalised.
    ///   - body: called once per window, in order, with the window and its `[1, frames.count, H]` outputs.
    /// - Throws: `ModelError.invalidInput` (see `windows`), or what `body` throws.
    public func forEachWindow(_ samples: [Float], windowSeconds: Double = 20, samplingRate: Int = 16000,
                              outputHiddenStates: Bool = false,
                              _ body: (Window, Output) throws -> Void) throws {
        for window in try windows(sampleCount: samples.count, windowSeconds: windowSeconds, samplingRate: samplingRate) {
            let piece = window.samples.count == samples.count ? samples : Array(samples[window.samples])
            let out = try forward(Tensor(shape: [piece.count], piece), outputHiddenStates: outputHiddenStates)
            precondition(out.lastHiddenState.shape[1] == window.frames.count,
                         "window \(window) gave \(out.lastHiddenState.shape)")
            try body(window, out)
        }
    }

    /// `forEachWindow`'s outputs concatenated along time: `[1, T, H]` with `T = frameCount(N)`, the same frame
    /// count and timing as a single pass (frame i covers samples `320 i ..< 320 i + 400`). Equal to `forward` for
    /// clips no longer than `windowSeconds` (one window); see `forEachWindow` for what differs at window boundaries.
    public func forwardWindowed(_ samples: [Float], windowSeconds: Double = 20, samplingRate: Int = 16000,
                                outputHiddenStates: Bool = false) throws -> Output {
        var pieces: [Output] = []
        try forEachWindow(samples, windowSeconds: windowSeconds, samplingRate: samplingRate,
                          outputHiddenStates: outputHiddenStates) { pieces.append($1) }
        if pieces.count == 1 { return pieces[0] }
        let last = Tensor.concatenate(pieces.map(\.lastHiddenState), axis: 1)
        var hidden: [Tensor]?
        if outputHiddenStates {
            hidden = (0...config.numHiddenLayers).map { i in
                Tensor.concatenate(pieces.map { $0.hiddenStates![i] }, axis: 1)
            }
        }
        return Output(lastHiddenState: last, hiddenStates: hidden)
    }
}
