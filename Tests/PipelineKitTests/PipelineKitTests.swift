import Foundation
@testable import PipelineKit
import TestSupport
import XCTest

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 test vectors.
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var h = SHA256()
        h.update(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
        XCTAssertEqual(h.finalizeHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Files are hashed in 4 MiB pieces through the block path; pieces that split a block must not matter.
    func testFileHashEqualsPiecewiseHash() throws {
        let bytes = (0..<(4 << 20) + 4_099).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let url = try TestPaths.makeTempDir("sha").appendingPathComponent("blob")
        try Data(bytes).write(to: url)
        var h = SHA256()
        for start in stride(from: 0, to: bytes.count, by: 1_000) { h.update(bytes[start..<min(start + 1_000, bytes.count)]) }
        XCTAssertEqual(try SHA256.hexOfFile(url), h.finalizeHex())
        var whole = SHA256()
        whole.update(Data(bytes))
        XCTAssertEqual(try SHA256.hexOfFile(url), whole.finalizeHex())
    }
}

final class ParamsTests: XCTestCase {
    func testCommandLineValuesParseLikeYAML() {
        XCTAssertEqual(ParamValue.parseCommandLine("20"), .int(20))
        XCTAssertEqual(ParamValue.parseCommandLine("0.5"), .double(0.5))
        XCTAssertEqual(ParamValue.parseCommandLine("1e-3"), .double(0.001))
        XCTAssertEqual(ParamValue.parseCommandLine("null"), .null)
        XCTAssertEqual(ParamValue.parseCommandLine("true"), .bool(true))
        XCTAssertEqual(ParamValue.parseCommandLine("/models/bert"), .string("/models/bert"))
        XCTAssertEqual(ParamValue.parseCommandLine("cls"), .string("cls"))
    }

    /// The same values always give the same canonical text, whatever their order or int/double spelling.
    func testCanonicalJSONIsStable() {
        let spec = ParamSpec(.double, .double(0), help: "")
        let a = Params(["b": spec.coerce(.int(8000))!, "a": .int(13), "c": .null, "d": .string("x\"y")])
        XCTAssertEqual(a.canonicalJSON, #"{"a":13,"b":8000.0,"c":null,"d":"x\"y"}"#)
        let b = Params(["d": .string("x\"y"), "c": .null, "a": .int(13), "b": .double(8000)])
        XCTAssertEqual(a.canonicalJSON, b.canonicalJSON)
    }
}

final class PipelineSpecTests: XCTestCase {
    func write(_ yaml: String) throws -> URL {
        let url = try TestPaths.makeTempDir("spec").appendingPathComponent("p.yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testDefaultPipelineLoadsWithDefaults() throws {
        let spec = try PipelineSpec.load(from: TestPaths.repoRoot.appendingPathComponent("Pipelines/extract.yaml"))
        XCTAssertEqual(spec.stages.map(\.name), ["audio", "frames", "faces", "clip", "hubert", "melspec", "mfcc", "text"])
        XCTAssertEqual(spec.stage("mfcc")!.params.int("n_mfcc"), 13)
        XCTAssertEqual(spec.stage("mfcc")!.params.int("frames"), 401)
        XCTAssertEqual(spec.stage("melspec")!.params["fmax"], .null)
        XCTAssertEqual(spec.shardSize, 256)
    }

    func testOverridesAndClosure() throws {
        let spec = try PipelineSpec.load(from: TestPaths.repoRoot.appendingPathComponent("Pipelines/extract.yaml"),
                                         overrides: ["mfcc.n_mfcc=20", "melspec.fmax=7600"])
        XCTAssertEqual(spec.stage("mfcc")!.params["n_mfcc"], .int(20))
        XCTAssertEqual(spec.stage("melspec")!.params["fmax"], .double(7600))
        XCTAssertEqual(try spec.closure(of: ["mfcc"]).map(\.name), ["audio", "mfcc"])
        XCTAssertThrowsError(try spec.closure(of: ["nope"]))
    }

    func testStructuralErrorsNameTheProblem() throws {
        func message(_ yaml: String) -> String {
            do { _ = try PipelineSpec.load(from: try write(yaml)); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("stages:\n  a: {kind: audio, needs: [b]}\n  b: {kind: audio, needs: [a]}\n").contains("cycle"))
        XCTAssertTrue(message("stages:\n  m: {kind: mfcc}\n").contains("must list a `audio` stage"))
        XCTAssertTrue(message("stages:\n  m: {kind: mfcc, needs: [x]}\n").contains("needs `x`"))
        XCTAssertTrue(message("just text").contains("must be a YAML mapping"))
        XCTAssertTrue(message("dataset: {name: iemocap}\nstages:\n  a: {kind: audio}\n").contains("not supported"))
        XCTAssertTrue(message("stages:\n  a: {kind: audio, params: {sample_rate: 100}}\n").contains("sample_rate must be between"))
    }
}

final class RunStoreTests: XCTestCase {
    func testRecordsRoundTripAndSurviveReopen() throws {
        let url = try TestPaths.makeTempDir("store").appendingPathComponent("runs.sqlite")
        do {
            let s = try RunStore(url: url)
            try s.transaction {
                try s.putItem(cache: "/c", .init(stage: "mfcc", key: "train/dia0_utt0", shard: 0, fingerprint: "f",
                                                 codeVersion: 1, paramsHash: "p", inputHash: "i", status: "failed",
                                                 reason: "no_audio_stream", message: "no audio"))
                try s.putShard(cache: "/c", stage: "mfcc", split: "train", shard: 0,
                               .init(fingerprint: "sf", path: "/x.h5", size: 10, nItems: 1))
            }
            XCTAssertThrowsError(try s.transaction { try s.putIndex(cache: "/c", stage: "mfcc", split: "train", fingerprint: "i", path: "/i"); throw ConfigurationError("abort") })
        }
        let s = try RunStore(url: url)
        let item = try s.items(cache: "/c", stage: "mfcc")["train/dia0_utt0"]
        XCTAssertEqual(item?.reason, "no_audio_stream")
        XCTAssertEqual(try s.shards(cache: "/c", stage: "mfcc", split: "train")[0]?.fingerprint, "sf")
        XCTAssertNil(try s.indexFingerprint(cache: "/c", stage: "mfcc", split: "train"), "a rolled-back transaction leaves nothing")
        XCTAssertTrue(try s.items(cache: "/other", stage: "mfcc").isEmpty, "records are per cache folder")
    }

    func testFingerprintSaysWhichPartChanged() {
        let a = ItemFingerprint(stage: "mfcc", kind: "mfcc", codeVersion: 1, paramsJSON: "{}", inputs: ["x"])
        let rec = RunStore.ItemRecord(stage: "mfcc", key: "k", shard: 0, fingerprint: a.value, codeVersion: 1,
                                      paramsHash: a.paramsHash, inputHash: a.inputHash, status: "done", reason: nil, message: nil)
        XCTAssertNil(a.reason(against: rec))
        XCTAssertEqual(a.reason(against: nil), .neverBuilt)
        XCTAssertEqual(ItemFingerprint(stage: "mfcc", kind: "mfcc", codeVersion: 2, paramsJSON: "{}", inputs: ["x"]).reason(against: rec), .codeChanged)
        XCTAssertEqual(ItemFingerprint(stage: "mfcc", kind: "mfcc", codeVersion: 1, paramsJSON: "{\"a\":1}", inputs: ["x"]).reason(against: rec), .paramsChanged)
        XCTAssertEqual(ItemFingerprint(stage: "mfcc", kind: "mfcc", codeVersion: 1, paramsJSON: "{}", inputs: ["y"]).reason(against: rec), .inputChanged)
    }
}
