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

    func run(_ sets: [String], only: [String], label: String, splits: [Split] = [.train]) throws -> URL {
        let tmp = try TestPaths.makeTempDir(label)
        let models = TestPaths.repoRoot.appendingPathComponent("Samples/models")
        let spec = try PipelineSpec.load(from: TestPaths.repoRoot.appendingPathComponent("Pipelines/extract.yaml"), overrides: [
            "hubert.model=\(models.appendingPathComponent("hubert-tiny").path)",
            "clip.model=\(models.appendingPathComponent("clip-tiny").path)",
        ] + sets)
        var options = Engine.Options(datasetRoot: TestPaths.repoRoot.appendingPathComponent("Samples/MELD.Raw"),
                                     cacheDir: tmp.appendingPathComponent("Cache"),
                                     manifestsDir: tmp.appendingPathComponent("Manifests"), splits: splits)
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

    /// clip on faces: the sample's train clips have no faces, so every item is valid with n_valid 0 and zero
    /// features (the mask).
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

    /// The sample's one face (dev/dia0_utt0 shows a portrait from 1 s to 2.5 s; `Tools/make_sample.sh`): `faces`
    /// finds it in the 3 sampled frames that show it (t = 1.25, 1.67, 2.08 s) and in no other, and `clip` on faces
    /// averages exactly those 3 crops; the other dev clips stay masked.
    func testTheSampleFaceIsFoundAndEmbedded() throws {
        let weights = TestPaths.repoRoot.appendingPathComponent("Tools/.downloads/mtcnn")
        guard FileManager.default.fileExists(atPath: weights.appendingPathComponent("onet.safetensors").path) else {
            throw XCTSkip("MTCNN weights are not converted: run Tools/fetch_mtcnn.sh")
        }
        let cache = try run(["clip.input=faces", "faces.model=\(weights.path)"], only: ["clip"], label: "clip-face",
                            splits: [.dev])
        let f = try FeatureFile(url: cache.appendingPathComponent("faces/dev.h5"))
        XCTAssertEqual(try f.readStrings("keys"), ["dev/dia0_utt0", "dev/dia0_utt1", "dev/dia0_utt2"])
        XCTAssertEqual(try f.readInt64s("n_faces"), [3, 0, 0])
        XCTAssertEqual(Array(try f.readInt64s("frame_valid").prefix(9)), [0, 0, 0, 1, 1, 1, 0, 0, 0])
        XCTAssertTrue(try f.readFloats("probs").allSatisfy { $0 == 0 || $0 > 0.99 })
        let c = try FeatureFile(url: cache.appendingPathComponent("clip/dev.h5"))
        XCTAssertEqual(try c.readInt64s("valid"), [1, 1, 1])
        XCTAssertEqual(try c.readInt64s("n_valid"), [3, 0, 0])
        let features = try c.readFloats("features"), width = features.count / 3
        XCTAssertTrue(features[0..<width].contains { $0 != 0 }, "the face's embedding is all zeros")
        XCTAssertEqual(Set(features[width...]), [0], "clips without a face must be masked with zeros")
    }
}
