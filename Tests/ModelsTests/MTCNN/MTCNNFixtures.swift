import Foundation
import Models
import TestSupport
import XCTest

/// The MTCNN fixtures (`Tests/Fixtures/mtcnn/`, written by `Tools/make_mtcnn_goldens.py` with facenet-pytorch 2.6.0)
/// and the converted weights (never committed: `Tools/fetch_mtcnn.sh` makes them).
enum MTCNNFixtures {
    static let folder = TestPaths.fixture("mtcnn")

    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    struct ImageEntry: Decodable {
        var name: String
        var file: String
        var width: Int
        var height: Int
    }

    struct ImagesFile: Decodable { var images: [ImageEntry] }

    /// facenet-pytorch's output for one image (float32 values written as exact decimals).
    struct Golden: Decodable {
        struct Crop: Decodable {
            var face: Int
            var file: String
        }

        var width: Int
        var height: Int
        var boxes: [[Double]]
        var probs: [Double]
        var landmarks: [[[Double]]]
        var crops: [Crop]

        func box(_ i: Int) -> FaceDetection.Box {
            let b = boxes[i].map { Float($0) }
            return FaceDetection.Box(x1: b[0], y1: b[1], x2: b[2], y2: b[3])
        }
    }

    static func goldens() throws -> [String: Golden] {
        try TestSupport.Golden.json([String: Golden].self, url("detections.json"))
    }

    /// A stored input image, or "composite2x": composite.rgb with every pixel repeated 2×2 (1280×720).
    static func image(_ name: String) throws -> RGBImage {
        if name == "composite2x" {
            let small = try image("composite")
            var pixels = [UInt8](repeating: 0, count: small.pixels.count * 4)
            let w = small.width * 2
            for y in 0..<(small.height * 2) {
                for x in 0..<w {
                    let s = ((y / 2) * small.width + x / 2) * 3, d = (y * w + x) * 3
                    pixels[d] = small.pixels[s]
                    pixels[d + 1] = small.pixels[s + 1]
                    pixels[d + 2] = small.pixels[s + 2]
                }
            }
            return try RGBImage(width: w, height: small.height * 2, pixels: pixels)
        }
        let entries = try TestSupport.Golden.json(ImagesFile.self, url("images.json")).images
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw XCTSkip("no fixture image \(name)")
        }
        return try RGBImage(width: entry.width, height: entry.height, pixels: bytes(entry.file))
    }

    static func bytes(_ file: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(file))) }

    /// The folder with pnet/rnet/onet.safetensors: `$MELD_MTCNN_DIR`, else `Tools/.downloads/mtcnn`, else nil.
    static let weightsFolder: URL? = {
        let fm = FileManager.default
        func complete(_ url: URL) -> Bool {
            MTCNN.weightFiles.allSatisfy { fm.fileExists(atPath: url.appendingPathComponent($0).path) }
        }
        if let env = ProcessInfo.processInfo.environment["MELD_MTCNN_DIR"], !env.isEmpty {
            let url = URL(fileURLWithPath: env)
            return complete(url) ? url : nil
        }
        let url = TestPaths.repoRoot.appendingPathComponent("Tools/.downloads/mtcnn")
        return complete(url) ? url : nil
    }()

    /// The model, loaded once per test process, or an XCTSkip that says how to get the weights.
    static func requireModel() throws -> MTCNN {
        guard let folder = weightsFolder else {
            throw XCTSkip("MTCNN weights are not converted: run Tools/fetch_mtcnn.sh (or set MELD_MTCNN_DIR)")
        }
        return try loaded(folder)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: MTCNN?

    private static func loaded(_ folder: URL) throws -> MTCNN {
        lock.lock()
        defer { lock.unlock() }
        if let cache { return cache }
        let model = try MTCNN(folder: folder)
        cache = model
        return model
    }
}

/// A minimal safetensors writer (all F32, names sorted, header padded with spaces to 8 bytes).
enum MTCNNSafeTensorsWriter {
    static func write(_ tensors: [String: (shape: [Int], values: [Float])], to url: URL) throws {
        var header: [String: Any] = [:], body = Data(), offset = 0
        for name in tensors.keys.sorted() {
            let (shape, values) = tensors[name]!
            precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) vs \(values.count) values")
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * values.count]]
            values.withUnsafeBytes { body.append(contentsOf: $0) }
            offset += 4 * values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        try out.write(to: url)
    }
}
