import Foundation

/// CLIP vision-tower hyper-parameters, decoded from a Hugging Face `config.json`; absent keys take transformers'
/// defaults (`CLIPVisionConfig` in transformers/models/clip/configuration_clip.py, i.e. openai/clip-vit-base-patch32:
/// ViT-B/32 at 224 pixels).
///
/// Two kinds of `config.json` are read (see `load(from:)`):
/// - a full `CLIPModel` config (`"model_type": "clip"`): the vision keys come from `vision_config`, overridden by a
///   legacy `vision_config_dict` when present (as transformers merges them), and `projection_dim` from the top
///   level, which is what `CLIPModel.visual_projection` uses;
/// - a `CLIPVisionModelWithProjection` config (`"model_type": "clip_vision_model"`): every key at the top level.
///
/// ```swift
/// let config = try CLIPVisionConfig.load(from: folder)   // folder/config.json
/// config.numPatches    // 49 for ViT-B/32 at 224
/// ```
public struct CLIPVisionConfig: Decodable, Sendable, Equatable {
    public var hiddenSize: Int          // hidden_size, 768
    public var intermediateSize: Int    // intermediate_size, 3072
    public var projectionDim: Int       // projection_dim, 512 (the top-level one in a CLIPModel config)
    public var numHiddenLayers: Int     // num_hidden_layers, 12
    public var numAttentionHeads: Int   // num_attention_heads, 12
    public var numChannels: Int         // num_channels, 3
    public var imageSize: Int           // image_size, 224
    public var patchSize: Int           // patch_size, 32
    public var hiddenAct: String        // hidden_act, "quick_gelu" ("gelu", the exact erf form, is also supported)
    public var layerNormEps: Float      // layer_norm_eps, 1e-5
    /// `architectures` from the top level of `config.json`, when given (not a vision-config key; kept so that
    /// loading can refuse a projection-less `CLIPVisionModel` checkpoint by name).
    public var architectures: [String]?

    /// The activations `CLIPMLP` supports here (transformers' `ACT2FN` names).
    public static let supportedActivations = ["quick_gelu", "gelu"]

    /// The width of one attention head, `hiddenSize / numAttentionHeads`.
    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Patches per side, `imageSize / patchSize` (a strided convolution drops any remainder).
    public var gridSize: Int { imageSize / patchSize }
    /// `gridSize²` (49 for ViT-B/32 at 224).
    public var numPatches: Int { gridSize * gridSize }
    /// Tokens per image: the class token then the patches (50 for ViT-B/32).
    public var numPositions: Int { numPatches + 1 }

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", projectionDim = "projection_dim"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numChannels = "num_channels", imageSize = "image_size", patchSize = "patch_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", architectures
    }

    /// A config with transformers' defaults (ViT-B/32), overridden by the arguments.
    public init(hiddenSize: Int = 768, intermediateSize: Int = 3072, projectionDim: Int = 512, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, numChannels: Int = 3, imageSize: Int = 224, patchSize: Int = 32,
                hiddenAct: String = "quick_gelu", layerNormEps: Float = 1e-5, architectures: [String]? = nil) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.projectionDim = projectionDim
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numChannels = numChannels
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.architectures = architectures
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPVisionConfig()
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? d.projectionDim
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        numChannels = try c.decodeIfPresent(Int.self, forKey: .numChannels) ?? d.numChannels
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? d.imageSize
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
    }

    /// Reads and checks `folder/config.json` (a full `CLIPModel` config or a vision-only one; see the type's notes).
    /// - Throws: `ModelError.missingFile`, `.invalidConfig` (bad JSON, non-positive sizes, hidden size not divisible
    ///   by the heads, patches larger than the image), or `.unsupportedConfig` (another `hidden_act`; a
    ///   `CLIPVisionModel` checkpoint, which has no `visual_projection`).
    public static func load(from folder: URL) throws -> CLIPVisionConfig {
        let url = folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
        let config: CLIPVisionConfig
        do {
            config = try parse(Data(contentsOf: url))
        } catch {
            throw ModelError.invalidConfig(file: url.path, reason: "\(error)")
        }
        try config.validate(file: url.path)
        return config
    }

    /// Decodes a `config.json`'s bytes, picking the vision part of a full `CLIPModel` config.
    static func parse(_ data: Data) throws -> CLIPVisionConfig {
        guard let top = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "config.json is not a JSON object"))
        }
        let isFullCLIP = top["model_type"] as? String == "clip" || top["vision_config"] != nil
            || top["vision_config_dict"] != nil
        var vision = top
        if isFullCLIP {
            // transformers' CLIPConfig: vision_config (None → defaults), updated by vision_config_dict; the
            // projection is CLIPModel's, sized by the top-level projection_dim (default 512).
            vision = (top["vision_config"] as? [String: Any]) ?? [:]
            if let legacy = top["vision_config_dict"] as? [String: Any] { vision.merge(legacy) { $1 } }
            vision["projection_dim"] = top["projection_dim"] ?? 512
            vision["architectures"] = top["architectures"]
        }
        return try JSONDecoder().decode(CLIPVisionConfig.self,
                                        from: JSONSerialization.data(withJSONObject: vision.filter { !($0.value is NSNull) }))
    }

    /// Checks sizes and supported options.
    func validate(file: String) throws {
        let sizes = [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize), ("projection_dim", projectionDim),
                     ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                     ("num_channels", numChannels), ("image_size", imageSize), ("patch_size", patchSize)]
        for (key, value) in sizes where value <= 0 {
            throw ModelError.invalidConfig(file: file, reason: "\(key) must be positive, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfig(file: file, reason:
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard patchSize <= imageSize else {
            throw ModelError.invalidConfig(file: file, reason: "patch_size \(patchSize) exceeds image_size \(imageSize)")
        }
        guard Self.supportedActivations.contains(hiddenAct) else {
            throw ModelError.unsupportedConfig(file: file, key: "hidden_act", value: hiddenAct,
                                               supported: Self.supportedActivations.joined(separator: ", "))
        }
        if let architectures, architectures.contains("CLIPVisionModel") {
            throw ModelError.unsupportedConfig(file: file, key: "architectures", value: "CLIPVisionModel", supported:
                "CLIPModel, CLIPVisionModelWithProjection (a checkpoint with visual_projection.weight)")
        }
    }
}
