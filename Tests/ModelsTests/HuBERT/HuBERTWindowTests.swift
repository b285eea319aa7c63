import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The windowed API for long inputs.
final class HuBERTWindowTests: XCTestCase {
    /// A clip no longer than the window is one window over all its samples: bit-for-bit the single pass.
    func testShortClipEqualsSinglePass() throws {
        let model = try HubertModel(folder: HubertFixtures.model("hubert-tiny-a"))
        let input = try HubertFixtures.audio("2.3s", "normalized")
        let single = try model.forward(input, outputHiddenStates: true)
        // 2.3 s is 36800 samples, one short of the clip, but all 114 frames fit: still the single pass.
        for seconds in [2.3, 2.31, 20] {
            let windowed = try model.forwardWindowed(input, windowSeconds: seconds, outputHiddenStates: true)
            XCTAssertEqual(windowed.lastHiddenState.shape, single.lastHiddenState.shape)
            XCTAssertTrue(windowed.lastHiddenState.scalars == single.lastHiddenState.scalars, "window \(seconds) s")
            XCTAssertEqual(windowed.hiddenStates?.count, single.hiddenStates?.count)
            for (a, b) in zip(windowed.hiddenStates ?? [], single.hiddenStates ?? []) {
                XCTAssertTrue(a.scalars == b.scalars, "window \(seconds) s: hidden states differ")
            }
        }
        XCTAssertEqual(try model.windows(sampleCount: input.count, windowSeconds: 2.28).count, 2)
        XCTAssertEqual(try model.windows(sampleCount: input.count, windowSeconds: 20),
                       [HubertModel.Window(samples: 0..<input.count, frames: 0..<114)])
    }

    /// Window plans: frames split evenly and contiguously, each window at most `windowSeconds` long and reading
    /// exactly its frames' receptive fields.
    func testWindowPlans() throws {
        let model = try HubertModel.randomWeights(config: HubertConfig(hiddenSize: 32, numHiddenLayers: 1,
                                                                       numAttentionHeads: 4, intermediateSize: 37,
                                                                       convDim: Array(repeating: 16, count: 7),
                                                                       numConvPosEmbeddings: 16,
                                                                       numConvPosEmbeddingGroups: 4))
        let config = model.config
        for (samples, seconds) in [(36801, 1.0), (16000 * 300 + 123, 20.0), (16000 * 41, 20.0), (1000, 0.025),
                                   (320_401, 20.0), (320_400, 20.0), (320_319, 20.0), (320_320, 20.0)] {
            let plan = try model.windows(sampleCount: samples, windowSeconds: seconds)
            let total = config.frameCount(samples: samples)
            XCTAssertEqual(plan.first?.frames.lowerBound, 0)
            XCTAssertEqual(plan.last?.frames.upperBound, total, "\(samples) samples")
            for (a, b) in zip(plan, plan.dropFirst()) { XCTAssertEqual(a.frames.upperBound, b.frames.lowerBound) }
            let sizes = plan.map(\.frames.count)
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "even split \(sizes)")
            for w in plan where plan.count > 1 {
                XCTAssertLessThanOrEqual(w.samples.count, Int((seconds * 16000).rounded()), "\(w)")
                XCTAssertEqual(config.frameCount(samples: w.samples.count), w.frames.count, "\(w)")
                XCTAssertEqual(w.samples.lowerBound, w.frames.lowerBound * 320)
                XCTAssertEqual(w.samples.upperBound, (w.frames.upperBound - 1) * 320 + 400)
            }
            if plan.count == 1 { XCTAssertEqual(plan[0].samples, 0..<samples) }
            print("\(samples) samples, \(seconds) s windows: \(plan.count) windows of \(Set(sizes).sorted()) frames")
        }
        XCTAssertEqual(try model.windows(sampleCount: 300 * 16000, windowSeconds: 20).count, 16)  // 14999 / 999 frames
        XCTAssertThrowsError(try model.windows(sampleCount: 16000, windowSeconds: 0.02))          // < 400 samples
        XCTAssertThrowsError(try model.windows(sampleCount: 399, windowSeconds: 20))
    }

    /// A long clip: the concatenation has the single pass's frame count, every window equals `forward` on its own
    /// samples, and no window reads more than `windowSeconds` of audio (what bounds the memory).
    func testLongClipIsConcatenationOfWindows() throws {
        let model = try HubertModel(folder: HubertFixtures.model("hubert-tiny-a"))
        let piece = try HubertFixtures.audio("2.3s", "normalized")
        let clip = (0..<13).flatMap { i in piece.map { $0 * (1 + 0.01 * Float(i)) } }   // 29.9 s
        let seconds = 3.5
        var seen: [HubertModel.Window] = []
        var maxWindowSamples = 0
        try model.forEachWindow(clip, windowSeconds: seconds) { window, out in
            seen.append(window)
            maxWindowSamples = max(maxWindowSamples, window.samples.count)
            XCTAssertEqual(out.lastHiddenState.shape, [1, window.frames.count, 32])
        }
        XCTAssertLessThanOrEqual(maxWindowSamples, Int(seconds * 16000))
        XCTAssertEqual(seen.count, 9)   // 1494 frames, at most 174 per 3.5 s window
        let all = try model.forwardWindowed(clip, windowSeconds: seconds, outputHiddenStates: true)
        let frames = model.config.frameCount(samples: clip.count)
        XCTAssertEqual(all.lastHiddenState.shape, [1, frames, 32])
        XCTAssertEqual(all.hiddenStates?.count, 3)
        XCTAssertTrue(all.hiddenStates?.last?.scalars == all.lastHiddenState.scalars)
        for w in [seen[0], seen[4], seen[8]] {
            let alone = try model.forward(Array(clip[w.samples])).lastHiddenState
            let slice = all.lastHiddenState.slice(axis: 1, w.frames)
            XCTAssertTrue(slice.scalars == alone.scalars, "window \(w): differs from forward on its samples")
        }
        // Away from the cuts the windows agree with a single pass only approximately (context is lost), so check
        // the single pass is different but the same size: windowing changes values, never the frame grid.
        let single = try model.forward(clip).lastHiddenState
        XCTAssertEqual(single.shape, all.lastHiddenState.shape)
    }
}
