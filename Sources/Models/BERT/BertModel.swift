import Foundation
import Tensor

// A native BERT encoder (inference only, dropout = identity), one Swift type per transformers module of
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py
// (BertEmbeddings, BertSelfAttention, BertSelfOutput, BertIntermediate, BertOutput, BertLayer, BertPooler).
// Weights are read-only after loading, so one model can serve several threads; `forward` keeps no state.
// Shapes below: B batch, L sequence length, H hidden size, I intermediate size, V vocabulary, P max positions,
// T token types.

/// A Hugging Face `BertModel` (encoder + pooler) loaded from a folder with `config.json` and `model.safetensors`.
///
/// ```swift
/// let model = try BertModel(folder: url)
/// let enc = tokenizer.encodeBatch(pairs, maxLength: 128)      // padded to one length
/// let out = try model.forward(ids: enc.map(\.ids), tokenTypes: enc.map(\.tokenTypeIds), mask: enc.map(\.attentionMask))
/// out.lastHiddenState   // [B, L, H];  out.pooled  // [B, H]
/// ```
public final class BertModel: @unchecked Sendable {
    /// The hyper-parameters from `config.json`.
    public let config: BertConfig
    let embeddings: BertEmbeddings
    let layers: [BertLayer]
    let pooler: BertPooler

    /// Key spellings accepted in the checkpoint: with or without the `bert.` prefix (`BertForPreTraining` vs
    /// `BertModel` saves) and LayerNorm's legacy `gamma`/`beta`.
    public static let keyRenames: [KeyRename] = [.optionalPrefix("bert.")] + KeyRename.gammaBeta
    /// Checkpoint keys that are not part of `BertModel` and are skipped: the pre-training heads (MLM, NSP).
    /// Integer tensors (`embeddings.position_ids`) are never counted as unused.
    public static let ignoredPrefixes = ["cls."]

    /// Loads `folder/config.json` and `folder/model.safetensors` strictly.
    /// - Throws: `ModelError` for a missing folder or file, or a bad/unsupported config; `WeightsError` naming the
    ///   file and tensor for an unreadable or truncated safetensors file, a missing tensor, a shape that does not
    ///   match the config ("got [..], expected [..]"), a non-float dtype, or float tensors left unused.
    public convenience init(folder: URL) throws {
        let config = try BertConfig.load(from: folder)
        let weightsURL = folder.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw ModelError.missingFile(path: weightsURL.path)
        }
        let store = try WeightStore(url: weightsURL, renames: Self.keyRenames, ignoring: Self.ignoredPrefixes)
        try self.init(config: config, weights: store)
    }

    /// Builds the model from an open weight store (keys as in `BertModel.state_dict()`), then checks that every
    /// float tensor was used.
    public init(config: BertConfig, weights store: WeightStore) throws {
        try config.validate(file: "config")
        self.config = config
        embeddings = try BertEmbeddings(store.scope("embeddings."), config)
        layers = try (0..<config.numHiddenLayers).map { try BertLayer(store.scope("encoder.layer.\($0)."), config) }
        pooler = try BertPooler(store.scope("pooler."), config)
        try store.finish()
    }

    /// The encoder's outputs, as transformers' `BaseModelOutputWithPoolingAndCrossAttentions`.
    public struct Output: Sendable {
        /// The last layer's output, `[B, L, H]`.
        public var lastHiddenState: Tensor
        /// `tanh(W · lastHiddenState[:, 0] + b)`, `[B, H]`.
        public var pooled: Tensor
        /// With `outputHiddenStates`: the embeddings' output then every layer's output, `layers + 1` tensors of
        /// `[B, L, H]` (the last equals `lastHiddenState`); nil otherwise.
        public var hiddenStates: [Tensor]?
    }

    /// Runs the encoder on a batch of equal-length (padded) rows.
    /// - Parameters:
    ///   - ids: token ids, `B` rows of `L`, each in `0..<vocabSize`.
    ///   - tokenTypes: segment ids, same shape, each in `0..<typeVocabSize`.
    ///   - mask: 1 for real tokens, 0 for padding, same shape (padding gets `finfo(float32).min` added to its
    ///     attention scores, as in recent transformers).
    ///   - outputHiddenStates: also return every layer's output.
    /// - Throws: `ModelError.invalidInput` for an empty batch, ragged rows, shapes that differ, ids out of range,
    ///   or `L > maxPositionEmbeddings`.
    public func forward(ids: [[Int32]], tokenTypes: [[Int32]], mask: [[Int32]],
                        outputHiddenStates: Bool = false) throws -> Output {
        let (batch, length) = try checkInputs(ids: ids, tokenTypes: tokenTypes, mask: mask)
        // No padding (every mask value 1): no mask, rather than adding zeros to every score.
        let padded = mask.contains { $0.contains { $0 == 0 } }
        let additiveMask = padded
            ? additiveAttentionMask(Tensor(shape: [batch, length], mask.joined().map { Float($0) })) : nil
        var x = embeddings(ids: ids, tokenTypes: tokenTypes, batch: batch, length: length)
        var hidden: [Tensor]? = outputHiddenStates ? [x] : nil
        for layer in layers {
            x = layer(x, mask: additiveMask)
            hidden?.append(x)
        }
        return Output(lastHiddenState: x, pooled: pooler(x), hiddenStates: hidden)
    }

    private func checkInputs(ids: [[Int32]], tokenTypes: [[Int32]], mask: [[Int32]]) throws -> (Int, Int) {
        guard let first = ids.first, !first.isEmpty else {
            throw ModelError.invalidInput("empty batch or empty first row")
        }
        let batch = ids.count, length = first.count
        guard tokenTypes.count == batch, mask.count == batch else {
            throw ModelError.invalidInput("\(batch) rows of ids but \(tokenTypes.count) of token types and \(mask.count) of mask")
        }
        guard length <= config.maxPositionEmbeddings else {
            throw ModelError.invalidInput("length \(length) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        for b in 0..<batch {
            guard ids[b].count == length, tokenTypes[b].count == length, mask[b].count == length else {
                throw ModelError.invalidInput("row \(b) has \(ids[b].count) ids, \(tokenTypes[b].count) token types, " +
                                              "\(mask[b].count) mask values; expected \(length) each (pad the batch)")
            }
            if let bad = ids[b].first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw ModelError.invalidInput("row \(b): id \(bad) is outside 0..<\(config.vocabSize)")
            }
            if let bad = tokenTypes[b].first(where: { $0 < 0 || Int($0) >= config.typeVocabSize }) {
                throw ModelError.invalidInput("row \(b): token type \(bad) is outside 0..<\(config.typeVocabSize)")
            }
        }
        return (batch, length)
    }
}

