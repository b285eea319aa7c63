import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The vision tower against transformers (goldens from `Tools/make_clip_goldens.py`). Tolerance: 1e-4 absolute on
/// every output (float32 with another summation order; observed errors are printed).
final class CLIPVisionGoldenTests: XCTestCase {
    let tolerance: Float = 1e-4

    private func check(_ out: CLIPVisionModel.Output, _ folder: String, layers: Int) throws {
        assertClose(out.pooled, try CLIPFixtures.floats(folder, "pooled.f32"), tolerance: tolerance, "\(folder) pooled")
        assertClose(out.imageEmbeds, try CLIPFixtures.floats(folder, "image_embeds.f32"), tolerance: tolerance,
                    "\(folder) image_embeds")
        assertClose(out.lastHiddenState, try CLIPFixtures.floats(folder, "last_hidden_state.f32"), tolerance: tolerance,
                    "\(folder) last_hidden_state")
        let hidden = try XCTUnwrap(out.hiddenStates)
        XCTAssertEqual(hidden.count, layers + 1)
        assertClose(Tensor.concatenate(hidden.map { $0.reshaped([1] + $0.shape) }, axis: 0),
                    try CLIPFixtures.floats(folder, "hidden_states.f32"), tolerance: tolerance, "\(folder) hidden_states")
        XCTAssertEqual(hidden.last?.scalars, out.lastHiddenState.scalars)
    }

    /// A full CLIPModel checkpoint (text tower, logit_scale and int64 position_ids present and ignored) on the
    /// Python processor's pixel values for the five test images.
    func testTinyCLIPModelMatchesTransformers() throws {
        let model = try CLIPVisionModel(folder: CLIPFixtures.url("clip-tiny"))
        XCTAssertEqual(model.config.projectionDim, 16, "CLIPModel's projection is sized by the top-level projection_dim")
        XCTAssertEqual(model.config.hiddenSize, 32)
        let pixels = try CLIPFixtures.pixelValues("processor-openai")
        try forEachProductPrecision { _ in
            let out = try model.forward(pixelValues: pixels, outputHiddenStates: true)
            XCTAssertEqual(out.lastHiddenState.shape, [5, 50, 32])
            XCTAssertEqual(out.pooled.shape, [5, 32])
            XCTAssertEqual(out.imageEmbeds.shape, [5, 16])
            try check(out, "clip-tiny", layers: 2)
        }
    }

    /// Images to embeddings with our processor and model, against the Python processor + model.
    func testProcessorAndModelEndToEnd() throws {
        let model = try CLIPVisionModel(folder: CLIPFixtures.url("clip-tiny"))
        let processor = try CLIPImageProcessor(folder: CLIPFixtures.url("processor-openai"))
        let info = try CLIPFixtures.processorInfo("processor-openai")
        let images = try info.images.map { try CLIPFixtures.image(named: $0) }
        let out = try model.forward(pixelValues: try processor(images))
        assertClose(out.imageEmbeds, try CLIPFixtures.floats("clip-tiny", "image_embeds.f32"), tolerance: tolerance,
                    "end to end image_embeds")
        XCTAssertNil(out.hiddenStates)
    }

    /// A CLIPVisionModelWithProjection checkpoint (vision-only config) with hidden_act "gelu", 3 heads of 8.
    func testVisionModelWithProjectionMatchesTransformers() throws {
        let model = try CLIPVisionModel(folder: CLIPFixtures.url("clip-vision-proj"))
        XCTAssertEqual(model.config.hiddenAct, "gelu")
        XCTAssertEqual(model.config.numPositions, 17)
        let pixels = Tensor(shape: [2, 3, 32, 32], try CLIPFixtures.floats("clip-vision-proj", "pixel_values.f32"))
        try forEachProductPrecision { _ in
            try check(try model.forward(pixelValues: pixels, outputHiddenStates: true), "clip-vision-proj", layers: 3)
        }
    }

    /// Each image's result does not depend on the rest of the batch, and one model serves several threads.
    func testBatchIndependenceAndConcurrentUse() throws {
        let model = try CLIPVisionModel(folder: CLIPFixtures.url("clip-tiny"))
        let pixels = try CLIPFixtures.pixelValues("processor-openai")
        let batch = try model.forward(pixelValues: pixels).imageEmbeds
        let expected = try CLIPFixtures.floats("clip-tiny", "image_embeds.f32")
        let results = UnsafeMutableBufferPointer<Tensor?>.allocate(capacity: 5)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 5) { i in
            results[i] = try? model.forward(pixelValues: pixels.slice(axis: 0, i..<(i + 1))).imageEmbeds
        }
        for i in 0..<5 {
            let single = try XCTUnwrap(results[i], "image \(i) failed")
            assertClose(single, Array(expected[(i * 16)..<((i + 1) * 16)]), tolerance: tolerance, "image \(i) alone")
            assertClose(single, Array(batch.scalars[(i * 16)..<((i + 1) * 16)]), tolerance: 1e-5, "image \(i) alone vs in batch")
        }
    }

    /// The benchmark's random model runs and counts its flops (a tiny shape; the real figures come from the bench).
    func testBenchmarkSmoke() throws {
        let config = CLIPVisionConfig(hiddenSize: 32, intermediateSize: 64, projectionDim: 16, numHiddenLayers: 2,
                                      numAttentionHeads: 4, imageSize: 64, patchSize: 16)
        let model = try CLIPBenchmark.randomModel(config: config)
        let threads = BLAS.threads
        defer { BLAS.setThreads(threads) }
        let r = try CLIPBenchmark.timeForward(model: model, batch: 2, threads: 1, repeats: 2)
        XCTAssertEqual(r.seconds.count, 2)
        XCTAssertGreaterThan(r.gflops, 0)
        XCTAssertGreaterThan(CLIPBenchmark.flops(batch: 8), 70e9)   // ViT-B/32, batch 8: ≈ 70.6 GFLOP
    }
}
