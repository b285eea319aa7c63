import Foundation
import Tensor

// A native CLIP vision tower (inference only, dropout = identity), one Swift type per transformers module of
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/clip/modeling_clip.py
// (CLIPVisionEmbeddings, CLIPAttention, CLIPMLP, CLIPEncoderLayer, CLIPVisionModel — the vision transformer — and the
// `visual_projection` of CLIPModel / CLIPVisionModelWithProjection).
// Weights are read-only after loading, so one model can serve several threads; `forward` keeps its buffers in a
// per-call `CLIPVisionState`. Shapes below: B batch, C channels, S image size, P patch size, N = (S/P)² patches,
// L = N + 1 tokens, H hidden size, I intermediate size, E projection size, R = B·L rows.

/// A CLIP vision tower with its projection (what `CLIPModel.get_image_features` and
/// `CLIPVisionModelWithProjection` compute), loaded from a folder with `config.json` and `model.safetensors`.
///
/// ```swift
/// let model = try CLIPVisionModel(folder: url)
/// let processor = try CLIPImageProcessor(folder: url)        // preprocessor_config.json
/// let pixels = try processor([RGBImage(width: 320, height: 180, pixels: frame.pixels)])   // [B, 3, 224, 224]
/// let out = try model.forward(pixelValues: pixels)
/// out.imageEmbeds   // [B, 512], not L2-normalised;  out.pooled  // [B, 768]
/// ```
public final class CLIPVisionModel: @unchecked Sendable {
    /// The hyper-parameters from `config.json`.
    public let config: CLIPVisionConfig
    let embeddings: CLIPVisionEmbeddings    // vision_model.embeddings.*
    let preLayerNorm: CLIPLayerNorm         // vision_model.pre_layrnorm.* (sic)
    let layers: [CLIPEncoderLayer]          // vision_model.encoder.layers.{i}.*
    let postLayerNorm: CLIPLayerNorm        // vision_model.post_layernorm.*
    let visualProjection: CLIPWeight        // visual_projection.weight [E, H], no bias

    /// Key spellings accepted in the checkpoint: exactly transformers' (CLIP checkpoints have no legacy names).
    public static let keyRenames: [KeyRename] = []
    /// Checkpoint keys that are not part of the vision tower and are skipped: a `CLIPModel`'s text tower and
    /// projection, and its `logit_scale`. Integer tensors (`vision_model.embeddings.position_ids` in older files)
    /// are never counted as unused.
    public static let ignoredPrefixes = ["text_model.", "text_projection.", "logit_scale"]

