import Foundation
import Tensor

// MTCNN's three networks, one Swift type per torch module of
// https://github.com/timesler/facenet-pytorch/blob/master/models/mtcnn.py (PNet, RNet, ONet), loaded strictly from
// the safetensors files Tools/convert_mtcnn_weights.py makes of facenet-pytorch's data/{pnet,rnet,onet}.pt (keys as
// in their state_dicts). All convolutions are stride 1 without padding; every PReLU is per channel; pooling is
// MaxPool2d(ceil_mode=True).
//
// Transposition: the original MTCNN (Caffe/Matlab, and the TensorFlow port facenet-pytorch converted) ran on
// transposed images. facenet-pytorch folded that transpose into the weights (conv kernels with their spatial axes
// swapped; the dense layers read the conv output permuted to (N, W, H, C)), so these nets take ordinary
// (non-transposed) images, and their box and landmark outputs are (x, y) ordered. Here activations are
// `[C, N, H, W]`; the dense weights' columns are reordered at load from torch's (w, h, c) flattening to the
// (c, h, w) order `mtcnnFlatten` gathers.
//
// The weights are read-only after loading: one network can serve several threads.

/// Opens one of the three files for strict loading: no key renames; `finish()` reports unused tensors.
func openMTCNNWeights(_ url: URL) throws -> WeightStore {
    guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
    return try WeightStore(url: url, renames: [])
}

/// Reorders a dense weight `[out, h·w·c]` whose columns follow torch's `permute(0, 3, 2, 1)` flattening
/// (index `(x·h + y)·c + ch`) into the (c, y, x) order of `mtcnnFlatten` (index `(ch·h + y)·w + x`).
func mtcnnReorderDenseWeight(_ torch: [Float], out: Int, h: Int, w: Int, c: Int) -> [Float] {
    let inFeatures = h * w * c
    var result = [Float](repeating: 0, count: torch.count)
    for o in 0..<out {
        for y in 0..<h {
            for x in 0..<w {
                for ch in 0..<c {
                    result[o * inFeatures + (ch * h + y) * w + x] = torch[o * inFeatures + (x * h + y) * c + ch]
                }
            }
        }
    }
    return result
}

/// Takes `<name>.weight [out, in]` and `<name>.bias [out]` (and `<prelu>.weight [out]`).
func mtcnnLoadDense(_ store: WeightStore, _ name: String, prelu: String? = nil, inFeatures: Int, outFeatures: Int,
                reorder: (h: Int, w: Int, c: Int)? = nil) throws -> MTCNNDense {
    var weight = mtcnnValues(try store.take("\(name).weight", shape: [outFeatures, inFeatures]))
    if let r = reorder { weight = mtcnnReorderDenseWeight(weight, out: outFeatures, h: r.h, w: r.w, c: r.c) }
    let bias = mtcnnValues(try store.take("\(name).bias", shape: [outFeatures]))
    let slope = try prelu.map { mtcnnValues(try store.take("\($0).weight", shape: [outFeatures])) }
    return MTCNNDense(weight: weight, bias: bias, slope: slope, inFeatures: inFeatures)
}

/// Stacks several heads reading the same features into one layer (their outputs side by side).
func mtcnnStackedDense(_ store: WeightStore, _ names: [(String, Int)], inFeatures: Int) throws -> MTCNNDense {
    var weight: [Float] = [], bias: [Float] = []
    for (name, out) in names {
        weight += mtcnnValues(try store.take("\(name).weight", shape: [out, inFeatures]))
        bias += mtcnnValues(try store.take("\(name).bias", shape: [out]))
    }
    return MTCNNDense(weight: weight, bias: bias, slope: nil, inFeatures: inFeatures)
}

/// The proposal network: fully convolutional, one 12×12 window per output cell, stride 2.
///
/// Weights (`pnet.safetensors`): conv1.weight [10, 3, 3, 3], conv1.bias [10], prelu1.weight [10];
/// conv2.weight [16, 10, 3, 3], conv2.bias [16], prelu2.weight [16]; conv3.weight [32, 16, 3, 3], conv3.bias [32],
/// prelu3.weight [32]; conv4_1.weight [2, 32, 1, 1], conv4_1.bias [2] (face logits); conv4_2.weight [4, 32, 1, 1],
/// conv4_2.bias [4] (box regression).
public struct PNet: Sendable {
    let conv1: MTCNNConv   // 3 → 10, k3, + PReLU, then MaxPool(2, 2)
    let conv2: MTCNNConv   // 10 → 16, k3, + PReLU
    let conv3: MTCNNConv   // 16 → 32, k3, + PReLU
    let conv4: MTCNNConv   // conv4_1 (2 logits) and conv4_2 (4 offsets) stacked: 32 → 6, k1

