import Foundation
import Tensor

/// Where the HuBERT modules take their tensors from: a checkpoint (`WeightScope`, strict) or generated weights
/// (`RandomHubertWeights`, for benchmarks that need hubert-base's shape but no 360 MB file).
protocol HubertWeightSource {
    /// The tensor `name` (relative to this source's prefix) with exactly `shape`.
    func take(_ name: String, shape: [Int]) throws -> Tensor
    /// Like `take`, but nil when the source does not have `name`.
    func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor?
    /// The same source under a longer prefix.
    func scope(_ more: String) -> Self
}

extension WeightScope: HubertWeightSource {}

/// Deterministic pseudo-random weights for any name and shape: uniform in ±1/√fan-in for matrices and conv
/// kernels, 1 for 1-D `…weight` (norm scales), 0 for 1-D `…bias` and other 1-D tensors; `takeIfPresent` answers
/// nil (optional tensors are absent). Values depend only on `seed` and the name, not on the order of calls.
struct RandomHubertWeights: HubertWeightSource {
    var seed: UInt64
    var prefix: String = ""

    func take(_ name: String, shape: [Int]) throws -> Tensor {
        let full = prefix + name
        let count = shape.reduce(1, *)
        if shape.count <= 1 {
            return Tensor(shape: shape, repeating: full.hasSuffix("weight") ? 1 : 0)
        }
        let fanIn = Swift.max(1, count / Swift.max(1, shape[0]))
        let bound = 1 / Float(fanIn).squareRoot()
        // FNV-1a of the name, mixed with the seed, starts a SplitMix64 stream.
        var state: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in full.utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var out = Tensor(shape: shape, repeating: 0)
        out.withUnsafeMutableBufferPointer { p in
            for i in 0..<count {
                state &+= 0x9e37_79b9_7f4a_7c15
                var z = state
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                z ^= z >> 31
                let unit = Float(z >> 40) * (1 / Float(1 << 24))   // [0, 1)
                p[i] = (2 * unit - 1) * bound
            }
        }
        return out
    }

    func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor? { nil }

    func scope(_ more: String) -> RandomHubertWeights { RandomHubertWeights(seed: seed, prefix: prefix + more) }
}
