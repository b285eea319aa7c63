import Foundation
import Tensor

// The convolutional front end, following
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/hubert/modeling_hubert.py
// (HubertGroupNormConvLayer, HubertLayerNormConvLayer, HubertNoLayerNormConvLayer, HubertFeatureEncoder,
// HubertFeatureProjection); wav2vec2's classes in models/wav2vec2/modeling_wav2vec2.py are the same layers.
// Channels-last throughout: sequences are [time, channels] rows. Shapes: L samples or frames, C channels,
// K kernel, H hidden size.

/// One conv layer of the feature encoder: `Conv1d(C_in → C_out, K, stride, bias: conv_bias)`, then the layer's
/// norm, then GELU. transformers `HubertGroupNormConvLayer` (GroupNorm with one group per channel, i.e. each
/// channel normalised over time, eps 1e-5), `HubertLayerNormConvLayer` (LayerNorm over channels per time step,
/// eps 1e-5: PyTorch's default, not `layer_norm_eps`), or `HubertNoLayerNormConvLayer`.
struct HubertConvLayer {
    enum Norm {
        case none
        case group(weight: Tensor, bias: Tensor)   // layer_norm.{weight,bias} [C_out] (an nn.GroupNorm)
        case layer(weight: Tensor, bias: Tensor)   // layer_norm.{weight,bias} [C_out] (an nn.LayerNorm)
    }

    let weight: Tensor   // conv.weight [C_out, C_in, K] in the file, kept as [C_out, K, C_in]
    let bias: Tensor?    // conv.bias [C_out] when conv_bias
    let norm: Norm
    let stride: Int
    /// torch.nn.GroupNorm's and LayerNorm's default eps (transformers does not pass one here).
    static let eps: Float = 1e-5

    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig, index: Int) throws {
        let cIn = index == 0 ? 1 : c.convDim[index - 1], cOut = c.convDim[index], k = c.convKernel[index]
        weight = channelsLastConv1dWeight(try w.take("conv.weight", shape: [cOut, cIn, k]))
        bias = c.convBias ? try w.take("conv.bias", shape: [cOut]) : nil
        stride = c.convStride[index]
        if c.featExtractNorm == "layer" {
            norm = .layer(weight: try w.take("layer_norm.weight", shape: [cOut]),
                          bias: try w.take("layer_norm.bias", shape: [cOut]))
        } else if index == 0 {
            norm = .group(weight: try w.take("layer_norm.weight", shape: [cOut]),
                          bias: try w.take("layer_norm.bias", shape: [cOut]))
        } else {
            norm = .none
        }
    }

    /// The GroupNorm of the first layer folded into its conv for one waveform (nil for other layers and norms).
    func folded(for samples: Tensor) -> FoldedFirstConv? {
        guard case .group(let g, let b) = norm, weight.shape[2] == 1 else { return nil }
        return HubertKernels.foldFirstGroupNorm(samples, weight: weight.reshaped([weight.shape[0], weight.shape[1]]),
                                                bias: bias, gamma: g, beta: b, eps: Self.eps, stride: stride)
    }

    /// - Parameters:
    ///   - x: `[L, C_in]`.
    ///   - folded: for the first layer with GroupNorm, `folded(for:)` of the whole waveform that `x` is a stretch
    ///     of (the GroupNorm's statistics span the whole waveform, so they cannot come from `x` alone).
    /// - Returns: `[⌊(L − K) / s⌋ + 1, C_out]`.
    func callAsFunction(_ x: Tensor, folded: FoldedFirstConv? = nil) -> Tensor {
        if let folded {
            return x.withUnsafeBufferPointer { HubertKernels.firstConvGELU($0.baseAddress!, count: x.count, folded) }
        }
        var y = HubertKernels.stridedConv(x, weight: weight, bias: bias, stride: stride)
        switch norm {
        case .none:
            break
        case .group:
            preconditionFailure("the GroupNorm layer needs the statistics of the whole waveform: pass `folded`")
        case .layer(let g, let b):
            y.applyLayerNorm(weight: g, bias: b, eps: Self.eps)
        }
        y.withUnsafeMutableBufferPointer { HubertKernels.applyGELU($0.baseAddress!, count: $0.count) }
        return y
    }
}