    /// Loads `folder/config.json` and `folder/model.safetensors` strictly (a `CLIPModel` or a
    /// `CLIPVisionModelWithProjection` checkpoint: keys `vision_model.*` and `visual_projection.weight`).
    /// - Throws: `ModelError` for a missing folder or file, or a bad/unsupported config; `WeightsError` naming the
    ///   file and tensor for an unreadable or truncated safetensors file, a missing tensor, a shape that does not
    ///   match the config ("got [..], expected [..]"), a non-float dtype, or float tensors left unused.
    public convenience init(folder: URL) throws {
        let config = try CLIPVisionConfig.load(from: folder)
        let weightsURL = folder.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw ModelError.missingFile(path: weightsURL.path)
        }
        let store = try WeightStore(url: weightsURL, renames: Self.keyRenames, ignoring: Self.ignoredPrefixes)
        try self.init(config: config, weights: store)
    }

    /// Builds the model from an open weight store (keys as in `CLIPModel.state_dict()`), then checks that every
    /// float tensor outside `ignoredPrefixes` was used.
    public convenience init(config: CLIPVisionConfig, weights store: WeightStore) throws {
        try self.init(config: config, source: .store(store))
        try store.finish()
    }

    /// Builds the model from any weight source (a checkpoint, or random values for benchmarks).
    init(config: CLIPVisionConfig, source: CLIPWeightSource) throws {
        try config.validate(file: "config")
        self.config = config
        let vision = source.scope("vision_model.")
        embeddings = try CLIPVisionEmbeddings(vision.scope("embeddings."), config)
        preLayerNorm = try CLIPLayerNorm(vision.scope("pre_layrnorm."), config)
        layers = try (0..<config.numHiddenLayers).map {
            try CLIPEncoderLayer(vision.scope("encoder.layers.\($0)."), config)
        }
        postLayerNorm = try CLIPLayerNorm(vision.scope("post_layernorm."), config)
        visualProjection = try source.take("visual_projection.weight", [config.projectionDim, config.hiddenSize])
    }

    /// The tower's outputs: transformers' `BaseModelOutputWithPooling` plus the projected `image_embeds`.
    public struct Output: Sendable {
        /// The last encoder layer's output, `[B, L, H]` (not post-normalised, as in transformers).
        public var lastHiddenState: Tensor
        /// `post_layernorm(lastHiddenState[:, 0])`, the class token, `[B, H]` (transformers' `pooler_output`).
        public var pooled: Tensor
        /// `visual_projection(pooled)`, `[B, E]`: `get_image_features` / `image_embeds`, **not** L2-normalised
        /// (only `CLIPModel.forward` normalises, before its logits).
        public var imageEmbeds: Tensor
        /// With `outputHiddenStates`: the encoder's input (embeddings after `pre_layrnorm`) then every layer's
        /// output, `layers + 1` tensors of `[B, L, H]` (the last equals `lastHiddenState`); nil otherwise.
        public var hiddenStates: [Tensor]?
    }

    /// Runs the tower on a batch of preprocessed images (`CLIPImageProcessor`'s output).
    /// - Parameters:
    ///   - pixelValues: `[B, C, S, S]` with C = `numChannels` and S = `imageSize` (no position interpolation).
    ///   - outputHiddenStates: also return every layer's output.
    /// - Throws: `ModelError.invalidInput` for another shape or an empty batch.
    public func forward(pixelValues: Tensor, outputHiddenStates: Bool = false) throws -> Output {
        let c = config
        let expected = [c.numChannels, c.imageSize, c.imageSize]
        guard pixelValues.rank == 4, Array(pixelValues.shape.dropFirst()) == expected, pixelValues.shape[0] > 0 else {
            throw ModelError.invalidInput("pixel values have shape \(pixelValues.shape); expected [B, \(c.numChannels), "
                                          + "\(c.imageSize), \(c.imageSize)] with B ≥ 1")
        }
        let batch = pixelValues.shape[0], length = c.numPositions, hidden = c.hiddenSize
        let state = CLIPVisionState(config: c, batch: batch, workers: max(1, BLAS.threads))
        var lastHidden = Tensor(shape: [batch, length, hidden], repeating: 0)
        var pooled = Tensor(shape: [batch, hidden], repeating: 0)
        var hiddenStates: [Tensor]? = outputHiddenStates ? [] : nil
        pixelValues.withUnsafeBufferPointer { pixels in
            lastHidden.withUnsafeMutableBufferPointer { hb in
                let h = hb.baseAddress!
                func snapshot() {
                    hiddenStates?.append(Tensor(shape: [batch, length, hidden], Array(UnsafeBufferPointer(hb))))
                }
                embeddings(pixels.baseAddress!, batch: batch, into: h, state)
                preLayerNorm(h, stride: hidden, into: h, stride: hidden, rows: batch * length, workers: state.workers)
                snapshot()
                for layer in layers {
                    layer(h, state)
                    snapshot()
                }
                pooled.withUnsafeMutableBufferPointer { pb in
                    // post_layernorm on the class token of each image only.
                    postLayerNorm(h, stride: length * hidden, into: pb.baseAddress!, stride: hidden, rows: batch,
                                  workers: 1)
                }
            }
        }
        let imageEmbeds = linear(pooled, weight: visualProjection.tensor, bias: nil)
        return Output(lastHiddenState: lastHidden, pooled: pooled, imageEmbeds: imageEmbeds, hiddenStates: hiddenStates)
    }
}

/// The per-call buffers of a forward pass (llama2.c's `RunState`): allocated once per call, reused by every layer.
final class CLIPVisionState {
    let batch: Int, rows: Int, workers: Int
    let normed: UnsafeMutablePointer<Float>     // LayerNorm output, [R, H]
    let qkv: UnsafeMutablePointer<Float>        // packed q | k | v projections, [R, 3H]
    let context: UnsafeMutablePointer<Float>    // attention output, heads concatenated, [R, H]
    let wide: UnsafeMutablePointer<Float>       // MLP hidden [R, I]; the patch matrix [R, C·P·P] before layer 0
    let scores: UnsafeMutablePointer<Float>     // attention probabilities, [B · heads, L, L]
    private let raw: [UnsafeMutableRawPointer]

