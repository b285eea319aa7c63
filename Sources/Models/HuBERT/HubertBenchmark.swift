import Foundation
import Tensor

/// Timing hooks for the CLI's `bench` command: our HuBERT on random audio, for comparison with
/// `Tools/bench/torch_hubert.py` (transformers' `HubertModel(HubertConfig())`, same thread count).
///
/// ```swift
/// BLAS.setThreads(2)
/// let r = try HubertBenchmark.run(seconds: 4, repeats: 5)      // hubert-base's shape, random weights, no file
/// let sgemm = SgemmBenchmark.gflops(m: 1024, n: 1024, k: 1024)
/// print(r.median, r.gflops, 100 * r.gflops / sgemm)            // s per call, GFLOP/s, % of the sgemm rate
/// ```
public enum HubertBenchmark {
    /// One benchmark run.
    public struct Result: Sendable {
        /// Seconds of audio per call.
        public var audioSeconds: Double
        /// Wall time of each timed call, in seconds, in call order.
        public var times: [Double]
        /// Output frames per call.
        public var frames: Int
        /// Floating-point operations per call (`flops(config:samples:)`).
        public var flops: Double

        /// The median of `times`.
        public var median: Double {
            let sorted = times.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2]
                                         : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        /// `flops / median / 1e9`.
        public var gflops: Double { flops / median / 1e9 }
    }

    /// Builds a model of `config`'s shape (default: hubert-base) with `HubertModel.randomWeights` and times it
    /// with `time(model:seconds:repeats:)`. Building the model (≈ 0.5 s and 380 MB for hubert-base) is not timed.
    public static func run(seconds: Double = 4, repeats: Int = 5,
                           config: HubertConfig = HubertConfig()) throws -> Result {
        time(model: try HubertModel.randomWeights(config: config), seconds: seconds, repeats: repeats)
    }

    /// Times `model.forward` on `seconds` of 16 kHz noise (batch 1, no hidden states): one untimed warm-up call,
    /// then `repeats` timed calls. Uses the current `BLAS` thread count for the GEMMs and every core for the rest.
    public static func time(model: HubertModel, seconds: Double = 4, repeats: Int = 5) -> Result {
        let samples = Int((seconds * 16000).rounded())
        var state: UInt64 = 0x853c_49e6_748f_ea9b
        let audio = (0..<samples).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)   // uniform in [-1, 1)
        }
        let input = Tensor(shape: [samples], HubertFeatureExtractor.normalize(audio))
        var frames = 0
        func call() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            let out = try! model.forward(input)
            let end = DispatchTime.now().uptimeNanoseconds
            frames = out.lastHiddenState.shape[1]
            return Double(end - start) / 1e9
        }
        _ = call()
        let times = (0..<Swift.max(1, repeats)).map { _ in call() }
        return Result(audioSeconds: seconds, times: times, frames: frames,
                      flops: flops(config: model.config, samples: samples))
    }

    /// Multiply-add work of one forward pass (2 flops per multiply-add) over `samples` samples: the conv stack,
    /// feature projection, positional conv, and per layer the q/k/v/out projections, attention scores and
    /// context, and the feed-forward. Norms and activations are not counted. hubert-base on 4 s: ≈ 57 GFLOP.
    public static func flops(config c: HubertConfig, samples: Int) -> Double {
        var total = 0.0
        var length = samples, channels = 1
        for (i, (k, s)) in zip(c.convKernel, c.convStride).enumerated() {
            length = (length - k) / s + 1
            total += 2 * Double(length) * Double(c.convDim[i]) * Double(channels * k)
            channels = c.convDim[i]
        }
        let t = Double(length), h = Double(c.hiddenSize)
        total += 2 * t * Double(channels) * h                                                 // projection
        total += 2 * t * h * (h / Double(c.numConvPosEmbeddingGroups)) * Double(c.numConvPosEmbeddings)
        let perLayer = 2 * t * h * h * 4 + 2 * 2 * t * t * h + 2 * 2 * t * h * Double(c.intermediateSize)
        return total + perLayer * Double(c.numHiddenLayers)
    }
}
