import Foundation
import Tensor

// The transformer half, following
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/hubert/modeling_hubert.py
// (HubertPositionalConvEmbedding + HubertSamePadLayer, HubertAttention, HubertFeedForward, HubertEncoderLayer,
// HubertEncoder: the post-LN variant of hubert-base and wav2vec2-base). Inference only: dropout and LayerDrop are
// the identity. Shapes: B batch, T frames, H hidden size, I intermediate size, G positional conv groups,
// K positional conv kernel.

/// transformers `HubertPositionalConvEmbedding` with `HubertSamePadLayer`:
/// `GELU(Conv1d(H → H, K, padding K/2, groups G, weight norm over dim 2)(x))`, dropping the last output frame
/// when K is even, so the output has T frames again (`HubertKernels.positionalConv` computes just those).
struct HubertPositionalConvEmbedding {
    let weights: PositionalConvWeights   // conv.weight = g · v / ‖v‖ (norm per tap), [H, H/G, K], in tap blocks
    let bias: Tensor                     // conv.bias [H]

    /// Takes `conv.weight_g` [1, 1, K] and `conv.weight_v` [H, H/G, K] (or their
    /// `conv.parametrizations.weight.original0/1` spellings, through the store's rename rules) and folds them
    /// with `weightNorm(g:v:dim: 2)`; a checkpoint with the folded `conv.weight` [H, H/G, K] is accepted too.
    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig) throws {
        let h = c.hiddenSize, g = c.numConvPosEmbeddingGroups, k = c.numConvPosEmbeddings
        let torchWeight: Tensor
        if let folded = try w.takeIfPresent("conv.weight", shape: [h, h / g, k]) {
            torchWeight = folded
        } else {
            let magnitude = try w.take("conv.weight_g", shape: [1, 1, k])
            let direction = try w.take("conv.weight_v", shape: [h, h / g, k])
            torchWeight = weightNorm(g: magnitude, v: direction, dim: 2)
        }
        weights = PositionalConvWeights(torchWeight: torchWeight, groups: g)
        bias = try w.take("conv.bias", shape: [h])
    }

    /// The encoder's `hidden_states + position_embeddings`.
    /// - Parameter x: `[B, T, H]`. - Returns: `x + GELU(conv(x))`, `[B, T, H]`.
    func adding(to x: Tensor) -> Tensor {
        let (batch, frames, h) = (x.shape[0], x.shape[1], x.shape[2])
        var out = x
        out.withUnsafeMutableBufferPointer { o in
            for b in 0..<batch {
                let row = batch == 1 ? x.reshaped([frames, h]) : x.slice(axis: 0, b..<(b + 1)).reshaped([frames, h])
                let conv = HubertKernels.positionalConv(row, weights: weights, bias: bias)
                conv.withUnsafeBufferPointer { c in
                    HubertKernels.addGELU(o.baseAddress! + b * frames * h, c.baseAddress!, count: frames * h)
                }
            }
        }
        return out
    }
}

/// transformers `HubertAttention` (BART-style, no mask: hubert-base is run without an attention mask):
/// per head `softmax(q·kᵀ · D^−½) · v`, heads concatenated, then `out_proj`. The q, k, v projections are merged
/// at load into one `[3H, H]` weight, so one GEMM makes all three.
struct HubertAttention {
    let qkv: Tensor, qkvBias: Tensor           // concat(q_proj, k_proj, v_proj).weight [3H, H], .bias [3H]
    let outProj: Tensor, outProjBias: Tensor   // out_proj.weight [H, H], out_proj.bias [H]
    let heads: Int
    let scale: Float

    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig) throws {
        let h = c.hiddenSize
        let weights = try ["q_proj", "k_proj", "v_proj"].map { try w.take("\($0).weight", shape: [h, h]) }
        let biases = try ["q_proj", "k_proj", "v_proj"].map { try w.take("\($0).bias", shape: [h]) }
        qkv = Tensor.stackedWeights(weights)
        qkvBias = Tensor.concatenate(biases, axis: 0)
        outProj = try w.take("out_proj.weight", shape: [h, h])
        outProjBias = try w.take("out_proj.bias", shape: [h])
        heads = c.numAttentionHeads
        scale = 1 / Float(c.headDim).squareRoot()
    }

    /// - Parameter x: `[B, T, H]`. - Returns: `[B, T, H]` (after `out_proj`).
    func callAsFunction(_ x: Tensor) -> Tensor {
        let projected = linear(x, weight: qkv, bias: qkvBias)   // [B, T, 3H]
        let context = HubertKernels.selfAttention(projected, heads: heads, scale: scale)
        return linear(context, weight: outProj, bias: outProjBias)
    }
}