    init(config c: CLIPVisionConfig, batch: Int, workers: Int) {
        self.batch = batch
        self.workers = workers
        rows = batch * c.numPositions
        let sizes = [rows * c.hiddenSize, rows * 3 * c.hiddenSize, rows * c.hiddenSize,
                     rows * max(c.intermediateSize, c.numChannels * c.patchSize * c.patchSize),
                     batch * c.numAttentionHeads * c.numPositions * c.numPositions]
        raw = sizes.map { UnsafeMutableRawPointer.allocate(byteCount: max(1, $0) * 4, alignment: 64) }
        let floats = raw.map { $0.assumingMemoryBound(to: Float.self) }
        (normed, qkv, context, wide, scores) = (floats[0], floats[1], floats[2], floats[3], floats[4])
    }

    deinit { raw.forEach { $0.deallocate() } }
}

/// A read-only float weight and its base address, taken once at load. The tensor (a view of the mapped
/// checkpoint, or owned storage) is held here, so the address stays valid for as long as this value lives;
/// nothing is ever written through it.
struct CLIPWeight {
    let tensor: Tensor
    let pointer: UnsafePointer<Float>

    init(_ tensor: Tensor) {
        self.tensor = tensor
        pointer = tensor.withUnsafeBufferPointer { $0.baseAddress! }
    }
}

/// Where the layers take their weights from, by full name and expected shape: a strict `WeightStore`, or a
/// generator of random values (for `CLIPBenchmark`, which needs no file).
struct CLIPWeightSource {
    let prefix: String
    let fetch: (String, [Int]) throws -> Tensor

    func take(_ name: String, _ shape: [Int]) throws -> CLIPWeight { CLIPWeight(try fetch(prefix + name, shape)) }
    func scope(_ more: String) -> CLIPWeightSource { CLIPWeightSource(prefix: prefix + more, fetch: fetch) }

    static func store(_ store: WeightStore) -> CLIPWeightSource {
        CLIPWeightSource(prefix: "") { try store.take($0, shape: $1) }
    }
}

/// `nn.LayerNorm(H, eps=layer_norm_eps)`: `pre_layrnorm`, `post_layernorm`, `layer_norm1`, `layer_norm2`.
struct CLIPLayerNorm {
    let weight: CLIPWeight, bias: CLIPWeight   // weight [H], bias [H]
    let eps: Float

    init(_ w: CLIPWeightSource, _ c: CLIPVisionConfig) throws {
        weight = try w.take("weight", [c.hiddenSize])
        bias = try w.take("bias", [c.hiddenSize])
        eps = c.layerNormEps
    }

    func callAsFunction(_ x: UnsafePointer<Float>, stride: Int, into y: UnsafeMutablePointer<Float>, stride yStride: Int,
                        rows: Int, workers: Int) {
        CLIPKernels.layerNorm(x, srcStride: stride, y, dstStride: yStride, rows: rows, dim: weight.tensor.count,
                              gamma: weight.pointer, beta: bias.pointer, eps: eps, workers: workers)
    }
}

/// transformers `CLIPVisionEmbeddings`: `[class_embedding; Conv2d(C→H, k=P, s=P, no bias)(x) flattened] + position`.
/// The convolution is one GEMM over the image's non-overlapping patches (im2col with (c, y, x) order, the weight's
/// own layout, so `[H, C, P, P]` is used as `[H, C·P·P]` without a copy).
struct CLIPVisionEmbeddings {
    let classEmbedding: CLIPWeight      // class_embedding [H]
    let patchEmbedding: CLIPWeight      // patch_embedding.weight [H, C, P, P]
    let positionEmbedding: CLIPWeight   // position_embedding.weight [L, H]
    let channels: Int, imageSize: Int, patch: Int, grid: Int, hidden: Int

    init(_ w: CLIPWeightSource, _ c: CLIPVisionConfig) throws {
        classEmbedding = try w.take("class_embedding", [c.hiddenSize])
        patchEmbedding = try w.take("patch_embedding.weight", [c.hiddenSize, c.numChannels, c.patchSize, c.patchSize])
        positionEmbedding = try w.take("position_embedding.weight", [c.numPositions, c.hiddenSize])
        (channels, imageSize, patch, grid, hidden) = (c.numChannels, c.imageSize, c.patchSize, c.gridSize, c.hiddenSize)
    }

