import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Where the HuBERT tests find their fixtures: `Tests/Fixtures/hubert/`, written by `Tools/make_hubert_goldens.py`.
enum HubertFixtures {
    static let root = TestPaths.fixture("hubert")

    struct Inputs: Decodable {
        struct Clip: Decodable {
            var name: String
            var samples: Int
            var frames: Int
            var raw: Bool
        }
        var clips: [Clip]
        var models: [String]
    }

    static func inputs() throws -> Inputs { try Golden.json(Inputs.self, root.appendingPathComponent("inputs.json")) }

    /// `audio/<clip>.<kind>.f32`, kind "raw" or "normalized".
    static func audio(_ clip: String, _ kind: String) throws -> [Float] {
        try Golden.floats(root.appendingPathComponent("audio/\(clip).\(kind).f32"))
    }

    static func model(_ name: String) -> URL { root.appendingPathComponent(name) }

    static func floats(_ model: String, _ file: String) throws -> [Float] {
        try Golden.floats(root.appendingPathComponent(model).appendingPathComponent(file))
    }

    /// A copy of model folder `name` in a fresh temp folder (removed by the test's teardown), for tests that damage it.
    static func tempCopy(_ name: String, _ test: XCTestCase) throws -> URL {
        let dir = try TestPaths.makeTempDir("hubert")
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let folder = dir.appendingPathComponent(name)
        try FileManager.default.copyItem(at: model(name), to: folder)
        return folder
    }
}

/// Parity with transformers 5.23 on tiny random models (see `Tools/make_hubert_goldens.py`): every hidden state
/// within 1e-4 absolute (float32, different GEMM summation orders; the observed errors are printed, ~1e-6), under
/// both weight-product precisions (`forEachProductPrecision`).
final class HuBERTGoldenTests: XCTestCase {
    static let tolerance: Float = 1e-4

    func testEveryModelAndClipMatchesTransformers() throws {
        let inputs = try HubertFixtures.inputs()
        XCTAssertEqual(inputs.models.sorted(), ["hubert-tiny-a", "hubert-tiny-b", "wav2vec2-tiny"])
        for name in inputs.models {
            let model = try HubertModel(folder: HubertFixtures.model(name))
            try forEachProductPrecision { precision in
                for clip in inputs.clips {
                    let label = "\(name) \(clip.name) \(precision)"
                    let values = try HubertFixtures.audio(clip.name, "normalized")
                    XCTAssertEqual(values.count, clip.samples, label)
                    XCTAssertEqual(model.config.frameCount(samples: clip.samples), clip.frames, label)
                    let out = try model.forward(values, outputHiddenStates: true)
                    let h = model.config.hiddenSize
                    XCTAssertEqual(out.lastHiddenState.shape, [1, clip.frames, h], label)
                    assertClose(out.lastHiddenState, try HubertFixtures.floats(name, "\(clip.name).last_hidden_state.f32"),
                                tolerance: Self.tolerance, "\(label) last_hidden_state")
                    let expected = try HubertFixtures.floats(name, "\(clip.name).hidden_states.f32")
                    let states = try XCTUnwrap(out.hiddenStates, label)
                    XCTAssertEqual(states.count, model.config.numHiddenLayers + 1, label)
                    let per = clip.frames * h
                    XCTAssertEqual(expected.count, states.count * per, label)
                    for (i, state) in states.enumerated() where expected.count == states.count * per {
                        assertClose(state, Array(expected[(i * per)..<((i + 1) * per)]), tolerance: Self.tolerance,
                                    "\(label) hidden_states[\(i)]")
                    }
                    XCTAssertEqual(states.last!.scalars, out.lastHiddenState.scalars, "\(label): last hidden state")
                }
            }
        }
    }

    /// A batch of equal-length clips gives each clip's single-clip result.
    func testBatchEqualsSingleClips() throws {
        let model = try HubertModel(folder: HubertFixtures.model("hubert-tiny-a"))
        let a = try HubertFixtures.audio("1s", "normalized")
        let b = Array(try HubertFixtures.audio("2.3s", "normalized").prefix(a.count))
        let batch = try model.forward(Tensor(shape: [2, a.count], a + b))
        let frames = model.config.frameCount(samples: a.count)
        XCTAssertEqual(batch.lastHiddenState.shape, [2, frames, 32])
        for (i, clip) in [a, b].enumerated() {
            let single = try model.forward(clip).lastHiddenState
            let row = batch.lastHiddenState.slice(axis: 0, i..<(i + 1))
            XCTAssertLessThanOrEqual(Golden.maxAbsDiff(row.scalars, single.scalars).value, 1e-5, "batch row \(i)")
        }
    }

