import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Strict loading of the three MTCNN weight files: every failure names the file (and the tensor). Runs on
/// synthetic files with the real names and shapes, so it needs no download.
final class MTCNNLoadingErrorTests: XCTestCase {
    typealias Table = [String: (shape: [Int], values: [Float])]

    /// facenet-pytorch's state_dict names and shapes.
    static let shapes: [String: [(String, [Int])]] = [
        "pnet": [("conv1.weight", [10, 3, 3, 3]), ("conv1.bias", [10]), ("prelu1.weight", [10]),
                 ("conv2.weight", [16, 10, 3, 3]), ("conv2.bias", [16]), ("prelu2.weight", [16]),
                 ("conv3.weight", [32, 16, 3, 3]), ("conv3.bias", [32]), ("prelu3.weight", [32]),
                 ("conv4_1.weight", [2, 32, 1, 1]), ("conv4_1.bias", [2]),
                 ("conv4_2.weight", [4, 32, 1, 1]), ("conv4_2.bias", [4])],
        "rnet": [("conv1.weight", [28, 3, 3, 3]), ("conv1.bias", [28]), ("prelu1.weight", [28]),
                 ("conv2.weight", [48, 28, 3, 3]), ("conv2.bias", [48]), ("prelu2.weight", [48]),
                 ("conv3.weight", [64, 48, 2, 2]), ("conv3.bias", [64]), ("prelu3.weight", [64]),
                 ("dense4.weight", [128, 576]), ("dense4.bias", [128]), ("prelu4.weight", [128]),
                 ("dense5_1.weight", [2, 128]), ("dense5_1.bias", [2]),
                 ("dense5_2.weight", [4, 128]), ("dense5_2.bias", [4])],
        "onet": [("conv1.weight", [32, 3, 3, 3]), ("conv1.bias", [32]), ("prelu1.weight", [32]),
                 ("conv2.weight", [64, 32, 3, 3]), ("conv2.bias", [64]), ("prelu2.weight", [64]),
                 ("conv3.weight", [64, 64, 3, 3]), ("conv3.bias", [64]), ("prelu3.weight", [64]),
                 ("conv4.weight", [128, 64, 2, 2]), ("conv4.bias", [128]), ("prelu4.weight", [128]),
                 ("dense5.weight", [256, 1152]), ("dense5.bias", [256]), ("prelu5.weight", [256]),
                 ("dense6_1.weight", [2, 256]), ("dense6_1.bias", [2]),
                 ("dense6_2.weight", [4, 256]), ("dense6_2.bias", [4]),
                 ("dense6_3.weight", [10, 256]), ("dense6_3.bias", [10])],
    ]

    /// Small deterministic values for a net's tensors.
    static func table(_ net: String) -> Table {
        var table: Table = [:]
        var seed: UInt32 = 12345
        for (name, shape) in shapes[net]! {
            let count = shape.reduce(1, *)
            table[name] = (shape, (0..<count).map { _ in
                seed = seed &* 1_664_525 &+ 1_013_904_223
                return (Float(seed >> 8) / Float(1 << 24) - 0.5) * 0.2
            })
        }
        return table
    }

    private var folder: URL!

    override func setUpWithError() throws {
        folder = try TestPaths.makeTempDir("mtcnn")
        for net in ["pnet", "rnet", "onet"] { try write(net, Self.table(net)) }
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    private func write(_ net: String, _ table: Table) throws {
        try MTCNNSafeTensorsWriter.write(table, to: folder.appendingPathComponent("\(net).safetensors"))
    }

    func testSyntheticWeightsLoadAndRun() throws {
        let model = try MTCNN(folder: folder)
        // Random weights: the answer is meaningless, but every stage must run on a small frame.
        var pixels = [UInt8](repeating: 0, count: 64 * 48 * 3)
        for i in pixels.indices { pixels[i] = UInt8((i * 37) % 251) }
        let faces = model.detect(image: try RGBImage(width: 64, height: 48, pixels: pixels))
        for face in faces { XCTAssertEqual(face.landmarks.count, 5) }
    }

    func testMissingFolder() {
        let missing = URL(fileURLWithPath: "/nonexistent/mtcnn-\(UUID().uuidString)")
        assertThrows([missing.appendingPathComponent("pnet.safetensors").path, "no such file"]) {
            _ = try MTCNN(folder: missing)
        }
    }

    func testMissingFile() throws {
        try FileManager.default.removeItem(at: folder.appendingPathComponent("onet.safetensors"))
        assertThrows(["onet.safetensors", "no such file"]) { _ = try MTCNN(folder: folder) }
    }

    func testMissingTensor() throws {
        var table = Self.table("rnet")
        table["prelu2.weight"] = nil
        try write("rnet", table)
        assertThrows(["rnet.safetensors", "\"prelu2.weight\"", "missing"]) { _ = try MTCNN(folder: folder) }
        do {
            _ = try RNet(url: folder.appendingPathComponent("rnet.safetensors"))
            XCTFail("no error")
        } catch let error as WeightsError {
            guard case .missingTensor(let file, let tensor, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(file.hasSuffix("rnet.safetensors"))
            XCTAssertEqual(tensor, "prelu2.weight")
        }
    }

    func testWrongShape() throws {
        var table = Self.table("onet")
        table["conv1.weight"] = ([32, 3, 3, 2], [Float](repeating: 0, count: 32 * 3 * 3 * 2))
        try write("onet", table)
        assertThrows(["onet.safetensors", "\"conv1.weight\"", "got shape [32, 3, 3, 2]", "expected [32, 3, 3, 3]"]) {
            _ = try MTCNN(folder: folder)
        }
    }

    func testUnusedTensor() throws {
        var table = Self.table("pnet")
        table["conv5.weight"] = ([2], [1, 2])
        try write("pnet", table)
        assertThrows(["pnet.safetensors", "1 tensor was not used", "conv5.weight"]) { _ = try MTCNN(folder: folder) }
    }

    /// ONet's file where PNet's belongs: the first tensor taken has ONet's shape.
    func testWrongFile() throws {
        try write("pnet", Self.table("onet"))
        assertThrows(["pnet.safetensors", "\"conv1.weight\"", "got shape [32, 3, 3, 3]", "expected [10, 3, 3, 3]"]) {
            _ = try MTCNN(folder: folder)
        }
    }

    func testNotASafetensorsFile() throws {
        try Data("this is not a weight file".utf8).write(to: folder.appendingPathComponent("rnet.safetensors"))
        assertThrows(["rnet.safetensors"]) { _ = try MTCNN(folder: folder) }
    }
}