    /// Loads `url` strictly.
    /// - Throws: `ModelError.missingFile`; `WeightsError` naming the file and tensor (missing, wrong shape or dtype,
    ///   unused tensors, a malformed file).
    public init(url: URL) throws {
        let store = try openMTCNNWeights(url)
        try self.init(store)
        try store.finish()
    }

    init(_ store: WeightStore) throws {
        conv1 = try MTCNNConv(store, conv: "conv1", prelu: "prelu1", cIn: 3, cOut: 10, k: 3)
        conv2 = try MTCNNConv(store, conv: "conv2", prelu: "prelu2", cIn: 10, cOut: 16, k: 3)
        conv3 = try MTCNNConv(store, conv: "conv3", prelu: "prelu3", cIn: 16, cOut: 32, k: 3)
        let head1 = try MTCNNConv(store, conv: "conv4_1", prelu: nil, cIn: 32, cOut: 2, k: 1)
        let head2 = try MTCNNConv(store, conv: "conv4_2", prelu: nil, cIn: 32, cOut: 4, k: 1)
        conv4 = MTCNNConv(stacking: [head1, head2])
    }

    /// `x`: `[3, n, h, w]` normalised pixels, h, w ≥ 12. Returns `[6, n, h', w']`: the two face logits then the
    /// four box offsets (x1, y1, x2, y2) per cell, `h' = ⌈(h − 2 − 2) / 2⌉ + 1 − 4` (likewise w').
    func callAsFunction(_ x: MTCNNActivations) -> MTCNNActivations {
        let a = mtcnnMaxPoolCeil(conv1(x), kernel: 2, stride: 2)
        return conv4(conv3(conv2(a)))
    }
}

/// The refinement network, on 24×24 crops.
///
/// Weights (`rnet.safetensors`): conv1.weight [28, 3, 3, 3], conv1.bias [28], prelu1.weight [28];
/// conv2.weight [48, 28, 3, 3], conv2.bias [48], prelu2.weight [48]; conv3.weight [64, 48, 2, 2], conv3.bias [64],
/// prelu3.weight [64]; dense4.weight [128, 576], dense4.bias [128], prelu4.weight [128]; dense5_1.weight [2, 128],
/// dense5_1.bias [2] (face logits); dense5_2.weight [4, 128], dense5_2.bias [4] (box regression).
public struct RNet: Sendable {
    let conv1: MTCNNConv   // 3 → 28, k3, + PReLU, then MaxPool(3, 2): 24 → 22 → 11
    let conv2: MTCNNConv   // 28 → 48, k3, + PReLU, then MaxPool(3, 2): 11 → 9 → 4
    let conv3: MTCNNConv   // 48 → 64, k2, + PReLU: 4 → 3
    let dense4: MTCNNDense // 576 (3·3·64) → 128, + PReLU
    let dense5: MTCNNDense // dense5_1 (2 logits) and dense5_2 (4 offsets) stacked: 128 → 6

    /// Loads `url` strictly. See `PNet.init(url:)`.
    public init(url: URL) throws {
        let store = try openMTCNNWeights(url)
        try self.init(store)
        try store.finish()
    }

    init(_ store: WeightStore) throws {
        conv1 = try MTCNNConv(store, conv: "conv1", prelu: "prelu1", cIn: 3, cOut: 28, k: 3)
        conv2 = try MTCNNConv(store, conv: "conv2", prelu: "prelu2", cIn: 28, cOut: 48, k: 3)
        conv3 = try MTCNNConv(store, conv: "conv3", prelu: "prelu3", cIn: 48, cOut: 64, k: 2)
        dense4 = try mtcnnLoadDense(store, "dense4", prelu: "prelu4", inFeatures: 576, outFeatures: 128,
                                reorder: (3, 3, 64))
        dense5 = try mtcnnStackedDense(store, [("dense5_1", 2), ("dense5_2", 4)], inFeatures: 128)
    }