/// transformers `HubertFeatureEncoder`: the conv layers in turn, raw samples to `conv_dim[-1]` features at one
/// frame per `samplesPerFrame` samples.
///
/// Runs in stretches of `chunkFrames` output frames: the convs only look at their receptive field (frame i at
/// samples `i·S ..< i·S + R`, S = 320 and R = 400 for the base models), and the one statistic that spans the
/// waveform, the first layer's GroupNorm, is folded in beforehand from the whole waveform
/// (`HubertKernels.foldFirstGroupNorm`). So the result is the full-length computation's, while the intermediate
/// activations stay at a few MB (hubert-base: 8 MB for the first layer's output per 64 frames, instead of 26 MB
/// per 4 s of audio) and in cache.
struct HubertFeatureEncoder {
    let layers: [HubertConvLayer]   // conv_layers.{0..n-1}.*
    let samplesPerFrame: Int
    let receptiveField: Int
    /// Output frames per stretch (a tuning knob; tests vary it).
    nonisolated(unsafe) static var chunkFrames = 64

    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig) throws {
        layers = try (0..<c.convDim.count).map { try HubertConvLayer(w.scope("conv_layers.\($0)."), c, index: $0) }
        samplesPerFrame = c.samplesPerFrame
        receptiveField = c.receptiveField
    }

    /// - Parameter samples: `[N]` (at least one receptive field). - Returns: `[T, C]`, `T = frameCount(N)`.
    func callAsFunction(_ samples: Tensor) -> Tensor {
        let n = samples.count
        let frames = (n - receptiveField) / samplesPerFrame + 1
        let folded = layers[0].folded(for: samples)
        let channels = layers.last!.weight.shape[0]
        let chunk = Swift.max(1, Self.chunkFrames)
        var features = Tensor(shape: [frames, channels], repeating: 0)
        features.withUnsafeMutableBufferPointer { out in
            samples.withUnsafeBufferPointer { x in
                var f0 = 0
                while f0 < frames {
                    let f1 = Swift.min(frames, f0 + chunk)
                    let start = f0 * samplesPerFrame, end = (f1 - 1) * samplesPerFrame + receptiveField
                    var h = Tensor(shape: [end - start, 1], Array(x[start..<end]))
                    for (i, layer) in layers.enumerated() { h = layer(h, folded: i == 0 ? folded : nil) }
                    precondition(h.shape == [f1 - f0, channels], "chunk \(f0)..<\(f1) gave \(h.shape)")
                    h.withUnsafeBufferPointer {
                        (out.baseAddress! + f0 * channels).update(from: $0.baseAddress!, count: $0.count)
                    }
                    f0 = f1
                }
            }
        }
        return features
    }
}

/// transformers `HubertFeatureProjection` / `Wav2Vec2FeatureProjection`: `Linear(LayerNorm(x))` (the LayerNorm,
/// eps `layer_norm_eps`, is skipped when HuBERT's `feat_proj_layer_norm` is false). Dropout is the identity.
struct HubertFeatureProjection {
    let layerNormWeight: Tensor?, layerNormBias: Tensor?   // layer_norm.{weight,bias} [C]
    let projection: Tensor, projectionBias: Tensor         // projection.weight [H, C], projection.bias [H]
    let eps: Float

    init<W: HubertWeightSource>(_ w: W, _ c: HubertConfig) throws {
        let features = c.extractFeatureSize
        if c.featProjLayerNorm {
            layerNormWeight = try w.take("layer_norm.weight", shape: [features])
            layerNormBias = try w.take("layer_norm.bias", shape: [features])
        } else {
            layerNormWeight = nil
            layerNormBias = nil
        }
        projection = try w.take("projection.weight", shape: [c.hiddenSize, features])
        projectionBias = try w.take("projection.bias", shape: [c.hiddenSize])
        eps = c.layerNormEps
    }

    /// - Parameter x: `[..., C]`. - Returns: `[..., H]`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x
        if let g = layerNormWeight, let b = layerNormBias { y.applyLayerNorm(weight: g, bias: b, eps: eps) }
        return linear(y, weight: projection, bias: projectionBias)
    }
}