/// transformers `HubertFeedForward`: `output_dense(GELU(intermediate_dense(x)))`.
struct HubertFeedForward {
    let intermediate: Tensor, intermediateBias: Tensor   // intermediate_dense.weight [I, H], .bias [I]
    let output: Tensor, outputBias: Tensor               // output_dense.weight [H, I], .bias [H]

    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig) throws {
        intermediate = try w.take("intermediate_dense.weight", shape: [c.intermediateSize, c.hiddenSize])
        intermediateBias = try w.take("intermediate_dense.bias", shape: [c.intermediateSize])
        output = try w.take("output_dense.weight", shape: [c.hiddenSize, c.intermediateSize])
        outputBias = try w.take("output_dense.bias", shape: [c.hiddenSize])
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = linear(x, weight: intermediate, bias: intermediateBias)
        y.withUnsafeMutableBufferPointer { HubertKernels.applyGELU($0.baseAddress!, count: $0.count) }
        return linear(y, weight: output, bias: outputBias)
    }
}

/// transformers `HubertEncoderLayer` (post-LN): `A = LayerNorm(x + Attn(x))`, `x' = LayerNorm_final(A + FFN(A))`.
struct HubertEncoderLayer {
    let attention: HubertAttention                                 // attention.*
    let layerNormWeight: Tensor, layerNormBias: Tensor             // layer_norm.{weight,bias} [H]
    let feedForward: HubertFeedForward                             // feed_forward.*
    let finalLayerNormWeight: Tensor, finalLayerNormBias: Tensor   // final_layer_norm.{weight,bias} [H]
    let eps: Float

    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig) throws {
        attention = try HubertAttention(w.scope("attention."), c)
        layerNormWeight = try w.take("layer_norm.weight", shape: [c.hiddenSize])
        layerNormBias = try w.take("layer_norm.bias", shape: [c.hiddenSize])
        feedForward = try HubertFeedForward(w.scope("feed_forward."), c)
        finalLayerNormWeight = try w.take("final_layer_norm.weight", shape: [c.hiddenSize])
        finalLayerNormBias = try w.take("final_layer_norm.bias", shape: [c.hiddenSize])
        eps = c.layerNormEps
    }

    /// - Parameter x: `[B, T, H]`. - Returns: `[B, T, H]`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        var a = attention(x)
        a.add(x)
        a.applyLayerNorm(weight: layerNormWeight, bias: layerNormBias, eps: eps)
        var y = feedForward(a)
        y.add(a)
        y.applyLayerNorm(weight: finalLayerNormWeight, bias: finalLayerNormBias, eps: eps)
        return y
    }
}

/// transformers `HubertEncoder` (post-LN): `x = LayerNorm(x + PosConv(x))`, then the layers.
struct HubertEncoder {
    let positionalConv: HubertPositionalConvEmbedding    // pos_conv_embed.*
    let layerNormWeight: Tensor, layerNormBias: Tensor   // layer_norm.{weight,bias} [H]
    let layers: [HubertEncoderLayer]                     // layers.{0..n-1}.*
    let eps: Float

    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig) throws {
        positionalConv = try HubertPositionalConvEmbedding(w.scope("pos_conv_embed."), c)
        layerNormWeight = try w.take("layer_norm.weight", shape: [c.hiddenSize])
        layerNormBias = try w.take("layer_norm.bias", shape: [c.hiddenSize])
        layers = try (0..<c.numHiddenLayers).map { try HubertEncoderLayer(w.scope("layers.\($0)."), c) }
        eps = c.layerNormEps
    }

    /// - Parameters:
    ///   - x: the projected features, `[B, T, H]`.
    ///   - hiddenStates: when non-nil, receives transformers' `hidden_states`: the input of layer 0 (after the
    ///     positional embedding and `layer_norm`), then every layer's output.
    /// - Returns: the last layer's output, `[B, T, H]`.
    func callAsFunction(_ x: Tensor, hiddenStates: inout [Tensor]?) -> Tensor {
        var h = positionalConv.adding(to: x)
        h.applyLayerNorm(weight: layerNormWeight, bias: layerNormBias, eps: eps)
        hiddenStates?.append(h)
        for layer in layers {
            h = layer(h)
            hiddenStates?.append(h)
        }
        return h
    }
}
