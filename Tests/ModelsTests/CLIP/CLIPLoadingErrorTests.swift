import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Strict loading: every failure is an error that names the file (and tensor), never a crash or a silent default.
final class CLIPLoadingErrorTests: XCTestCase {
    func testMissingFolder() {
        let folder = URL(fileURLWithPath: "/nonexistent/clip-\(UUID().uuidString)")
        assertThrows([folder.path, "config.json", "no such file"]) { _ = try CLIPVisionModel(folder: folder) }
    }

    func testMissingWeightsFile() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        assertThrows(["model.safetensors", "no such file"]) { _ = try CLIPVisionModel(folder: folder) }
    }

    func testConfigThatDoesNotMatchTheWeights() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        try CLIPFixtures.editConfig(folder, ["vision_config", "hidden_size"], 40)
        assertThrows(["model.safetensors", "vision_model.embeddings.class_embedding", "got shape [32]", "expected [40]"]) {
            _ = try CLIPVisionModel(folder: folder)
        }
    }

    func testWrongProjectionSize() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        try CLIPFixtures.editConfig(folder, ["projection_dim"], 99)
        assertThrows(["model.safetensors", "visual_projection.weight", "got shape [16, 32]", "expected [99, 32]"]) {
            _ = try CLIPVisionModel(folder: folder)
        }
    }

    func testTooFewLayersInTheWeights() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        try CLIPFixtures.editConfig(folder, ["vision_config", "num_hidden_layers"], 3)
        assertThrows(["model.safetensors", "vision_model.encoder.layers.2.self_attn.q_proj.weight", "missing"]) {
            _ = try CLIPVisionModel(folder: folder)
        }
    }

    func testMissingProjection() throws {
        let folder = try CLIPFixtures.tempCopy("clip-vision-proj", for: self)
        try rewriteWeights(folder) { $0["visual_projection.weight"] = nil }
        assertThrows(["model.safetensors", "visual_projection.weight", "missing"]) { _ = try CLIPVisionModel(folder: folder) }
    }

    func testUnusedTensor() throws {
        let folder = try CLIPFixtures.tempCopy("clip-vision-proj", for: self)
        try rewriteWeights(folder) { $0["vision_model.encoder.layers.0.self_attn.rotary.weight"] = ([2], [1, 2]) }
        assertThrows(["model.safetensors", "1 tensor was not used", "vision_model.encoder.layers.0.self_attn.rotary.weight"]) {
            _ = try CLIPVisionModel(folder: folder)
        }
    }

    /// The ignore table covers exactly the text tower, its projection and logit_scale.
    func testIgnoredKeys() throws {
        XCTAssertEqual(CLIPVisionModel.ignoredPrefixes, ["text_model.", "text_projection.", "logit_scale"])
        let folder = try CLIPFixtures.tempCopy("clip-vision-proj", for: self)
        try rewriteWeights(folder) {
            $0["text_model.final_layer_norm.weight"] = ([2], [1, 1])
            $0["text_projection.weight"] = ([1, 2], [0, 0])
            $0["logit_scale"] = ([], [2.6592])
        }
        XCTAssertNoThrow(try CLIPVisionModel(folder: folder))
    }

    func testUnsupportedActivation() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        try CLIPFixtures.editConfig(folder, ["vision_config", "hidden_act"], "relu")
        assertThrows(["config.json", "hidden_act", "relu", "quick_gelu"]) { _ = try CLIPVisionModel(folder: folder) }
    }

    /// A projection-less CLIPVisionModel checkpoint is refused by name, not with a confusing missing tensor.
    func testCLIPVisionModelCheckpointIsRefused() throws {
        let folder = try CLIPFixtures.tempCopy("clip-vision-proj", for: self)
        try CLIPFixtures.editConfig(folder, ["architectures"], ["CLIPVisionModel"])
        assertThrows(["config.json", "architectures", "CLIPVisionModel", "CLIPVisionModelWithProjection"]) {
            _ = try CLIPVisionModel(folder: folder)
        }
    }

    func testMalformedConfig() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        try Data(#"{"model_type": "clip", "vision_config": {"hidden_size": "big"}}"#.utf8)
            .write(to: folder.appendingPathComponent("config.json"))
        assertThrows(["config.json", "invalid config"]) { _ = try CLIPVisionModel(folder: folder) }
        try Data(#"{"hidden_size": 30, "num_attention_heads": 4}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        assertThrows(["config.json", "hidden_size 30", "num_attention_heads 4"]) { _ = try CLIPVisionModel(folder: folder) }
    }

    /// transformers' CLIPConfig: `vision_config_dict` (old hub files) overrides `vision_config`.
    func testLegacyVisionConfigDict() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        try CLIPFixtures.editConfig(folder, ["vision_config_dict"], ["layer_norm_eps": 1e-6])
        let config = try CLIPVisionConfig.load(from: folder)
        XCTAssertEqual(config.layerNormEps, 1e-6)
        XCTAssertEqual(config.hiddenSize, 32)
        XCTAssertEqual(config.projectionDim, 16)
        let defaults = try JSONDecoder().decode(CLIPVisionConfig.self, from: Data("{}".utf8))
        XCTAssertEqual(defaults, CLIPVisionConfig())
        XCTAssertEqual([defaults.numPatches, defaults.numPositions, defaults.headDim], [49, 50, 64])
    }

    func testTruncatedSafetensors() throws {
        let folder = try CLIPFixtures.tempCopy("clip-tiny", for: self)
        let url = folder.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        assertThrows([url.path, "not a valid safetensors file"]) { _ = try CLIPVisionModel(folder: folder) }
    }

    func testWrongPixelShape() throws {
        let model = try CLIPVisionModel(folder: CLIPFixtures.url("clip-vision-proj"))
        assertThrows(["[1, 3, 224, 224]", "expected [B, 3, 32, 32]"]) {
            _ = try model.forward(pixelValues: Tensor.zeros([1, 3, 224, 224]))
        }
        assertThrows(["[0, 3, 32, 32]"]) { _ = try model.forward(pixelValues: Tensor.zeros([0, 3, 32, 32])) }
    }
}
