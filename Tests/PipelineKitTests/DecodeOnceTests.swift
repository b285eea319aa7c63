import Datasets
import Foundation
@testable import PipelineKit
import TestSupport
import XCTest

/// An audio stage that counts how often it runs (instead of decoding, it returns a 1 s tone).
private enum CountingAudio: StageKind {
    static let kind = "audio"
    static let version = 1
    static let input = StageInput.media
    static let paramSchema = AudioStage.paramSchema
    static let lock = NSLock()
    nonisolated(unsafe) static var runs = 0

    static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner { Runner() }

    final class Runner: StageRunner, @unchecked Sendable {
        var output: OutputSchema? { nil }
        func run(_ item: ItemContext) throws -> StageValue {
            CountingAudio.lock.lock(); CountingAudio.runs += 1; CountingAudio.lock.unlock()
            return .audio(samples: (0..<16000).map { Float(sin(Double($0) * 0.1)) }, sampleRate: 16000)
        }
    }
}

final class DecodeOnceTests: XCTestCase {
    /// mfcc and melspec both need audio: each clip's audio stage runs once, not once per consumer.
    func testEachClipIsDecodedOnceForAllAudioStages() throws {
        var registry = StageRegistry.standard
        registry.kinds["audio"] = CountingAudio.self
        let spec = try PipelineSpec.load(from: TestPaths.repoRoot.appendingPathComponent("Pipelines/extract.yaml"), registry: registry)
        let tmp = try TestPaths.makeTempDir("once")
        var options = Engine.Options(datasetRoot: TestPaths.repoRoot.appendingPathComponent("Samples/MELD.Raw"),
                                     cacheDir: tmp.appendingPathComponent("Cache"),
                                     manifestsDir: tmp.appendingPathComponent("Manifests"), splits: Split.allCases)
        options.progress = false
        options.only = ["mfcc", "melspec"]
        CountingAudio.runs = 0
        let summary = try Engine(spec: spec, options: options, registry: registry).run()
        XCTAssertEqual(summary.computedItems["mfcc"], 14)
        XCTAssertEqual(summary.computedItems["melspec"], 14)
        XCTAssertEqual(CountingAudio.runs, 14, "one audio run per clip for both consumers")
    }
}