    /// Writes the `[B, L, H]` embeddings into `h`.
    /// - Parameter pixels: `[B, C, S, S]`.
    func callAsFunction(_ pixels: UnsafePointer<Float>, batch: Int, into h: UnsafeMutablePointer<Float>,
                        _ s: CLIPVisionState) {
        let length = grid * grid + 1, k = channels * patch * patch
        let patches = s.wide   // [R, C·P·P]: per image a zero row (the class token's place), then its N patches
        CLIPKernels.parallelFor(batch, workers: s.workers) { images in
            for b in images {
                let image = pixels + b * channels * imageSize * imageSize
                let out = h + b * length * hidden
                // Position embeddings, plus the class embedding on the class token; the GEMM adds the patches.
                out.update(from: positionEmbedding.pointer, count: length * hidden)
                CLIPKernels.addRow(out, rows: 1, dim: hidden, classEmbedding.pointer)
                let rows = patches + b * length * k
                rows.update(repeating: 0, count: k)
                for gy in 0..<grid {
                    for gx in 0..<grid {
                        var dst = rows + (1 + gy * grid + gx) * k
                        for ch in 0..<channels {
                            for y in 0..<patch {
                                dst.update(from: image + (ch * imageSize + gy * patch + y) * imageSize + gx * patch,
                                           count: patch)
                                dst += patch
                            }
                        }
                    }
                }
            }
        }
        BLAS.weightProduct(m: batch * length, k: k, a: patches, lda: k, weight: patchEmbedding.tensor,
                           accumulate: true, c: h, ldc: hidden)
    }
}

/// transformers `CLIPAttention` (eager and SDPA agree; no mask for vision): per head
/// `softmax(q·kᵀ · D^−½) · v`, then `out_proj`. q, k and v are merged at load into one `[3H, H]` weight so one
/// GEMM makes all three; `out_proj` accumulates straight into the residual stream.
struct CLIPAttention {
    let qkvWeight: CLIPWeight   // concat(q_proj.weight, k_proj.weight, v_proj.weight) along rows, [3H, H]
    let qkvBias: CLIPWeight     // concat(q_proj.bias, k_proj.bias, v_proj.bias), [3H]
    let outWeight: CLIPWeight   // out_proj.weight [H, H]
    let outBias: CLIPWeight     // out_proj.bias [H]
    let hidden: Int, heads: Int, headDim: Int, length: Int
    let scale: Float

    init(_ w: CLIPWeightSource, _ c: CLIPVisionConfig) throws {
        let h = c.hiddenSize
        let names = ["q_proj", "k_proj", "v_proj"]
        let weights = try names.map { try w.take("\($0).weight", [h, h]).tensor }
        let biases = try names.map { try w.take("\($0).bias", [h]).tensor }
        qkvWeight = CLIPWeight(Tensor.stackedWeights(weights))
        qkvBias = CLIPWeight(Tensor.concatenate(biases, axis: 0))
        outWeight = try w.take("out_proj.weight", [h, h])
        outBias = try w.take("out_proj.bias", [h])
        (hidden, heads, headDim, length) = (h, c.numAttentionHeads, c.headDim, c.numPositions)
        scale = 1 / Float(c.headDim).squareRoot()   // head_dim ** -0.5
    }

    /// `residual += out_proj(attention(x))`.
    /// - Parameters: x `[R, H]` (the LayerNorm output); residual `[R, H]`.
    func callAsFunction(_ x: UnsafePointer<Float>, residual: UnsafeMutablePointer<Float>, _ s: CLIPVisionState) {
        let rows = s.rows, width = 3 * hidden
        // qkv = bias, then += x·Wᵀ (accumulating spares a separate zeroing pass over C).
        CLIPKernels.fillRows(s.qkv, rows: rows, dim: width, qkvBias.pointer, workers: s.workers)
        BLAS.weightProduct(m: rows, k: hidden, a: x, lda: hidden, weight: qkvWeight.tensor, accumulate: true,
                           c: s.qkv, ldc: width)
        // Per (image, head): scores = scale·q·kᵀ [L, L], softmax by row, context = scores·v. Small GEMMs, which
        // OpenBLAS runs on the calling thread, so the pairs are split across threads here.
        let (L, D) = (length, headDim)
        CLIPKernels.parallelFor(s.batch * heads, workers: s.workers) { pairs in
            for pair in pairs {
                let b = pair / heads, head = pair % heads
                let q = UnsafePointer(s.qkv + b * L * width + head * D)
                let scores = s.scores + pair * L * L
                BLAS.sgemm(transA: false, transB: true, m: L, n: L, k: D, alpha: scale, a: q, lda: width,
                           b: q + hidden, ldb: width, beta: 0, c: scores, ldc: L)
                CLIPKernels.softmaxRows(scores, rows: L, L)
                BLAS.sgemm(transA: false, transB: false, m: L, n: D, k: L, a: scores, lda: L, b: q + 2 * hidden,
                           ldb: width, beta: 0, c: s.context + b * L * hidden + head * D, ldc: hidden)
            }
        }
        CLIPKernels.addRow(residual, rows: rows, dim: hidden, outBias.pointer)
        BLAS.weightProduct(m: rows, k: hidden, a: s.context, lda: hidden, weight: outWeight.tensor,
                           accumulate: true, c: residual, ldc: hidden)
    }
}

