import Foundation

/// BERT hyper-parameters, decoded from a Hugging Face `config.json`; absent keys take transformers' defaults
/// (`BertConfig.__init__` in transformers/models/bert/configuration_bert.py, i.e. bert-base-uncased).
///
/// ```swift
/// let config = try BertConfig.load(from: folder)   // folder/config.json
/// ```
public struct BertConfig: Decodable, Sendable, Equatable {
    public var vocabSize: Int                // vocab_size, 30522
    public var hiddenSize: Int               // hidden_size, 768
    public var numHiddenLayers: Int          // num_hidden_layers, 12
    public var numAttentionHeads: Int        // num_attention_heads, 12
    public var intermediateSize: Int         // intermediate_size, 3072
    public var hiddenAct: String             // hidden_act, "gelu" (the exact erf form; nothing else is supported)
    public var maxPositionEmbeddings: Int    // max_position_embeddings, 512
    public var typeVocabSize: Int            // type_vocab_size, 2
    public var layerNormEps: Float           // layer_norm_eps, 1e-12
    public var padTokenId: Int               // pad_token_id, 0 (unused at inference; kept for callers)
    public var positionEmbeddingType: String // position_embedding_type, "absolute" (the only one supported)

    /// The width of one attention head, `hiddenSize / numAttentionHeads`.
    public var headDim: Int { hiddenSize / numAttentionHeads }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act", maxPositionEmbeddings = "max_position_embeddings"
        case typeVocabSize = "type_vocab_size", layerNormEps = "layer_norm_eps", padTokenId = "pad_token_id"
        case positionEmbeddingType = "position_embedding_type"
    }

    /// A config with transformers' defaults, overridden by the arguments.
    public init(vocabSize: Int = 30522, hiddenSize: Int = 768, numHiddenLayers: Int = 12, numAttentionHeads: Int = 12,
                intermediateSize: Int = 3072, hiddenAct: String = "gelu", maxPositionEmbeddings: Int = 512,
                typeVocabSize: Int = 2, layerNormEps: Float = 1e-12, padTokenId: Int = 0,
                positionEmbeddingType: String = "absolute") {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.padTokenId = padTokenId
        self.positionEmbeddingType = positionEmbeddingType
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BertConfig()
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? d.typeVocabSize
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? d.padTokenId
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? d.positionEmbeddingType
    }

    /// Reads and checks `folder/config.json`.
    /// - Throws: `ModelError.missingFile`, `.invalidConfig` (bad JSON, non-positive sizes, hidden size not divisible
    ///   by the heads), or `.unsupportedConfig` (`hidden_act` other than "gelu", relative position embeddings).
    public static func load(from folder: URL) throws -> BertConfig {
        let url = folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
        let config: BertConfig
        do {
            config = try JSONDecoder().decode(BertConfig.self, from: Data(contentsOf: url))
        } catch {
            throw ModelError.invalidConfig(file: url.path, reason: "\(error)")
        }
        try config.validate(file: url.path)
        return config
    }

    /// Checks sizes and supported options.
    func validate(file: String) throws {
        let sizes = [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                     ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                     ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize)]
        for (key, value) in sizes where value <= 0 {
            throw ModelError.invalidConfig(file: file, reason: "\(key) must be positive, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfig(file: file, reason:
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard hiddenAct == "gelu" else {
            throw ModelError.unsupportedConfig(file: file, key: "hidden_act", value: hiddenAct, supported: "gelu")
        }
        guard positionEmbeddingType == "absolute" else {
            throw ModelError.unsupportedConfig(file: file, key: "position_embedding_type", value: positionEmbeddingType,
                                               supported: "absolute")
        }
    }
}
