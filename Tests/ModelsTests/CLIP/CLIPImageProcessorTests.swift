import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The image processor against transformers' PIL-based `CLIPImageProcessorPil` and Pillow's own `Image.resize`
/// (goldens from `Tools/make_clip_goldens.py`).
final class CLIPImageProcessorTests: XCTestCase {
    /// Both sides draw the test images from the same integer formula; the checksums prove they agree.
    func testImageGeneratorMatchesThePythonOne() throws {
        for spec in try CLIPFixtures.imageSpecs() {
            let image = try CLIPFixtures.image(width: spec.width, height: spec.height, seed: spec.seed)
            var sum: UInt64 = 0, weighted: UInt32 = 0
            for (i, v) in image.pixels.enumerated() {
                sum += UInt64(v)
                weighted &+= UInt32(truncatingIfNeeded: i + 1) &* UInt32(v)
            }
            XCTAssertEqual(sum, spec.sum, spec.name)
            XCTAssertEqual(weighted, spec.weighted, spec.name)
        }
    }

    /// `get_resize_output_image_size(default_to_square=False)`: `int(224 · long / short)`, truncated.
    func testResizedSizes() throws {
        let p = try CLIPImageProcessor()
        XCTAssert(p.resizedSize(width: 320, height: 180) == (398, 224))    // 398.2
        XCTAssert(p.resizedSize(width: 1280, height: 720) == (398, 224))
        XCTAssert(p.resizedSize(width: 181, height: 243) == (224, 300))    // 300.7
        XCTAssert(p.resizedSize(width: 50, height: 30) == (373, 224))      // 373.3
        XCTAssert(p.resizedSize(width: 224, height: 224) == (224, 224))
        XCTAssert(p.resizedSize(width: 300, height: 700) == (224, 522))    // 522.7
        XCTAssert(p.resizedSize(width: 448, height: 448) == (224, 224))
        XCTAssert(p.resizedSize(width: 300, height: 200) == (336, 224))    // exactly 336
        XCTAssert(p.outputSize(width: 320, height: 180) == (224, 224))
        for folder in ["processor-openai", "processor-variant"] {
            let processor = try CLIPImageProcessor(folder: CLIPFixtures.url(folder))
            let info = try CLIPFixtures.processorInfo(folder)
            for (name, resized) in zip(info.images, info.resized) {
                let image = try CLIPFixtures.image(named: name)
                let size = processor.resizedSize(width: image.width, height: image.height)
                XCTAssertEqual([size.width, size.height], resized, "\(folder): \(name)")
            }
        }
    }

    /// Tolerance: 1/255 absolute on the normalised values, which is less than one 8-bit level there
    /// (1/(255·std) ≈ 0.015), so a single level off anywhere fails. Expected: 0, the resize being bit-exact.
    func testOpenAIProcessorMatchesThePILProcessor() throws {
        try checkProcessor("processor-openai", expectedShape: [5, 3, 224, 224])
    }

    /// Exact size (70x52, bilinear), crop 60x64 (pads the height with zeros, crops the width), other mean/std.
    func testVariantProcessorMatchesThePILProcessor() throws {
        try checkProcessor("processor-variant", expectedShape: [3, 3, 64, 60])
    }

    private func checkProcessor(_ folder: String, expectedShape: [Int]) throws {
        let processor = try CLIPImageProcessor(folder: CLIPFixtures.url(folder))
        let info = try CLIPFixtures.processorInfo(folder)
        let images = try info.images.map { try CLIPFixtures.image(named: $0) }
        let ours = try processor(images)
        let expected = try CLIPFixtures.pixelValues(folder)
        XCTAssertEqual(ours.shape, expectedShape)
        assertClose(ours, expected.scalars, tolerance: 1.0 / 255, "\(folder) pixel_values")
        // Per image, for the report.
        let per = ours.count / images.count
        for (i, name) in info.images.enumerated() {
            let a = Array(ours.scalars[(i * per)..<((i + 1) * per)]), b = Array(expected.scalars[(i * per)..<((i + 1) * per)])
            let (worst, _) = Golden.maxAbsDiff(a, b)
            let mismatches = zip(a, b).filter { $0 != $1 }.count
            print("\(folder) \(name) (\(images[i].width)x\(images[i].height)): max abs error \(worst), \(mismatches) values differ")
        }
    }