/// transformers `CLIPMLP`: `fc2(act(fc1(x)))` with `act = ACT2FN[hidden_act]` (quick_gelu for ViT-B/32); `fc2`
/// accumulates straight into the residual stream.
struct CLIPMLP {
    let fc1Weight: CLIPWeight, fc1Bias: CLIPWeight   // fc1.weight [I, H], fc1.bias [I]
    let fc2Weight: CLIPWeight, fc2Bias: CLIPWeight   // fc2.weight [H, I], fc2.bias [H]
    let activation: CLIPKernels.Activation
    let hidden: Int, intermediate: Int

    init(_ w: CLIPWeightSource, _ c: CLIPVisionConfig) throws {
        fc1Weight = try w.take("fc1.weight", [c.intermediateSize, c.hiddenSize])
        fc1Bias = try w.take("fc1.bias", [c.intermediateSize])
        fc2Weight = try w.take("fc2.weight", [c.hiddenSize, c.intermediateSize])
        fc2Bias = try w.take("fc2.bias", [c.hiddenSize])
        guard let activation = CLIPKernels.Activation(c.hiddenAct) else {   // validate() has checked it
            throw ModelError.unsupportedConfig(file: "config", key: "hidden_act", value: c.hiddenAct,
                                               supported: CLIPVisionConfig.supportedActivations.joined(separator: ", "))
        }
        self.activation = activation
        (hidden, intermediate) = (c.hiddenSize, c.intermediateSize)
    }

    /// `residual += fc2(act(fc1(x)))`.
    /// - Parameters: x `[R, H]` (the LayerNorm output); residual `[R, H]`.
    func callAsFunction(_ x: UnsafePointer<Float>, residual: UnsafeMutablePointer<Float>, _ s: CLIPVisionState) {
        let rows = s.rows, m = s.wide
        BLAS.weightProduct(m: rows, k: hidden, a: x, lda: hidden, weight: fc1Weight.tensor, accumulate: false,
                           c: m, ldc: intermediate)
        CLIPKernels.biasActivation(m, rows: rows, dim: intermediate, bias: fc1Bias.pointer, activation,
                                   workers: s.workers)
        CLIPKernels.addRow(residual, rows: rows, dim: hidden, fc2Bias.pointer)
        BLAS.weightProduct(m: rows, k: intermediate, a: m, lda: intermediate, weight: fc2Weight.tensor,
                           accumulate: true, c: residual, ldc: hidden)
    }
}

/// transformers `CLIPEncoderLayer` (pre-LN): `h = h + attn(LN1(h))`, then `h = h + mlp(LN2(h))`.
struct CLIPEncoderLayer {
    let layerNorm1: CLIPLayerNorm   // layer_norm1.*
    let selfAttention: CLIPAttention   // self_attn.*
    let layerNorm2: CLIPLayerNorm   // layer_norm2.*
    let mlp: CLIPMLP                // mlp.*

    init(_ w: CLIPWeightSource, _ c: CLIPVisionConfig) throws {
        selfAttention = try CLIPAttention(w.scope("self_attn."), c)
        layerNorm1 = try CLIPLayerNorm(w.scope("layer_norm1."), c)
        mlp = try CLIPMLP(w.scope("mlp."), c)
        layerNorm2 = try CLIPLayerNorm(w.scope("layer_norm2."), c)
    }

    /// Updates the residual stream `h` `[R, H]` in place.
    func callAsFunction(_ h: UnsafeMutablePointer<Float>, _ s: CLIPVisionState) {
        let hidden = selfAttention.hidden
        layerNorm1(h, stride: hidden, into: s.normed, stride: hidden, rows: s.rows, workers: s.workers)
        selfAttention(s.normed, residual: h, s)
        layerNorm2(h, stride: hidden, into: s.normed, stride: hidden, rows: s.rows, workers: s.workers)
        mlp(s.normed, residual: h, s)
    }
}
