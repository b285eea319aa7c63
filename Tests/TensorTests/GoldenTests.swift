import XCTest
import TestSupport
@testable import Tensor

/// Every op against PyTorch (2.13, CPU, float32) on random inputs, from `Tests/Fixtures/tensor/manifest.json`
/// written by `Tools/make_tensor_goldens.py`.
///
/// Tolerance: |ours − torch| ≤ 1e-5 · max(1, |torch|) per element (float32 rounding with another summation
/// order; the inputs are O(1) and the weights scaled by 1/√fan-in, so outputs are O(1)–O(10)).
final class GoldenTests: XCTestCase {
    static let tolerance: Float = 1e-5

    struct Manifest: Decodable {
        var torch: String
        var cases: [Case]
    }

    struct Case: Decodable {
        var name: String
        var op: String
        var params: [String: Param]
        var inputs: [String: StoredArray]
        var output: StoredArray
    }

    struct StoredArray: Decodable {
        var file: String
        var shape: [Int]
    }

    enum Param: Decodable {
        case number(Double)
        case bool(Bool)
        case list([Int])

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else { self = .list(try c.decode([Int].self)) }
        }

        var int: Int { if case .number(let d) = self { return Int(d) }; fatalError("not a number: \(self)") }
        var float: Float { if case .number(let d) = self { return Float(d) }; fatalError("not a number: \(self)") }
        var bool: Bool { if case .bool(let b) = self { return b }; fatalError("not a bool: \(self)") }
        var pair: (Int, Int) { if case .list(let l) = self, l.count == 2 { return (l[0], l[1]) }; fatalError("not a pair: \(self)") }
    }

    static let directory = TestPaths.fixture("tensor")

    func load() throws -> Manifest {
        try Golden.json(Manifest.self, GoldenTests.directory.appendingPathComponent("manifest.json"))
    }

    func tensor(_ a: StoredArray) throws -> Tensor {
        Tensor(shape: a.shape, try Golden.floats(GoldenTests.directory.appendingPathComponent(a.file)))
    }

    /// Runs the op a case names on its inputs.
    func run(_ c: Case) throws -> Tensor {
        var inputs: [String: Tensor] = [:]
        for (name, array) in c.inputs { inputs[name] = try tensor(array) }
        let x = inputs["x"]
        switch c.op {
        case "linear":
            return linear(x!, weight: inputs["weight"]!, bias: inputs["bias"])
        case "layer_norm":
            return layerNorm(x!, weight: inputs["weight"]!, bias: inputs["bias"]!, eps: c.params["eps"]!.float)
        case "gelu": return gelu(x!)
        case "quick_gelu": return quickGELU(x!)
        case "tanh": return tanh(x!)
        case "softmax": return softmax(x!, axis: c.params["axis"]!.int)
        case "attention":
            let mask = inputs["mask01"].map { additiveAttentionMask($0) } ?? inputs["mask"]
            return attention(query: inputs["query"]!, key: inputs["key"]!, value: inputs["value"]!,
                             heads: c.params["heads"]!.int, scale: c.params["scale"]!.float, mask: mask)
        case "conv1d":
            return conv1d(x!, weight: inputs["weight"]!, bias: inputs["bias"], stride: c.params["stride"]!.int,
                          padding: c.params["padding"]!.int, groups: c.params["groups"]!.int)
        case "conv2d":
            return conv2d(x!, weight: inputs["weight"]!, bias: inputs["bias"], stride: c.params["stride"]!.pair,
                          padding: c.params["padding"]!.pair, groups: c.params["groups"]!.int)
        case "group_norm":
            return groupNorm(x!, groups: c.params["groups"]!.int, weight: inputs["weight"]!, bias: inputs["bias"]!,
                             eps: c.params["eps"]!.float)
        case "max_pool2d":
            return maxPool2d(x!, kernel: c.params["kernel"]!.int, stride: c.params["stride"]!.int,
                             ceilMode: c.params["ceil_mode"]!.bool)
        case "prelu":
            return prelu(x!, weight: inputs["weight"]!)
        case "weight_norm":
            return weightNorm(g: inputs["g"]!, v: inputs["v"]!, dim: c.params["dim"]!.int)
        default:
            throw XCTSkip("unknown op \(c.op) in the manifest")
        }
    }

    func testAllGoldenCases() throws {
        let manifest = try load()
        XCTAssertGreaterThanOrEqual(manifest.cases.count, 29)
        var ops = Set<String>()
        for c in manifest.cases {
            let expected = try tensor(c.output)
            let got = try run(c)
            ops.insert(c.op)
            XCTAssertEqual(got.shape, expected.shape, "\(c.name): shape")
            guard got.shape == expected.shape else { continue }
            let g = got.scalars, e = expected.scalars
            var worst: Float = 0, at = 0
            for i in e.indices {
                let excess = abs(g[i] - e[i]) / max(1, abs(e[i]))
                if excess > worst || excess.isNaN { worst = excess; at = i }
            }
            print("golden \(c.name): max |ours − torch| / max(1, |torch|) = \(worst)")
            XCTAssertLessThanOrEqual(worst, GoldenTests.tolerance,
                                     "\(c.name) (\(c.op)): element \(at) is \(g[at]), torch \(manifest.torch) gives \(e[at])")
        }
        // The channels-last forms on the same cases, transposed in and out; both channels-last strategies
        // (per-tap GEMMs, forced by lowering the threshold, and the patch-copy GEMM).
        let savedThreshold = channelsLastPerTapMinChannels
        defer { channelsLastPerTapMinChannels = savedThreshold }
        for c in manifest.cases where c.op == "conv1d" || (c.op == "group_norm" && c.output.shape.count == 3) {
            let expected = try tensor(c.output).transposedLastTwo()
            let x = try tensor(c.inputs["x"]!).transposedLastTwo()
            for threshold in [Int.max, 1] {
                channelsLastPerTapMinChannels = threshold
                let got: Tensor
                if c.op == "conv1d" {
                    got = conv1dChannelsLast(x, weight: channelsLastConv1dWeight(try tensor(c.inputs["weight"]!)),
                                             bias: try c.inputs["bias"].map(tensor), stride: c.params["stride"]!.int,
                                             padding: c.params["padding"]!.int, groups: c.params["groups"]!.int)
                } else {
                    var y = x
                    y.applyGroupNormChannelsLast(groups: c.params["groups"]!.int, weight: try tensor(c.inputs["weight"]!),
                                                 bias: try tensor(c.inputs["bias"]!), eps: c.params["eps"]!.float)
                    got = y
                }
                XCTAssertEqual(got.shape, expected.shape, "\(c.name) channels-last: shape")
                guard got.shape == expected.shape else { continue }
                let e = expected.scalars, g = got.scalars
                let worst = e.indices.map { abs(g[$0] - e[$0]) / max(1, abs(e[$0])) }.max() ?? 0
                print("golden \(c.name) channels-last (per-tap threshold \(threshold)): \(worst)")
            XCTAssertLessThanOrEqual(worst, GoldenTests.tolerance, "\(c.name) channels-last (per-tap threshold \(threshold))")
            }
        }
        XCTAssertEqual(ops, ["linear", "layer_norm", "gelu", "quick_gelu", "tanh", "softmax", "attention", "conv1d",
                             "conv2d", "group_norm", "max_pool2d", "prelu", "weight_norm"])
    }
}