    /// `PillowResample.resize` against `Image.resize` on uint8 RGB: must be identical, byte for byte.
    func testResizeMatchesPillowExactly() throws {
        struct Case: Decodable { var image: String; var width: Int; var height: Int; var filter: Int; var file: String }
        struct Listing: Decodable { var pillow: String; var cases: [Case] }
        let listing = try Golden.json(Listing.self, CLIPFixtures.url("resize/resize.json"))
        XCTAssertFalse(listing.cases.isEmpty)
        print("resize goldens from Pillow \(listing.pillow)")
        for c in listing.cases {
            let image = try CLIPFixtures.image(named: c.image)
            let filter = try XCTUnwrap(PillowFilter(rawValue: c.filter))
            let ours = PillowResample.resize(image, width: c.width, height: c.height, filter: filter)
            let expected = try CLIPFixtures.bytes("resize", c.file)
            XCTAssertEqual(ours.pixels.count, expected.count, c.file)
            let worst = zip(ours.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? -1
            let differing = zip(ours.pixels, expected).filter { $0 != $1 }.count
            let order = PillowResample.horizontalFirst(width: image.width, height: image.height, toWidth: c.width,
                                                       toHeight: c.height) ? "horizontal first" : "vertical first"
            print("resize \(c.image) -> \(c.width)x\(c.height) \(filter) (\(order)): max abs difference \(worst) levels, "
                  + "\(differing) bytes differ")
            XCTAssertEqual(differing, 0, "\(c.file): \(differing) bytes differ (max \(worst) levels)")
        }
    }

    /// The same size is a plain copy (Pillow skips both passes).
    func testResizeToTheSameSizeIsACopy() throws {
        let image = try CLIPFixtures.image(width: 37, height: 23, seed: 9)
        XCTAssertEqual(PillowResample.resize(image, width: 37, height: 23, filter: .bicubic), image)
    }

    /// A 224x224 image is neither resized nor cropped: each value is NumPy's
    /// `float32((float32(float64(v) / 255) − mean) / std)` of its byte.
    func testImageAlreadyAtTheCropSize() throws {
        let image = try CLIPFixtures.image(width: 224, height: 224, seed: 5)
        let out = try CLIPImageProcessor()([image])
        let mean = CLIPImageProcessorConfig.openAIMean.map { Float($0) }, std = CLIPImageProcessorConfig.openAIStd.map { Float($0) }
        var expected = [Float](repeating: 0, count: 3 * 224 * 224)
        for i in 0..<(224 * 224) {
            for c in 0..<3 {
                expected[c * 224 * 224 + i] = (Float(Double(image.pixels[3 * i + c]) * (1.0 / 255)) - mean[c]) / std[c]
            }
        }
        XCTAssertEqual(out.scalars, expected)
    }

    /// The hub's old-style config (bare `size`, `crop_size`) and the defaults describe the same processor.
    func testConfigDecoding() throws {
        let openAI = try CLIPImageProcessor(folder: CLIPFixtures.url("processor-openai")).config
        XCTAssertEqual(openAI, CLIPImageProcessorConfig())
        let variant = try CLIPImageProcessor(folder: CLIPFixtures.url("processor-variant")).config
        XCTAssertEqual(variant.size, .exact(width: 70, height: 52))
        XCTAssertEqual([variant.cropWidth, variant.cropHeight], [60, 64])
        XCTAssertEqual(variant.resample, 2)
        XCTAssertEqual(variant.imageMean, [0.5, 0.4, 0.3])
    }

    func testConfigErrors() throws {
        let dir = try TestPaths.makeTempDir("clip-processor")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        assertThrows(["preprocessor_config.json", "no such file"]) { _ = try CLIPImageProcessor(folder: dir) }
        let url = dir.appendingPathComponent("preprocessor_config.json")
        try Data(#"{"resample": 1}"#.utf8).write(to: url)
        assertThrows(["preprocessor_config.json", "resample", "\"1\"", "bicubic"]) { _ = try CLIPImageProcessor(folder: dir) }
        try Data(#"{"size": {"longest_edge": 300}}"#.utf8).write(to: url)
        assertThrows(["preprocessor_config.json", "invalid config", "longest_edge"]) { _ = try CLIPImageProcessor(folder: dir) }
        try Data(#"{"image_mean": [0.5, 0.5]}"#.utf8).write(to: url)
        assertThrows(["preprocessor_config.json", "image_mean"]) { _ = try CLIPImageProcessor(folder: dir) }
    }

    func testInputErrors() throws {
        assertThrows(["10x10", "300 bytes", "got 299"]) {
            _ = try RGBImage(width: 10, height: 10, pixels: [UInt8](repeating: 0, count: 299))
        }
        let noCrop = try CLIPImageProcessor(config: CLIPImageProcessorConfig(doCenterCrop: false))
        let a = try CLIPFixtures.image(width: 320, height: 180, seed: 1), b = try CLIPFixtures.image(width: 50, height: 50, seed: 1)
        assertThrows(["image 1", "cannot batch"]) { _ = try noCrop([a, b]) }
        assertThrows(["no images"]) { _ = try noCrop([]) }
        XCTAssertEqual(try noCrop([a]).shape, [1, 3, 224, 398])
    }
}
