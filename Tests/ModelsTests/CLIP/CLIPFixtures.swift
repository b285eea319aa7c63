import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The CLIP fixtures (`Tests/Fixtures/clip/`, written by `Tools/make_clip_goldens.py`) and the test images, which
/// are drawn here with the same integer arithmetic as the script's `make_image` instead of being stored.
enum CLIPFixtures {
    /// `Tests/Fixtures/clip/<name>`.
    static func url(_ name: String) -> URL { TestPaths.fixture("clip").appendingPathComponent(name) }

    static func floats(_ folder: String, _ file: String) throws -> [Float] {
        try Golden.floats(url(folder).appendingPathComponent(file))
    }

    static func bytes(_ folder: String, _ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(folder).appendingPathComponent(file)))
    }

    /// One entry of images.json.
    struct ImageSpec: Decodable {
        var name: String
        var width: Int
        var height: Int
        var seed: Int
        var sum: UInt64
        var weighted: UInt32
    }

    static func imageSpecs() throws -> [ImageSpec] {
        try Golden.json([ImageSpec].self, url("images.json"))
    }

    /// The image `name` of images.json.
    static func image(named name: String) throws -> RGBImage {
        guard let spec = try imageSpecs().first(where: { $0.name == name }) else {
            throw XCTSkip("images.json has no image \(name)")
        }
        return try image(width: spec.width, height: spec.height, seed: spec.seed)
    }

    /// The script's `make_image`: gradients, a disc, a rectangle, 1-pixel stripes, hashed noise; integers only.
    static func image(width: Int, height: Int, seed: Int) throws -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let (cx, cy, rad) = (3 * width / 10, 2 * height / 5, min(width, height) / 4)
        for y in 0..<height {
            for x in 0..<width {
                var rgb = [x * 255 / max(width - 1, 1), y * 255 / max(height - 1, 1),
                           (x + y) * 255 / max(width + height - 2, 1)]
                if (x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad { rgb = [230, 40, 60] }
                if x >= width / 2, x < width / 2 + width / 5, y >= height / 6, y < height / 6 + height / 3 {
                    rgb = [20, 200, 90]
                }
                if x >= 3 * width / 4, y >= 2 * height / 3 {
                    let v = (x + y / 2) % 2 == 0 ? 255 : 0
                    rgb = [v, v, v]
                }
                for c in 0..<3 {
                    var v = (UInt32(truncatingIfNeeded: x) &* 73_856_093) ^ (UInt32(truncatingIfNeeded: y) &* 19_349_663)
                        ^ (UInt32(c) &* 83_492_791) ^ (UInt32(truncatingIfNeeded: seed) &* 2_654_435_761)
                    v ^= v >> 13
                    v = v &* 0x5BD1_E995
                    v ^= v >> 15
                    let value = rgb[c] + Int(v % 49) - 24
                    pixels[(y * width + x) * 3 + c] = UInt8(min(max(value, 0), 255))
                }
            }
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }

    /// info.json of a processor fixture.
    struct ProcessorInfo: Decodable {
        var images: [String]
        var resized: [[Int]]
        var shape: [Int]
    }

    static func processorInfo(_ folder: String) throws -> ProcessorInfo {
        try Golden.json(ProcessorInfo.self, url(folder).appendingPathComponent("info.json"))
    }

    /// The Python processor's pixel values `[B, 3, H, W]`, decoded from codes.u8 and table.f32 (lossless).
    static func pixelValues(_ folder: String) throws -> Tensor {
        let info = try processorInfo(folder)
        let codes = try bytes(folder, "codes.u8"), table = try floats(folder, "table.f32")
        let plane = info.shape[2] * info.shape[3]
        var values = [Float](repeating: 0, count: codes.count)
        for i in codes.indices {
            let channel = (i / plane) % 3
            values[i] = table[channel * 256 + Int(codes[i])]
        }
        return Tensor(shape: info.shape, values)
    }

    /// A copy of fixture folder `name` in a fresh temp folder, removed after the test.
    static func tempCopy(_ name: String, for test: XCTestCase) throws -> URL {
        let dir = try TestPaths.makeTempDir("clip")
        let folder = dir.appendingPathComponent(name)
        try FileManager.default.copyItem(at: url(name), to: folder)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return folder
    }

    /// Sets `key` (a path of keys into nested objects) in `folder/config.json`.
    static func editConfig(_ folder: URL, _ path: [String], _ value: Any?) throws {
        let url = folder.appendingPathComponent("config.json")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        func set(_ object: [String: Any], _ path: ArraySlice<String>) -> [String: Any] {
            var object = object
            if path.count == 1 {
                object[path.first!] = value
            } else {
                object[path.first!] = set(object[path.first!] as? [String: Any] ?? [:], path.dropFirst())
            }
            return object
        }
        try JSONSerialization.data(withJSONObject: set(config, path[...])).write(to: url)
    }
}

