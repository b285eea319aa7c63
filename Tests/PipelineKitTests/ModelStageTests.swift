import Datasets
import FeatureStore
import Foundation
@testable import PipelineKit
import TestSupport
import Tensor
import XCTest

/// The hubert and clip stages end to end on the bundled sample, against transformers on the same media
/// (Tools/make_stage_goldens.py, with the sample's tiny checkpoints).
final class ModelStageTests: XCTestCase {
    struct Goldens: Decodable {
        struct Item: Decodable {
            var key: String
            var hubert: [Float]
            var hubert_frames: Int
            var clip_rows: [Float]
            var clip: [Float]
            var clip_frames: Int
        }
        var items: [Item]
    }

    func run(_ sets: [String], only: [String], label: String) throws -> URL {
        let tmp = try TestPaths.makeTempDir(label)
        let models = TestPaths.repoRoot.appendingPathComponent("Samples/models")
        let spec = try PipelineSpec.load(from: TestPaths.repoRoot.appendingPathComponent("Pipelines/extract.yaml"), overrides: [
            "hubert.model=\(models.appendingPathComponent("hubert-tiny").path)",
            "clip.model=\(models.appendingPathComponent("clip-tiny").path)",
        ] + sets)
        var options = Engine.Options(datasetRoot: TestPaths.repoRoot.appendingPathComponent("Samples/MELD.Raw"),
                                     cacheDir: tmp.appendingPathComponent("Cache"),
                                     manifestsDir: tmp.appendingPathComponent("Manifests"), splits: [.train])
        options.only = only
        options.progress = false
        let summary = try Engine(spec: spec, options: options).run()
        XCTAssertTrue(summary.failures.isEmpty, "\(summary.failures)")
        return tmp.appendingPathComponent("Cache/meld")
    }

    func testHubertAndClipMatchTransformersOnTheSample() throws {
        let golden = try Golden.json(Goldens.self, TestPaths.fixture("stages/sample.json"))
        let cache = try run([], only: ["hubert", "clip"], label: "stages")

        // HuBERT: the stage's audio equals ffmpeg's within 1e-4, so the mean of the last layer agrees within 1e-3.
        let h = try FeatureFile(url: cache.appendingPathComponent("hubert/train.h5"))
        XCTAssertEqual(try h.readStrings("keys"), golden.items.map(\.key))
        XCTAssertEqual(try h.readInt64s("n_frames").map(Int.init), golden.items.map(\.hubert_frames))
        let (hw, _) = Golden.maxAbsDiff(try h.readFloats("features"), golden.items.flatMap(\.hubert))
        print("hubert stage: max abs error \(hw)")
        XCTAssertLessThanOrEqual(hw, 1e-3)

        // CLIP: the frames are byte-equal to ffmpeg's, so per-frame embeddings agree within 1e-4.
        let c = try FeatureFile(url: cache.appendingPathComponent("clip/train.h5"))
        XCTAssertEqual(try c.readInt64s("n_frames").map(Int.init), golden.items.map(\.clip_frames))
        XCTAssertEqual(try c.readInt64s("n_valid").map(Int.init), golden.items.map(\.clip_frames))
        let (rw, _) = Golden.maxAbsDiff(try c.readFloats("values"), golden.items.flatMap(\.clip_rows))
        let (mw, _) = Golden.maxAbsDiff(try c.readFloats("features"), golden.items.flatMap(\.clip))
        print("clip stage: max abs error per frame \(rw), mean \(mw)")
        XCTAssertLessThanOrEqual(rw, 1e-4)
        XCTAssertLessThanOrEqual(mw, 1e-4)
        if case .string(let note)? = c.attributes["model_sha256"] { XCTAssertEqual(note.count, 64) } else { XCTFail("no model hash") }
        if case .string(let products)? = c.attributes["weight_products"] {
            XCTAssertEqual(products, BLAS.productPrecision.rawValue)
        } else { XCTFail("no weight_products attribute") }
    }

    /// Windowed HuBERT keeps the frame count and timing of one pass, and the frame sequence when asked.
    func testHubertWindowsAndFrameSequence() throws {
        let cache = try run(["hubert.window_seconds=1", "hubert.keep_frames=true", "hubert.layer=1"], only: ["hubert"], label: "hubert-win")
        let golden = try Golden.json(Goldens.self, TestPaths.fixture("stages/sample.json"))
        let h = try FeatureFile(url: cache.appendingPathComponent("hubert/train.h5"))
        let offsets = try h.readInt64s("offsets")
        XCTAssertEqual(offsets.last.map(Int.init), golden.items.map(\.hubert_frames).reduce(0, +))
        let times = try h.readFloats("frame_times")
        XCTAssertEqual(times[1], 0.02, accuracy: 1e-6)
        XCTAssertEqual(try h.shape(of: "values").dropFirst(), [32])
    }

    /// clip on faces: the sample has no faces, so every item is valid with n_valid 0 and zero features (the mask).
    func testClipOnFacesMasksItemsWithoutFaces() throws {
        let weights = TestPaths.repoRoot.appendingPathComponent("Tools/.downloads/mtcnn")
        guard FileManager.default.fileExists(atPath: weights.appendingPathComponent("onet.safetensors").path) else {
            throw XCTSkip("MTCNN weights are not converted: run Tools/fetch_mtcnn.sh")
        }
        let cache = try run(["clip.input=faces", "faces.model=\(weights.path)"], only: ["clip"], label: "clip-faces")
        let c = try FeatureFile(url: cache.appendingPathComponent("clip/train.h5"))
        XCTAssertEqual(try c.readInt64s("valid"), [Int64](repeating: 1, count: 8))
        XCTAssertEqual(try c.readInt64s("n_valid"), [Int64](repeating: 0, count: 8))
        XCTAssertEqual(Set(try c.readFloats("features")), [0])
        XCTAssertEqual(Set(try c.readInt64s("frame_valid")), [0])
    }
}
