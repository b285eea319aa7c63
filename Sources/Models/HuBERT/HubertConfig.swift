import Foundation

/// HuBERT / wav2vec 2.0 hyper-parameters, decoded from a Hugging Face `config.json`; absent keys take transformers'
/// defaults (`HubertConfig` in transformers/models/hubert/configuration_hubert.py and `Wav2Vec2Config` in
/// models/wav2vec2/configuration_wav2vec2.py, both the base models' shape: hubert-base-ls960, wav2vec2-base).
///
/// ```swift
/// let config = try HubertConfig.load(from: folder)   // folder/config.json
/// config.framesPerSecond                             // 50 for the base models
/// ```
///
/// Supported: `model_type` "hubert" or "wav2vec2", the post-LN encoder (`do_stable_layer_norm` false),
/// `feat_extract_norm` "group" (GroupNorm on the first conv only, the base models) or "layer" (LayerNorm after
/// every conv), GELU activations, weight-normalised positional conv. Everything else that changes the inference
/// graph (`do_stable_layer_norm`, `conv_pos_batch_norm`, wav2vec2's `add_adapter` and `adapter_attn_dim`, other
/// activations) is rejected with `ModelError.unsupportedConfig`. Training-only keys (dropouts, masking, CTC) are
/// ignored.
public struct HubertConfig: Decodable, Sendable, Equatable {
    /// Which transformers model the checkpoint belongs to; the graphs differ only in `feat_proj_layer_norm`.
    public enum ModelType: String, Sendable, Equatable {
        case hubert, wav2vec2
    }

    public var modelType: ModelType            // model_type, "hubert"
    public var hiddenSize: Int                 // hidden_size, 768
    public var numHiddenLayers: Int            // num_hidden_layers, 12
    public var numAttentionHeads: Int          // num_attention_heads, 12
    public var intermediateSize: Int           // intermediate_size, 3072
    public var hiddenAct: String               // hidden_act, "gelu" (exact erf; the only one supported)
    public var layerNormEps: Float             // layer_norm_eps, 1e-5 (encoder and feature-projection LayerNorms)
    public var featExtractNorm: String         // feat_extract_norm, "group" ("group" or "layer")
    public var featExtractActivation: String   // feat_extract_activation, "gelu" (the only one supported)
    public var convDim: [Int]                  // conv_dim, 7 × 512
    public var convStride: [Int]               // conv_stride, (5, 2, 2, 2, 2, 2, 2)
    public var convKernel: [Int]               // conv_kernel, (10, 3, 3, 3, 3, 2, 2)
    public var convBias: Bool                  // conv_bias, false
    public var numConvPosEmbeddings: Int       // num_conv_pos_embeddings, 128 (the positional conv's kernel)
    public var numConvPosEmbeddingGroups: Int  // num_conv_pos_embedding_groups, 16
    public var convPosBatchNorm: Bool          // conv_pos_batch_norm, false (true is not supported)
    public var doStableLayerNorm: Bool         // do_stable_layer_norm, false (true is not supported)
    /// feat_proj_layer_norm, true: HuBERT's switch for the LayerNorm before the feature projection. wav2vec2 has
    /// no such key and always applies it, so this is true for every wav2vec2 config.
    public var featProjLayerNorm: Bool
    public var addAdapter: Bool                // add_adapter (wav2vec2), false (true is not supported)
    public var adapterAttnDim: Int?            // adapter_attn_dim (wav2vec2), nil (set is not supported)