/// transformers `BertEmbeddings`: `LayerNorm(word[ids] + tokenType[types] + position[0..<L])` (in that order).
struct BertEmbeddings {
    let wordEmbeddings: Tensor        // word_embeddings.weight [V, H]
    let positionEmbeddings: Tensor    // position_embeddings.weight [P, H]
    let tokenTypeEmbeddings: Tensor   // token_type_embeddings.weight [T, H]
    let layerNormWeight: Tensor       // LayerNorm.weight (or .gamma) [H]
    let layerNormBias: Tensor         // LayerNorm.bias (or .beta) [H]
    let eps: Float

    init(_ w: WeightScope, _ c: BertConfig) throws {
        wordEmbeddings = try w.take("word_embeddings.weight", shape: [c.vocabSize, c.hiddenSize])
        positionEmbeddings = try w.take("position_embeddings.weight", shape: [c.maxPositionEmbeddings, c.hiddenSize])
        tokenTypeEmbeddings = try w.take("token_type_embeddings.weight", shape: [c.typeVocabSize, c.hiddenSize])
        layerNormWeight = try w.take("LayerNorm.weight", shape: [c.hiddenSize])
        layerNormBias = try w.take("LayerNorm.bias", shape: [c.hiddenSize])
        eps = c.layerNormEps
    }

    /// - Returns: `[B, L, H]`.
    func callAsFunction(ids: [[Int32]], tokenTypes: [[Int32]], batch: Int, length: Int) -> Tensor {
        let h = wordEmbeddings.shape[1]
        var x = embedding(wordEmbeddings, ids: ids.joined().map { Int($0) })
        x.add(embedding(tokenTypeEmbeddings, ids: tokenTypes.joined().map { Int($0) }))
        x.reshape([batch, length, h])
        x.add(positionEmbeddings.slice(axis: 0, 0..<length))   // absolute positions 0..<L, broadcast over B
        x.applyLayerNorm(weight: layerNormWeight, bias: layerNormBias, eps: eps)
        return x
    }
}

/// transformers `BertSelfAttention` (eager/SDPA, absolute positions): per-head softmax(Q·Kᵀ/√D + mask)·V.
/// The query, key and value projections are merged at load into one `[3H, H]` weight, so one GEMM makes all three.
struct BertSelfAttention {
    let qkv: Tensor       // concat(query.weight, key.weight, value.weight) along rows, [3H, H]
    let qkvBias: Tensor   // concat(query.bias, key.bias, value.bias), [3H]
    let heads: Int
    let scale: Float

