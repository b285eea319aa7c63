import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Strict loading: every failure is an error that names the file (and tensor), never a crash or a silent default.
final class HuBERTLoadingErrorTests: XCTestCase {
    private func editJSON(_ url: URL, _ key: String, _ value: Any) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        object[key] = value
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    private func editConfig(_ folder: URL, _ key: String, _ value: Any) throws {
        try editJSON(folder.appendingPathComponent("config.json"), key, value)
    }

    func testMissingFolderAndFiles() throws {
        let nowhere = URL(fileURLWithPath: "/nonexistent/hubert-\(UUID().uuidString)")
        assertThrows([nowhere.path, "config.json", "no such file"]) { _ = try HubertModel(folder: nowhere) }
        assertThrows(["preprocessor_config.json", "no such file"]) { _ = try HubertFeatureExtractor.load(from: nowhere) }
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        assertThrows(["model.safetensors", "no such file"]) { _ = try HubertModel(folder: folder) }
    }

    func testMissingTensorNamesFileAndTensor() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try rewriteWeights(folder) { $0["encoder.layers.1.feed_forward.output_dense.bias"] = nil }
        assertThrows([folder.appendingPathComponent("model.safetensors").path,
                      "encoder.layers.1.feed_forward.output_dense.bias", "missing",
                      "hubert.encoder.layers.1.feed_forward.output_dense.bias"]) { _ = try HubertModel(folder: folder) }
    }

    func testMissingWeightNormMagnitude() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try rewriteWeights(folder) { $0["encoder.pos_conv_embed.conv.parametrizations.weight.original0"] = nil }
        assertThrows(["model.safetensors", "encoder.pos_conv_embed.conv.weight_g", "missing",
                      "encoder.pos_conv_embed.conv.parametrizations.weight.original0"]) { _ = try HubertModel(folder: folder) }
    }

    func testWrongShape() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-b", self)
        try rewriteWeights(folder) { $0["hubert.feature_extractor.conv_layers.2.conv.weight"] = ([16, 16, 4], [Float](repeating: 0, count: 1024)) }
        assertThrows(["model.safetensors", "hubert.feature_extractor.conv_layers.2.conv.weight", "got shape [16, 16, 4]",
                      "expected [16, 16, 3]"]) { _ = try HubertModel(folder: folder) }
    }

    func testConfigThatDoesNotMatchTheWeights() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try editConfig(folder, "conv_dim", [16, 16, 16, 16, 16, 16, 24])
        do {
            _ = try HubertModel(folder: folder)
            XCTFail("loaded a checkpoint whose last conv has 16 channels with conv_dim[-1] = 24")
        } catch let error as WeightsError {
            print("error as expected: \(error)")
            guard case .wrongShape(let file, let tensor, let got, let expected) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(file.hasSuffix("model.safetensors"), file)
            XCTAssertEqual(tensor, "feature_extractor.conv_layers.6.conv.weight")
            XCTAssertEqual(got, [16, 16, 2])
            XCTAssertEqual(expected, [24, 16, 2])
        }
        let layers = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try editConfig(layers, "num_hidden_layers", 3)
        assertThrows(["model.safetensors", "encoder.layers.2.attention.q_proj.weight", "missing"]) {
            _ = try HubertModel(folder: layers)
        }
    }

    func testUnusedTensor() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try rewriteWeights(folder) { $0["encoder.layers.0.attention.rel_attn_embed.weight"] = ([2], [1, 2]) }
        assertThrows(["model.safetensors", "not used", "encoder.layers.0.attention.rel_attn_embed.weight"]) {
            _ = try HubertModel(folder: folder)
        }
    }

    /// Both weight-norm spellings in one file is ambiguous, not a silent pick.
    func testBothWeightNormSpellings() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try rewriteWeights(folder) {
            $0["encoder.pos_conv_embed.conv.weight_g"] = $0["encoder.pos_conv_embed.conv.parametrizations.weight.original0"]
        }
        assertThrows(["model.safetensors", "ambiguous", "encoder.pos_conv_embed.conv.weight_g"]) {
            _ = try HubertModel(folder: folder)
        }
    }

    /// `masked_spec_embed` (training only) is taken when present, but its shape is still checked.
    func testMaskedSpecEmbed() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try rewriteWeights(folder) { $0["masked_spec_embed"] = nil }
        XCTAssertNoThrow(try HubertModel(folder: folder))
        try rewriteWeights(folder) { $0["masked_spec_embed"] = ([31], [Float](repeating: 0, count: 31)) }
        assertThrows(["model.safetensors", "masked_spec_embed", "got shape [31]", "expected [32]"]) {
            _ = try HubertModel(folder: folder)
        }
    }

    /// A checkpoint with the weight norm already folded (`conv.weight`) loads and gives the same outputs.
    func testFoldedPositionalConvWeight() throws {
        let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
        try rewriteWeights(folder) { table in
            let g = table.removeValue(forKey: "encoder.pos_conv_embed.conv.parametrizations.weight.original0")!
            let v = table.removeValue(forKey: "encoder.pos_conv_embed.conv.parametrizations.weight.original1")!
            let folded = weightNorm(g: Tensor(shape: g.0, g.1), v: Tensor(shape: v.0, v.1), dim: 2)
            table["encoder.pos_conv_embed.conv.weight"] = (folded.shape, folded.scalars)
        }
        let input = try HubertFixtures.audio("1s", "normalized")
        let a = try HubertModel(folder: HubertFixtures.model("hubert-tiny-a")).forward(input).lastHiddenState
        let b = try HubertModel(folder: folder).forward(input).lastHiddenState
        XCTAssertLessThanOrEqual(Golden.maxAbsDiff(a.scalars, b.scalars).value, 1e-6)
    }

    func testRewrittenWeightsStillLoad() throws {
        for name in ["hubert-tiny-a", "hubert-tiny-b", "wav2vec2-tiny"] {
            let folder = try HubertFixtures.tempCopy(name, self)
            try rewriteWeights(folder) { _ in }
            XCTAssertNoThrow(try HubertModel(folder: folder), name)
        }
    }

    func testUnsupportedConfigs() throws {
        let cases: [(String, Any, [String])] = [
            ("do_stable_layer_norm", true, ["do_stable_layer_norm", "true"]),
            ("conv_pos_batch_norm", true, ["conv_pos_batch_norm"]),
            ("feat_extract_norm", "batch", ["feat_extract_norm", "batch", "group, layer"]),
            ("hidden_act", "relu", ["hidden_act", "relu", "gelu"]),
            ("feat_extract_activation", "gelu_new", ["feat_extract_activation", "gelu_new"]),
            ("model_type", "data2vec-audio", ["model_type", "data2vec-audio", "hubert, wav2vec2"]),
            ("add_adapter", true, ["add_adapter"]),
        ]
        for (key, value, pieces) in cases {
            let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
            try editConfig(folder, key, value)
            assertThrows(["config.json", "not supported"] + pieces) { _ = try HubertModel(folder: folder) }
        }
    }

    func testInvalidConfigs() throws {
        let cases: [(String, Any, [String])] = [
            ("conv_kernel", [10, 3, 3], ["conv_dim, conv_stride and conv_kernel"]),
            ("num_attention_heads", 5, ["num_attention_heads 5"]),
            ("num_conv_pos_embedding_groups", 3, ["num_conv_pos_embedding_groups 3"]),
            ("hidden_size", "big", ["invalid config"]),
        ]
        for (key, value, pieces) in cases {
            let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
            try editConfig(folder, key, value)
            assertThrows(["config.json", "invalid config"] + pieces) { _ = try HubertModel(folder: folder) }
        }
    }

    func testUnsupportedPreprocessor() throws {
        for (key, value, piece) in [("sampling_rate", 22050, "22050"), ("feature_size", 2, "feature_size"),
                                    ("feature_extractor_type", "WhisperFeatureExtractor", "WhisperFeatureExtractor")] as [(String, Any, String)] {
            let folder = try HubertFixtures.tempCopy("hubert-tiny-a", self)
            try editJSON(folder.appendingPathComponent("preprocessor_config.json"), key, value)
            assertThrows(["preprocessor_config.json", "not supported", piece]) {
                _ = try HubertFeatureExtractor.load(from: folder)
            }
        }
    }

    func testTruncatedSafetensors() throws {
        let folder = try HubertFixtures.tempCopy("wav2vec2-tiny", self)
        let url = folder.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        assertThrows([url.path, "not a valid safetensors file"]) { _ = try HubertModel(folder: folder) }
    }
}