    /// `x`: `[3, n, 24, 24]`. Returns `n` rows of 6: two face logits, four box offsets.
    func callAsFunction(_ x: MTCNNActivations) -> MTCNNBuffer {
        var a = mtcnnMaxPoolCeil(conv1(x), kernel: 3, stride: 2)
        a = mtcnnMaxPoolCeil(conv2(a), kernel: 3, stride: 2)
        let features = mtcnnFlatten(conv3(a))
        let hidden = dense4(features.pointer, rows: x.n)
        return withExtendedLifetime(features) { withExtendedLifetime(hidden) { dense5(hidden.pointer, rows: x.n) } }
    }
}

/// The output network, on 48×48 crops; also gives five landmarks.
///
/// Weights (`onet.safetensors`): conv1.weight [32, 3, 3, 3], conv1.bias [32], prelu1.weight [32];
/// conv2.weight [64, 32, 3, 3], conv2.bias [64], prelu2.weight [64]; conv3.weight [64, 64, 3, 3], conv3.bias [64],
/// prelu3.weight [64]; conv4.weight [128, 64, 2, 2], conv4.bias [128], prelu4.weight [128];
/// dense5.weight [256, 1152], dense5.bias [256], prelu5.weight [256]; dense6_1.weight [2, 256], dense6_1.bias [2]
/// (face logits); dense6_2.weight [4, 256], dense6_2.bias [4] (box regression); dense6_3.weight [10, 256],
/// dense6_3.bias [10] (landmarks: five x, then five y, relative to the box).
public struct ONet: Sendable {
    let conv1: MTCNNConv   // 3 → 32, k3, + PReLU, then MaxPool(3, 2): 48 → 46 → 23
    let conv2: MTCNNConv   // 32 → 64, k3, + PReLU, then MaxPool(3, 2): 23 → 21 → 10
    let conv3: MTCNNConv   // 64 → 64, k3, + PReLU, then MaxPool(2, 2): 10 → 8 → 4
    let conv4: MTCNNConv   // 64 → 128, k2, + PReLU: 4 → 3
    let dense5: MTCNNDense // 1152 (3·3·128) → 256, + PReLU
    let dense6: MTCNNDense // dense6_1 (2), dense6_2 (4), dense6_3 (10) stacked: 256 → 16

    /// Loads `url` strictly. See `PNet.init(url:)`.
    public init(url: URL) throws {
        let store = try openMTCNNWeights(url)
        try self.init(store)
        try store.finish()
    }

    init(_ store: WeightStore) throws {
        conv1 = try MTCNNConv(store, conv: "conv1", prelu: "prelu1", cIn: 3, cOut: 32, k: 3)
        conv2 = try MTCNNConv(store, conv: "conv2", prelu: "prelu2", cIn: 32, cOut: 64, k: 3)
        conv3 = try MTCNNConv(store, conv: "conv3", prelu: "prelu3", cIn: 64, cOut: 64, k: 3)
        conv4 = try MTCNNConv(store, conv: "conv4", prelu: "prelu4", cIn: 64, cOut: 128, k: 2)
        dense5 = try mtcnnLoadDense(store, "dense5", prelu: "prelu5", inFeatures: 1152, outFeatures: 256,
                                reorder: (3, 3, 128))
        dense6 = try mtcnnStackedDense(store, [("dense6_1", 2), ("dense6_2", 4), ("dense6_3", 10)], inFeatures: 256)
    }

    /// `x`: `[3, n, 48, 48]`. Returns `n` rows of 16: two face logits, four box offsets, five landmark x, five y.
    func callAsFunction(_ x: MTCNNActivations) -> MTCNNBuffer {
        var a = mtcnnMaxPoolCeil(conv1(x), kernel: 3, stride: 2)
        a = mtcnnMaxPoolCeil(conv2(a), kernel: 3, stride: 2)
        a = mtcnnMaxPoolCeil(conv3(a), kernel: 2, stride: 2)
        let features = mtcnnFlatten(conv4(a))
        let hidden = dense5(features.pointer, rows: x.n)
        return withExtendedLifetime(features) { withExtendedLifetime(hidden) { dense6(hidden.pointer, rows: x.n) } }
    }
}
