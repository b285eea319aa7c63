import Foundation
import Tensor

/// Timing hooks for the CLIP vision tower (the CLI's `bench` command; `Tools/bench/torch_clip.py` is the PyTorch
/// side): a model with random weights in the ViT-B/32 shape, no checkpoint needed.
///
/// ```swift
/// let r = CLIPBenchmark.timeForward(batch: 8, threads: 2, repeats: 10)
/// print(r.medianSeconds, r.gflops)       // compare with SgemmBenchmark.gflops(m:n:k:) in the same run
/// ```
public enum CLIPBenchmark {
    /// A model of `config`'s shape (default ViT-B/32, 88M parameters) with random weights: linear and embedding
    /// weights uniform with standard deviation 0.02, LayerNorm weights near 1, biases near 0. Deterministic in
    /// `seed`.
    public static func randomModel(config: CLIPVisionConfig = CLIPVisionConfig(), seed: UInt64 = 0) throws -> CLIPVisionModel {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func next() -> Float {   // SplitMix64 → uniform in [−1, 1)
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 23) - 1
        }
        let source = CLIPWeightSource(prefix: "") { name, shape in
            let count = shape.reduce(1, *)
            let isNorm = name.contains("layer_norm") || name.contains("layrnorm")
            let (center, spread): (Float, Float) = isNorm
                ? (name.hasSuffix(".weight") ? 1 : 0, 0.1)
                : (0, name.hasSuffix(".bias") ? 0.02 : 0.02 * Float(3).squareRoot())
            var values = [Float](repeating: 0, count: count)
            for i in 0..<count { values[i] = center + spread * next() }
            return Tensor(shape: shape, values)
        }
        return try CLIPVisionModel(config: config, source: source)
    }

    /// Multiply-adds ×2 of one forward pass on `batch` images: the GEMMs (patch embedding, q/k/v, attention,
    /// out_proj, MLP, projection); the row-wise passes are not counted.
    public static func flops(config c: CLIPVisionConfig = CLIPVisionConfig(), batch: Int) -> Double {
        let (b, l, h, i) = (Double(batch), Double(c.numPositions), Double(c.hiddenSize), Double(c.intermediateSize))
        let patches = b * Double(c.numPatches) * h * Double(c.numChannels * c.patchSize * c.patchSize)
        let perLayer = b * l * h * (3 * h + h + 2 * i) + b * 2 * l * l * h
        return 2 * (patches + Double(c.numHiddenLayers) * perLayer + b * h * Double(c.projectionDim))
    }

    /// Timings of `forward` on one batch.
    public struct Result: Sendable {
        /// Seconds per call, one per repeat.
        public var seconds: [Double]
        /// The median of `seconds`.
        public var medianSeconds: Double { seconds.sorted()[seconds.count / 2] }
        /// `flops` over the median time, in GFLOP/s.
        public var gflops: Double
        public var batch: Int
        public var threads: Int
    }

    /// Times `model.forward` on `batch` random images (`[batch, C, S, S]`, values in [−2, 2) like normalised
    /// pixels): one untimed warm-up call, then `repeats` timed calls, with OpenBLAS set to `threads` threads (the
    /// row-wise passes use as many). Preprocessing is not timed.
    /// - Parameter model: the model to time; a `randomModel()` (ViT-B/32) when nil.
    public static func timeForward(model: CLIPVisionModel? = nil, batch: Int, threads: Int, repeats: Int) throws -> Result {
        BLAS.setThreads(threads)
        let model = try model ?? randomModel()
        let c = model.config
        let count = batch * c.numChannels * c.imageSize * c.imageSize
        var pixels = [Float](repeating: 0, count: count)
        for i in 0..<count { pixels[i] = Float((i &* 2_654_435_761) % 4001) / 1000 - 2 }
        let input = Tensor(shape: [batch, c.numChannels, c.imageSize, c.imageSize], pixels)
        _ = try model.forward(pixelValues: input)
        var seconds: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            let out = try model.forward(pixelValues: input)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            precondition(out.imageEmbeds.shape == [batch, c.projectionDim])
        }
        var result = Result(seconds: seconds, gflops: 0, batch: batch, threads: BLAS.threads)
        result.gflops = flops(config: c, batch: batch) / result.medianSeconds / 1e9
        return result
    }
}