    /// The width of one attention head, `hiddenSize / numAttentionHeads`.
    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Input samples per output frame, the product of the conv strides (320 for the base models).
    public var samplesPerFrame: Int { convStride.reduce(1, *) }
    /// Input samples one output frame sees (400 for the base models):
    /// `r = k₀ + Σ_{i≥1} (k_i − 1) · Π_{j<i} s_j`.
    public var receptiveField: Int {
        var field = 1, jump = 1
        for (k, s) in zip(convKernel, convStride) {
            field += (k - 1) * jump
            jump *= s
        }
        return field
    }
    /// The last conv's width, the feature projection's input (`conv_dim[-1]`).
    public var extractFeatureSize: Int { convDim.last ?? 0 }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", featExtractNorm = "feat_extract_norm"
        case featExtractActivation = "feat_extract_activation", convDim = "conv_dim", convStride = "conv_stride"
        case convKernel = "conv_kernel", convBias = "conv_bias", numConvPosEmbeddings = "num_conv_pos_embeddings"
        case numConvPosEmbeddingGroups = "num_conv_pos_embedding_groups", convPosBatchNorm = "conv_pos_batch_norm"
        case doStableLayerNorm = "do_stable_layer_norm", featProjLayerNorm = "feat_proj_layer_norm"
        case addAdapter = "add_adapter", adapterAttnDim = "adapter_attn_dim"
    }

    /// A config with transformers' defaults (hubert-base-ls960), overridden by the arguments.
    public init(modelType: ModelType = .hubert, hiddenSize: Int = 768, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, intermediateSize: Int = 3072, hiddenAct: String = "gelu",
                layerNormEps: Float = 1e-5, featExtractNorm: String = "group", featExtractActivation: String = "gelu",
                convDim: [Int] = Array(repeating: 512, count: 7), convStride: [Int] = [5, 2, 2, 2, 2, 2, 2],
                convKernel: [Int] = [10, 3, 3, 3, 3, 2, 2], convBias: Bool = false, numConvPosEmbeddings: Int = 128,
                numConvPosEmbeddingGroups: Int = 16, convPosBatchNorm: Bool = false, doStableLayerNorm: Bool = false,
                featProjLayerNorm: Bool = true, addAdapter: Bool = false, adapterAttnDim: Int? = nil) {
        self.modelType = modelType
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.featExtractNorm = featExtractNorm
        self.featExtractActivation = featExtractActivation
        self.convDim = convDim
        self.convStride = convStride
        self.convKernel = convKernel
        self.convBias = convBias
        self.numConvPosEmbeddings = numConvPosEmbeddings
        self.numConvPosEmbeddingGroups = numConvPosEmbeddingGroups
        self.convPosBatchNorm = convPosBatchNorm
        self.doStableLayerNorm = doStableLayerNorm
        self.featProjLayerNorm = modelType == .wav2vec2 ? true : featProjLayerNorm
        self.addAdapter = addAdapter
        self.adapterAttnDim = adapterAttnDim
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HubertConfig()
        let typeName = try c.decodeIfPresent(String.self, forKey: .modelType) ?? d.modelType.rawValue
        guard let type = ModelType(rawValue: typeName) else {
            throw UnsupportedModelType(value: typeName)
        }
        modelType = type
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
        featExtractNorm = try c.decodeIfPresent(String.self, forKey: .featExtractNorm) ?? d.featExtractNorm
        featExtractActivation = try c.decodeIfPresent(String.self, forKey: .featExtractActivation)
            ?? d.featExtractActivation
        convDim = try c.decodeIfPresent([Int].self, forKey: .convDim) ?? d.convDim
        convStride = try c.decodeIfPresent([Int].self, forKey: .convStride) ?? d.convStride
        convKernel = try c.decodeIfPresent([Int].self, forKey: .convKernel) ?? d.convKernel
        convBias = try c.decodeIfPresent(Bool.self, forKey: .convBias) ?? d.convBias
        numConvPosEmbeddings = try c.decodeIfPresent(Int.self, forKey: .numConvPosEmbeddings) ?? d.numConvPosEmbeddings
        numConvPosEmbeddingGroups = try c.decodeIfPresent(Int.self, forKey: .numConvPosEmbeddingGroups)
            ?? d.numConvPosEmbeddingGroups
        convPosBatchNorm = try c.decodeIfPresent(Bool.self, forKey: .convPosBatchNorm) ?? d.convPosBatchNorm
        doStableLayerNorm = try c.decodeIfPresent(Bool.self, forKey: .doStableLayerNorm) ?? d.doStableLayerNorm
        // wav2vec2's feature projection always normalises; the key only exists for HuBERT.
        featProjLayerNorm = type == .wav2vec2 ? true
            : try c.decodeIfPresent(Bool.self, forKey: .featProjLayerNorm) ?? d.featProjLayerNorm
        addAdapter = try c.decodeIfPresent(Bool.self, forKey: .addAdapter) ?? d.addAdapter
        adapterAttnDim = try c.decodeIfPresent(Int.self, forKey: .adapterAttnDim)
    }

    /// Carries an unknown `model_type` out of `init(from:)`, so `load` can report it as unsupported.
    struct UnsupportedModelType: Error { var value: String }

    /// Reads and checks `folder/config.json`.
    /// - Throws: `ModelError.missingFile`, `.invalidConfig` (bad JSON, non-positive sizes, conv lists of different
    ///   lengths, hidden size not divisible by the heads or the positional conv groups), or `.unsupportedConfig`
    ///   (another `model_type`, activation or norm, the stable-layer-norm encoder, a batch-norm positional conv,
    ///   adapters).
    public static func load(from folder: URL) throws -> HubertConfig {
        let url = folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
        let config: HubertConfig
        do {
            config = try JSONDecoder().decode(HubertConfig.self, from: Data(contentsOf: url))
        } catch let error as UnsupportedModelType {
            throw ModelError.unsupportedConfig(file: url.path, key: "model_type", value: error.value,
                                               supported: "hubert, wav2vec2")
        } catch {
            throw ModelError.invalidConfig(file: url.path, reason: "\(error)")
        }
        try config.validate(file: url.path)
        return config
    }

    /// Checks sizes and supported options.
    func validate(file: String) throws {
        let sizes = [("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                     ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                     ("num_conv_pos_embeddings", numConvPosEmbeddings),
                     ("num_conv_pos_embedding_groups", numConvPosEmbeddingGroups)]
        for (key, value) in sizes where value <= 0 {
            throw ModelError.invalidConfig(file: file, reason: "\(key) must be positive, got \(value)")
        }
        guard !convDim.isEmpty, convDim.count == convStride.count, convDim.count == convKernel.count else {
            throw ModelError.invalidConfig(file: file, reason: "conv_dim, conv_stride and conv_kernel must have the "
                                           + "same non-zero length, got \(convDim.count), \(convStride.count), "
                                           + "\(convKernel.count)")
        }
        for (key, list) in [("conv_dim", convDim), ("conv_stride", convStride), ("conv_kernel", convKernel)] {
            if let bad = list.first(where: { $0 <= 0 }) {
                throw ModelError.invalidConfig(file: file, reason: "\(key) must be positive, got \(bad) in \(list)")
            }
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfig(file: file, reason:
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard hiddenSize % numConvPosEmbeddingGroups == 0 else {
            throw ModelError.invalidConfig(file: file, reason:
                "hidden_size \(hiddenSize) is not a multiple of num_conv_pos_embedding_groups "
                + "\(numConvPosEmbeddingGroups)")
        }
        guard layerNormEps > 0 else {
            throw ModelError.invalidConfig(file: file, reason: "layer_norm_eps must be positive, got \(layerNormEps)")
        }
        guard hiddenAct == "gelu" else {
            throw ModelError.unsupportedConfig(file: file, key: "hidden_act", value: hiddenAct, supported: "gelu")
        }
        guard featExtractActivation == "gelu" else {
            throw ModelError.unsupportedConfig(file: file, key: "feat_extract_activation", value: featExtractActivation,
                                               supported: "gelu")
        }
        guard featExtractNorm == "group" || featExtractNorm == "layer" else {
            throw ModelError.unsupportedConfig(file: file, key: "feat_extract_norm", value: featExtractNorm,
                                               supported: "group, layer")
        }
        guard !doStableLayerNorm else {
            throw ModelError.unsupportedConfig(file: file, key: "do_stable_layer_norm", value: "true",
                                               supported: "false (the post-LN encoder of the base models)")
        }
        guard !convPosBatchNorm else {
            throw ModelError.unsupportedConfig(file: file, key: "conv_pos_batch_norm", value: "true",
                                               supported: "false (weight-normalised positional conv)")
        }
        guard !addAdapter else {
            throw ModelError.unsupportedConfig(file: file, key: "add_adapter", value: "true", supported: "false")
        }
        if let adapterAttnDim {
            throw ModelError.unsupportedConfig(file: file, key: "adapter_attn_dim", value: "\(adapterAttnDim)",
                                               supported: "null")
        }
    }

    /// Output frames for `samples` input samples: the conv stack's length rule `L ← ⌊(L − k) / s⌋ + 1` per layer,
    /// 0 when the input is shorter than one receptive field. For the base models
    /// `⌊(samples − 400) / 320⌋ + 1` (49 frames per second of 16 kHz audio, 199 for 4 s).
    public func frameCount(samples: Int) -> Int {
        var length = samples
        for (k, s) in zip(convKernel, convStride) {
            guard length >= k else { return 0 }
            length = (length - k) / s + 1
        }
        return length
    }

    /// The input samples output frame `frame` is computed from: `frame · samplesPerFrame ..< + receptiveField`
    /// (`320 i ..< 320 i + 400` for the base models).
    public func sampleRange(frame: Int) -> Range<Int> {
        let start = frame * samplesPerFrame
        return start..<(start + receptiveField)
    }

    /// When frame `frame` starts, in seconds: `frame · samplesPerFrame / samplingRate` (`i · 0.02` s at 16 kHz
    /// for the base models). Its window lasts `receptiveField / samplingRate` (25 ms).
    public func frameStartTime(_ frame: Int, samplingRate: Int = 16000) -> Double {
        Double(frame * samplesPerFrame) / Double(samplingRate)
    }
}
