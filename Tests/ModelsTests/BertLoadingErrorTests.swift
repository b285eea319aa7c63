import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Strict loading: every failure is an error that names the file (and tensor), never a crash or a silent default.
final class BertLoadingErrorTests: XCTestCase {
    /// A temp copy of a fixture folder, removed after the test.
    private func tempCopy(_ name: String) throws -> URL {
        let folder = try ModelFixtures.tempCopy(name)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        return folder
    }

    private func editConfig(_ folder: URL, _ key: String, _ value: Any) throws {
        let url = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        config[key] = value
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    func testMissingFolder() throws {
        let folder = URL(fileURLWithPath: "/nonexistent/bert-\(UUID().uuidString)")
        assertThrows([folder.path, "config.json", "no such file"]) { _ = try BertModel(folder: folder) }
    }

    func testMissingWeightsFile() throws {
        let folder = try tempCopy("bert-tiny-a")
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        assertThrows(["model.safetensors", "no such file"]) { _ = try BertModel(folder: folder) }
    }

    func testConfigThatDoesNotMatchTheWeights() throws {
        let folder = try tempCopy("bert-tiny-a")
        try editConfig(folder, "hidden_size", 40)
        assertThrows(["model.safetensors", "embeddings.word_embeddings.weight", "got shape [99, 32]", "expected [99, 40]"]) {
            _ = try BertModel(folder: folder)
        }
        do {
            _ = try BertModel(folder: folder)
        } catch let error as WeightsError {
            guard case .wrongShape(_, let tensor, let got, let expected) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, "embeddings.word_embeddings.weight")
            XCTAssertEqual(got, [99, 32])
            XCTAssertEqual(expected, [99, 40])
        }
    }

    func testTooFewLayersInTheWeights() throws {
        let folder = try tempCopy("bert-tiny-a")
        try editConfig(folder, "num_hidden_layers", 3)
        assertThrows(["model.safetensors", "encoder.layer.2.attention.self.query.weight", "missing"]) {
            _ = try BertModel(folder: folder)
        }
    }

    func testUnsupportedActivation() throws {
        let folder = try tempCopy("bert-tiny-a")
        try editConfig(folder, "hidden_act", "relu")
        assertThrows(["config.json", "hidden_act", "relu", "gelu"]) { _ = try BertModel(folder: folder) }
    }

    func testMalformedConfig() throws {
        let folder = try tempCopy("bert-tiny-a")
        try Data("{\"hidden_size\": \"big\"}".utf8).write(to: folder.appendingPathComponent("config.json"))
        assertThrows(["config.json", "invalid config"]) { _ = try BertModel(folder: folder) }
    }

    func testTruncatedSafetensors() throws {
        let folder = try tempCopy("bert-tiny-a")
        let url = folder.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        assertThrows([url.path, "not a valid safetensors file"]) { _ = try BertModel(folder: folder) }
    }

    func testUnusedTensor() throws {
        let folder = try tempCopy("bert-tiny-a")
        try rewriteWeights(folder) { $0["encoder.layer.0.attention.self.rotary.weight"] = ([2], [1, 2]) }
        assertThrows(["model.safetensors", "not used", "encoder.layer.0.attention.self.rotary.weight"]) {
            _ = try BertModel(folder: folder)
        }
    }

    func testMissingTensor() throws {
        let folder = try tempCopy("bert-tiny-a")
        try rewriteWeights(folder) { $0["pooler.dense.bias"] = nil }
        assertThrows(["model.safetensors", "pooler.dense.bias", "missing", "bert.pooler.dense.bias"]) {
            _ = try BertModel(folder: folder)
        }
    }

    /// The rewriter itself keeps a loadable checkpoint (so the failures above come from the edits).
    func testRewrittenWeightsStillLoad() throws {
        let folder = try tempCopy("bert-tiny-a")
        try rewriteWeights(folder) { _ in }
        XCTAssertNoThrow(try BertModel(folder: folder))
    }

    func testInvalidInputs() throws {
        let model = try BertModel(folder: ModelFixtures.url("bert-tiny-a"))
        assertThrows(["row 1"]) { _ = try model.forward(ids: [[1, 2], [1]], tokenTypes: [[0, 0], [0]], mask: [[1, 1], [1]]) }
        assertThrows(["id 99", "0..<99"]) { _ = try model.forward(ids: [[1, 99]], tokenTypes: [[0, 0]], mask: [[1, 1]]) }
        assertThrows(["token type 2"]) { _ = try model.forward(ids: [[1, 2]], tokenTypes: [[0, 2]], mask: [[1, 1]]) }
        assertThrows(["max_position_embeddings 64"]) {
            let row = [Int32](repeating: 1, count: 65)
            _ = try model.forward(ids: [row], tokenTypes: [row.map { _ in 0 }], mask: [row])
        }
        assertThrows(["empty"]) { _ = try model.forward(ids: [], tokenTypes: [], mask: []) }
    }
}
