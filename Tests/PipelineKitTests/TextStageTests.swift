import Datasets
import FeatureStore
import Foundation
@testable import PipelineKit
import TestSupport
import XCTest

/// The `text` stage end to end: goldens from transformers (Tools/make_text_goldens.py) on a CSV-only dataset
/// root, fingerprints that follow the checkpoint's content, and clear errors for bad model folders.
final class TextStageTests: XCTestCase {
    /// Features agree with transformers within this (absolute): the model-parity tolerance of the BERT tests.
    let tolerance: Float = 1e-4

    static let fixture = TestPaths.fixture("text")
    static let tinyModel = TestPaths.repoRoot.appendingPathComponent("Samples/models/bert-tiny")

    struct Cases: Decodable {
        struct Item: Decodable { var key: String; var n_tokens: Int; var truncated: Int; var features: [Float]; var tokens: [Float]? }
        struct Case: Decodable { var name: String; var params: [String: ParamJSON]; var items: [Item] }
        var cases: [Case]
    }

    enum ParamJSON: Decodable {
        case int(Int), string(String), bool(Bool)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let i = try? c.decode(Int.self) { self = .int(i) }
            else { self = .string(try c.decode(String.self)) }
        }
        var text: String {
            switch self { case .int(let i): return String(i); case .string(let s): return s; case .bool(let b): return String(b) }
        }
    }

    func engine(root: URL, cache: URL, sets: [String], only: [String] = ["text"], splits: [Split] = [.train]) throws -> Engine {
        let spec = try PipelineSpec.load(from: TestPaths.repoRoot.appendingPathComponent("Pipelines/extract.yaml"), overrides: sets)
        var options = Engine.Options(datasetRoot: root, cacheDir: cache.appendingPathComponent("Cache"),
                                     manifestsDir: cache.appendingPathComponent("Manifests"), splits: splits)
        options.only = only
        options.progress = false
        return try Engine(spec: spec, options: options)
    }

    func testMatchesTransformersOnEveryOptionWithOnlyCSVs() throws {
        let root = Self.fixture.appendingPathComponent("MELD.Raw")
        let entries = try FileManager.default.contentsOfDirectory(atPath: root.path)
        XCTAssertEqual(entries, ["train_sent_emo.csv"], "the fixture root holds only the CSV: the stage needs no media")
        let cases = try Golden.json(Cases.self, Self.fixture.appendingPathComponent("cases.json"))
        XCTAssertEqual(cases.cases.count, 6)
        for c in cases.cases {
            let tmp = try TestPaths.makeTempDir("text-\(c.name)")
            let sets = ["text.model=\(Self.tinyModel.path)"] + c.params.map { "text.\($0.key)=\($0.value.text)" }
            let summary = try engine(root: root, cache: tmp, sets: sets).run()
            XCTAssertTrue(summary.failures.isEmpty, "\(c.name): \(summary.failures)")
            let file = try FeatureFile(url: tmp.appendingPathComponent("Cache/meld/text/train.h5"))
            let keys = try file.readStrings("keys")
            XCTAssertEqual(keys, c.items.map(\.key), c.name)
            XCTAssertEqual(try file.readInt64s("valid"), [Int64](repeating: 1, count: keys.count), c.name)
            XCTAssertEqual(try file.readInt64s("n_tokens").map(Int.init), c.items.map(\.n_tokens), "\(c.name): n_tokens")
            XCTAssertEqual(try file.readInt64s("truncated").map(Int.init), c.items.map(\.truncated), "\(c.name): truncated")
            let features = try file.readFloats("features")
            let expected = c.items.flatMap(\.features)
            XCTAssertEqual(features.count, expected.count, c.name)
            let (worst, at) = Golden.maxAbsDiff(features, expected)
            print("text \(c.name): max abs error \(worst) at \(at)")
            XCTAssertLessThanOrEqual(worst, tolerance, "\(c.name): features")
            if c.items.first?.tokens != nil {
                let values = try file.readFloats("values")
                let offsets = try file.readInt64s("offsets")
                XCTAssertEqual(offsets.last.map(Int.init), c.items.map(\.n_tokens).reduce(0, +))
                let (w, _) = Golden.maxAbsDiff(values, c.items.flatMap { $0.tokens! })
                XCTAssertLessThanOrEqual(w, tolerance, "\(c.name): token rows")
            }
        }
    }

    /// The empty utterance is `[CLS] [SEP]` and valid; the 300-word one is cut to 128 tokens and flagged.
    func testEmptyAndOverlongUtterancesAreDocumentedOutcomes() throws {
        let cases = try Golden.json(Cases.self, Self.fixture.appendingPathComponent("cases.json"))
        let cls = cases.cases.first { $0.name == "cls" }!
        let empty = cls.items.first { $0.key == "train/dia0_utt5" }!
        XCTAssertEqual(empty.n_tokens, 2)
        let long = cls.items.first { $0.key == "train/dia1_utt1" }!
        XCTAssertEqual(long.n_tokens, 128)
        XCTAssertEqual(long.truncated, 1)
    }

    /// Another checkpoint recomputes text and nothing else; the same checkpoint moved elsewhere recomputes nothing.
    func testCheckpointContentIsPartOfTheFingerprint() throws {
        let tmp = try TestPaths.makeTempDir("text-fp")
        let modelA = tmp.appendingPathComponent("a/bert")
        try FileManager.default.createDirectory(at: modelA.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.tinyModel, to: modelA)
        let root = TestPaths.repoRoot.appendingPathComponent("Samples/MELD.Raw")
        func run(_ model: URL) throws -> Engine.Summary {
            try engine(root: root, cache: tmp, sets: ["text.model=\(model.path)"], only: ["mfcc", "text"], splits: Split.allCases).run()
        }
        let first = try run(modelA)
        XCTAssertEqual(first.computedItems["text"], 14)
        XCTAssertEqual(first.computedItems["mfcc"], 14)
        XCTAssertEqual(try run(modelA).computedItems, [:], "nothing changed: nothing recomputed")

        let moved = tmp.appendingPathComponent("b/bert")
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: modelA, to: moved)
        XCTAssertEqual(try run(moved).computedItems, [:], "same bytes in another folder: nothing recomputed")

        // Another checkpoint: one weight byte changed (the file stays valid).
        let weights = moved.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 3] ^= 0x01
        try bytes.write(to: weights)
        let plan = try engine(root: root, cache: tmp, sets: ["text.model=\(moved.path)"], only: ["mfcc", "text"],
                              splits: Split.allCases).plan()
        let textReasons = plan.first { $0.stage.name == "text" }!.splits.flatMap(\.shards).flatMap(\.reasons.keys)
        XCTAssertEqual(Set(textReasons), [.paramsChanged])
        let third = try run(moved)
        XCTAssertEqual(third.computedItems["text"], 14)
        XCTAssertNil(third.computedItems["mfcc"], "mfcc does not depend on the checkpoint")
    }

    func testBadModelFoldersAreConfigurationErrors() throws {
        let tmp = try TestPaths.makeTempDir("text-bad")
        let root = Self.fixture.appendingPathComponent("MELD.Raw")
        func error(_ model: URL, _ extra: [String] = []) -> String {
            do {
                _ = try engine(root: root, cache: tmp, sets: ["text.model=\(model.path)"] + extra)
                return "no error"
            } catch let e as ConfigurationError { return e.message } catch { return "unexpected \(error)" }
        }
        func copy(_ name: String) throws -> URL {
            let url = tmp.appendingPathComponent(name)
            try FileManager.default.copyItem(at: Self.tinyModel, to: url)
            return url
        }
        // Missing folder: says which, and how to fix it.
        let missing = error(tmp.appendingPathComponent("nope"))
        XCTAssertTrue(missing.contains("nope") && missing.contains("does not exist") && missing.contains("--set text.model="), missing)

        // Truncated safetensors: names the file.
        let truncated = try copy("truncated")
        let w = truncated.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: w)
        try data.prefix(data.count / 2).write(to: w)
        let t = error(truncated)
        XCTAssertTrue(t.contains("model.safetensors") && t.contains("cannot load"), t)

        // A config that does not match the weights: names the tensor and the shapes.
        let mismatched = try copy("mismatched")
        let configURL = mismatched.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        config["intermediate_size"] = 48
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let m = error(mismatched)
        XCTAssertTrue(m.contains("intermediate.dense.weight") && m.contains("48"), m)

        // A vocabulary that does not belong to the weights.
        let vocab = try copy("vocab")
        try (String(contentsOf: vocab.appendingPathComponent("vocab.txt"), encoding: .utf8) + "extra1\nextra2\n")
            .write(to: vocab.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let v = error(vocab)
        XCTAssertTrue(v.contains("do not belong together"), v)

        // A folder without a vocabulary.
        let novocab = try copy("novocab")
        try FileManager.default.removeItem(at: novocab.appendingPathComponent("vocab.txt"))
        let nv = error(novocab)
        XCTAssertTrue(nv.contains("vocab"), nv)

        // A layer the model does not have.
        let l = error(Self.tinyModel, ["text.layer=7"])
        XCTAssertTrue(l.contains("layer 7 does not exist"), l)
    }
}