    /// One model, several threads at once: the weights are read-only and `forward` keeps no state.
    func testConcurrentForwardCalls() throws {
        let model = try HubertModel(folder: HubertFixtures.model("wav2vec2-tiny"))
        let inputs = [try HubertFixtures.audio("1s", "normalized"), try HubertFixtures.audio("2.3s", "normalized")]
        let expected = try inputs.map { try model.forward($0).lastHiddenState.scalars }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var mismatches = 0
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let got = (try? model.forward(inputs[i % 2]).lastHiddenState.scalars) ?? []
            let differs = got.count != expected[i % 2].count || Golden.maxAbsDiff(got, expected[i % 2]).value > 1e-6
            results.lock.lock()
            if differs { results.mismatches += 1 }
            results.lock.unlock()
        }
        XCTAssertEqual(results.mismatches, 0)
    }

    /// `Wav2Vec2FeatureExtractor`'s zero-mean unit-variance normalisation, against numpy's float32 result.
    func testFeatureExtractorNormalisation() throws {
        let inputs = try HubertFixtures.inputs()
        for name in inputs.models {
            let extractor = try HubertFeatureExtractor.load(from: HubertFixtures.model(name))
            XCTAssertEqual(extractor, HubertFeatureExtractor(), name)
        }
        let extractor = HubertFeatureExtractor()
        for clip in inputs.clips where clip.raw {
            let raw = try HubertFixtures.audio(clip.name, "raw")
            let expected = try HubertFixtures.audio(clip.name, "normalized")
            let got = try extractor(raw, samplingRate: 16000)
            let (worst, at) = Golden.maxAbsDiff(got, expected)
            print("normalisation \(clip.name): max abs error \(worst) at \(at)")
            XCTAssertLessThanOrEqual(worst, 2e-6, clip.name)
        }
        let passthrough = HubertFeatureExtractor(doNormalize: false)
        XCTAssertEqual(try passthrough([1, 2, 3], samplingRate: 16000), [1, 2, 3])
        XCTAssertThrowsError(try extractor([1, 2, 3], samplingRate: 44100)) { error in
            XCTAssertTrue("\(error)".contains("44100"), "\(error)")
        }
        // A constant clip has zero variance: the 1e-7 floor keeps it finite (all zeros).
        XCTAssertEqual(HubertFeatureExtractor.normalize([0.5, 0.5, 0.5]), [0, 0, 0])
    }

    /// Frame count and timing helpers: frame i covers samples 320·i ..< 320·i + 400 (hubert-base's shape).
    func testFrameHelpers() {
        let config = HubertConfig()
        XCTAssertEqual(config.samplesPerFrame, 320)
        XCTAssertEqual(config.receptiveField, 400)
        XCTAssertEqual(config.frameCount(samples: 399), 0)
        XCTAssertEqual(config.frameCount(samples: 400), 1)
        XCTAssertEqual(config.frameCount(samples: 16000), 49)
        XCTAssertEqual(config.frameCount(samples: 64000), 199)
        for n in stride(from: 400, to: 40000, by: 37) {
            XCTAssertEqual(config.frameCount(samples: n), (n - 400) / 320 + 1, "\(n) samples")
        }
        XCTAssertEqual(config.sampleRange(frame: 3), 960..<1360)
        XCTAssertEqual(config.frameStartTime(50), 1.0, accuracy: 1e-12)
    }

    func testInvalidInputs() throws {
        let model = try HubertModel(folder: HubertFixtures.model("hubert-tiny-a"))
        XCTAssertThrowsError(try model.forward([Float](repeating: 0, count: 399))) { error in
            XCTAssertTrue("\(error)".contains("399 samples"), "\(error)")
        }
        XCTAssertThrowsError(try model.forward([Float]()))
        XCTAssertThrowsError(try model.forward(Tensor(shape: [1, 1, 400], repeating: 0)))
    }
}