    init(_ w: WeightScope, _ c: BertConfig) throws {
        let h = c.hiddenSize
        let weights = try ["query", "key", "value"].map { try w.take("\($0).weight", shape: [h, h]) }
        let biases = try ["query", "key", "value"].map { try w.take("\($0).bias", shape: [h]) }
        qkv = Tensor.stackedWeights(weights)
        qkvBias = Tensor.concatenate(biases, axis: 0)
        heads = c.numAttentionHeads
        scale = 1 / Float(c.headDim).squareRoot()
    }

    /// - Parameters: x `[B, L, H]`; mask additive `[B, L]`, nil when nothing is padded.
    /// - Returns: the heads' contexts concatenated, `[B, L, H]`.
    func callAsFunction(_ x: Tensor, mask: Tensor?) -> Tensor {
        let projected = linear(x, weight: qkv, bias: qkvBias)   // [B, L, 3H]
        return attention(packedQKV: projected, heads: heads, scale: scale, mask: mask)
    }
}

/// transformers `BertSelfOutput`, and `BertOutput` (same shape of computation): `LayerNorm(x·Wᵀ + b + residual)`.
struct BertResidualOutput {
    let dense: Tensor, denseBias: Tensor                 // dense.weight [H, in], dense.bias [H]
    let layerNormWeight: Tensor, layerNormBias: Tensor   // LayerNorm.weight / .bias (or gamma / beta) [H]
    let eps: Float

    init(_ w: WeightScope, _ c: BertConfig, inFeatures: Int) throws {
        dense = try w.take("dense.weight", shape: [c.hiddenSize, inFeatures])
        denseBias = try w.take("dense.bias", shape: [c.hiddenSize])
        layerNormWeight = try w.take("LayerNorm.weight", shape: [c.hiddenSize])
        layerNormBias = try w.take("LayerNorm.bias", shape: [c.hiddenSize])
        eps = c.layerNormEps
    }

    func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor {
        linearResidualLayerNorm(x, weight: dense, bias: denseBias, residual: residual,
                                normWeight: layerNormWeight, normBias: layerNormBias, eps: eps)
    }
}

/// transformers `BertIntermediate`: `GELU(x·Wᵀ + b)` with the exact erf GELU (`ACT2FN["gelu"]`).
struct BertIntermediate {
    let dense: Tensor, denseBias: Tensor   // dense.weight [I, H], dense.bias [I]

    init(_ w: WeightScope, _ c: BertConfig) throws {
        dense = try w.take("dense.weight", shape: [c.intermediateSize, c.hiddenSize])
        denseBias = try w.take("dense.bias", shape: [c.intermediateSize])
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        linear(x, weight: dense, bias: denseBias, activation: .gelu)
    }
}

/// transformers `BertLayer` (post-LN): `A = SelfOutput(SelfAttention(X), X)`, `X' = Output(Intermediate(A), A)`.
struct BertLayer {
    let selfAttention: BertSelfAttention   // attention.self.*
    let selfOutput: BertResidualOutput     // attention.output.* (BertSelfOutput)
    let intermediate: BertIntermediate     // intermediate.*
    let output: BertResidualOutput         // output.* (BertOutput)

    init(_ w: WeightScope, _ c: BertConfig) throws {
        selfAttention = try BertSelfAttention(w.scope("attention.self."), c)
        selfOutput = try BertResidualOutput(w.scope("attention.output."), c, inFeatures: c.hiddenSize)
        intermediate = try BertIntermediate(w.scope("intermediate."), c)
        output = try BertResidualOutput(w.scope("output."), c, inFeatures: c.intermediateSize)
    }

    func callAsFunction(_ x: Tensor, mask: Tensor?) -> Tensor {
        let a = selfOutput(selfAttention(x, mask: mask), residual: x)
        return output(intermediate(a), residual: a)
    }
}

/// transformers `BertPooler`: `tanh(W · x[:, 0] + b)` on the first ([CLS]) token.
struct BertPooler {
    let dense: Tensor, denseBias: Tensor   // dense.weight [H, H], dense.bias [H]

    init(_ w: WeightScope, _ c: BertConfig) throws {
        dense = try w.take("dense.weight", shape: [c.hiddenSize, c.hiddenSize])
        denseBias = try w.take("dense.bias", shape: [c.hiddenSize])
    }

    /// - Parameter x: `[B, L, H]`. - Returns: `[B, H]`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let cls = x.slice(axis: 1, 0..<1).reshaped([x.shape[0], x.shape[2]])
        var y = linear(cls, weight: dense, bias: denseBias)
        y.applyTanh()
        return y
    }
}
