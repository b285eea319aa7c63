import XCTest
import Foundation
import TestSupport
@testable import Tensor

/// A minimal safetensors writer for tests: tensors in the given order, header padded with spaces so the data
/// buffer starts at `8 + headerLength` with `(8 + headerLength) % alignment == misalign`.
struct TestSafeTensorsWriter {
    struct Item {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]
    }

    var items: [Item] = []
    var metadata: [String: String]? = nil

    mutating func f32(_ name: String, _ shape: [Int], _ values: [Float]) {
        items.append(Item(name: name, dtype: "F32", shape: shape, bytes: values.flatMap { le($0.bitPattern) }))
    }
    mutating func bits16(_ name: String, _ dtype: String, _ shape: [Int], _ values: [UInt16]) {
        items.append(Item(name: name, dtype: dtype, shape: shape, bytes: values.flatMap { le($0) }))
    }
    mutating func i64(_ name: String, _ shape: [Int], _ values: [Int64]) {
        items.append(Item(name: name, dtype: "I64", shape: shape, bytes: values.flatMap { le(UInt64(bitPattern: $0)) }))
    }

    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// The header JSON (entries with consecutive offsets in item order).
    func headerJSON() -> String {
        var parts: [String] = []
        if let metadata {
            parts.append("\"__metadata__\":{" + metadata.map { "\"\($0)\":\"\($1)\"" }.joined(separator: ",") + "}")
        }
        var offset = 0
        for item in items {
            let end = offset + item.bytes.count
            parts.append("\"\(item.name)\":{\"dtype\":\"\(item.dtype)\",\"shape\":\(item.shape),\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    func data(header: String? = nil, misalign: Int = 0) -> Data {
        var h = Array((header ?? headerJSON()).utf8)
        while (8 + h.count) % 8 != misalign { h.append(UInt8(ascii: " ")) }
        var out = le(UInt64(h.count)) + h
        for item in items { out += item.bytes }
        return Data(out)
    }
}

final class SafeTensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try TestPaths.makeTempDir("safetensors") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ data: Data, _ name: String = "model.safetensors") throws -> URL {
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    /// A small BERT-like checkpoint: `bert.` prefix, gamma/beta, an F16 and a BF16 tensor, an I64 buffer, an MLM head.
    func bertLike() -> TestSafeTensorsWriter {
        var w = TestSafeTensorsWriter()
        w.metadata = ["format": "pt"]
        w.f32("bert.embeddings.word_embeddings.weight", [3, 2], [1, 2, 3, 4, 5, 6])
        w.bits16("bert.embeddings.LayerNorm.gamma", "F16", [2], [0x3C00, 0xC000])  // 1, −2
        w.bits16("bert.embeddings.LayerNorm.beta", "BF16", [2], [0x3F80, 0x4049])   // 1, 3.140625
        w.i64("bert.embeddings.position_ids", [1, 3], [0, 1, 2])
        w.f32("cls.predictions.bias", [3], [0, 0, 0])
        return w
    }

    let bertRenames: [KeyRename] = [.optionalPrefix("bert.")] + KeyRename.legacy

    // MARK: Reading

    func testReadsF32F16BF16AndIntegers() throws {
        let file = try SafeTensorsFile(url: try write(bertLike().data()))
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.names.count, 5)
        let emb = try file.tensor("bert.embeddings.word_embeddings.weight", shape: [3, 2])
        XCTAssertEqual(emb.scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertTrue(emb.isView, "aligned F32 must be a zero-copy view of the mapping")
        XCTAssertEqual(try file.tensor("bert.embeddings.LayerNorm.gamma").scalars, [1, -2])
        XCTAssertEqual(try file.tensor("bert.embeddings.LayerNorm.beta").scalars, [1, 3.140625])
        XCTAssertEqual(try file.integers("bert.embeddings.position_ids"), [0, 1, 2])
        XCTAssertEqual(file.entry("bert.embeddings.position_ids")?.dtype, .I64)
    }

    func testMisalignedF32IsCopied() throws {
        var w = TestSafeTensorsWriter()
        w.f32("x", [3], [1.5, -2.5, 3.5])
        let file = try SafeTensorsFile(url: try write(w.data(misalign: 2)))
        let x = try file.tensor("x")
        XCTAssertEqual(x.scalars, [1.5, -2.5, 3.5])
        XCTAssertFalse(x.isView)
    }

    func testViewsOutliveTheFileAndCopyOnWrite() throws {
        let url = try write(bertLike().data())
        var emb: Tensor
        do {
            let store = try WeightStore(url: url, renames: bertRenames)
            emb = try store.take("embeddings.word_embeddings.weight", shape: [3, 2])
        }
        XCTAssertEqual(emb.scalars, [1, 2, 3, 4, 5, 6], "the view keeps the mapping alive")
        let original = emb
        emb.scale(by: 2)
        XCTAssertEqual(emb.scalars, [2, 4, 6, 8, 10, 12])
        XCTAssertEqual(original.scalars, [1, 2, 3, 4, 5, 6], "writing to a view copies it")
        XCTAssertTrue(original.isView)
        XCTAssertFalse(emb.isView)
    }

    func testHalfConversionIsExactForEveryBitPattern() {
        #if !(os(macOS) && arch(x86_64))
        for bits in 0...UInt16.max {
            let ours = floatFromHalf(bits), swift = Float(Float16(bitPattern: bits))
            if swift.isNaN {
                XCTAssertTrue(ours.isNaN, "0x\(String(bits, radix: 16))")
            } else {
                XCTAssertEqual(ours.bitPattern, swift.bitPattern, "0x\(String(bits, radix: 16))")
            }
        }
        #endif
        XCTAssertEqual(floatFromHalf(0x0001), 5.9604645e-08)  // smallest subnormal, 2^-24
        XCTAssertEqual(floatFromHalf(0x7BFF), 65504)
        XCTAssertEqual(floatFromHalf(0xFC00), -.infinity)
        XCTAssertEqual(floatFromHalf(0x8000).bitPattern, (-0.0 as Float).bitPattern)
    }

    /// The file the official Python writer made (Tools/make_tensor_goldens.py) reads back exactly.
    func testReadsTheReferenceWritersFile() throws {
        struct Expected: Decodable { var shape: [Int]; var dtype: String; var values: [Double] }
        let dir = TestPaths.fixture("tensor")
        let expected = try Golden.json([String: Expected].self, dir.appendingPathComponent("reference_writer.json"))
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("reference_writer.safetensors"))
        XCTAssertEqual(file.metadata["format"], "pt")
        XCTAssertEqual(Set(file.names), Set(expected.keys))
        for (name, e) in expected {
            let entry = try XCTUnwrap(file.entry(name))
            XCTAssertEqual(entry.shape, e.shape, name)
            if e.dtype == "int64" {
                XCTAssertEqual(try file.integers(name), e.values.map { Int64($0) }, name)
            } else {
                XCTAssertEqual(try file.tensor(name).scalars, e.values.map { Float($0) }, name)
            }
        }
        XCTAssertEqual(file.entry("bert.embeddings.LayerNorm.gamma")?.dtype, .F16)
        XCTAssertEqual(file.entry("bert.embeddings.LayerNorm.beta")?.dtype, .BF16)
        XCTAssertEqual(try file.tensor("scalar").shape, [])

        // Loaded as a model would: BERT renames, MLM head ignored; the scalar is a float nobody took.
        let store = WeightStore(file, renames: bertRenames, ignoring: ["cls."])
        _ = try store.take("embeddings.word_embeddings.weight", shape: [5, 4])
        _ = try store.take("embeddings.LayerNorm.weight", shape: [4])
        _ = try store.take("embeddings.LayerNorm.bias", shape: [4])
        let pooler = store.scope("pooler.dense.")
        _ = try pooler.take("weight", shape: [3, 4])
        _ = try pooler.take("bias", shape: [3])
        XCTAssertEqual(store.unusedTensors, ["scalar"])
    }

    // MARK: Strict loading

    func testStrictLoadingSucceedsWhenEverythingIsTaken() throws {
        let store = try WeightStore(url: try write(bertLike().data()), renames: bertRenames, ignoring: ["cls."])
        XCTAssertEqual(try store.take("embeddings.word_embeddings.weight", shape: [3, 2]).shape, [3, 2])
        XCTAssertEqual(try store.take("embeddings.LayerNorm.weight", shape: [2]).scalars, [1, -2])
        XCTAssertEqual(try store.take("embeddings.LayerNorm.bias", shape: [2]).scalars, [1, 3.140625])
        XCTAssertNoThrow(try store.finish(), "position_ids (I64) and cls.* (ignored) must not count as unused")
    }

    func testMissingTensorNamesFileTensorAndSpellingsTried() throws {
        let url = try write(bertLike().data())
        let store = try WeightStore(url: url, renames: bertRenames)
        XCTAssertThrowsError(try store.take("pooler.dense.weight", shape: [2, 2])) { error in
            guard case WeightsError.missingTensor(let file, let tensor, let tried) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, url.path)
            XCTAssertEqual(tensor, "pooler.dense.weight")
            XCTAssertEqual(Set(tried), ["pooler.dense.weight", "bert.pooler.dense.weight", "pooler.dense.gamma",
                                        "bert.pooler.dense.gamma"])
            XCTAssertTrue("\(error)".contains(url.path) && "\(error)".contains("\"pooler.dense.weight\" is missing"), "\(error)")
        }
        XCTAssertNil(try store.takeIfPresent("pooler.dense.bias", shape: [2]))
        XCTAssertFalse(store.contains("pooler.dense.bias"))
    }

    func testUnusedTensorsAreListed() throws {
        let url = try write(bertLike().data())
        let store = try WeightStore(url: url, renames: bertRenames)
        _ = try store.take("embeddings.word_embeddings.weight", shape: [3, 2])
        XCTAssertThrowsError(try store.finish()) { error in
            XCTAssertEqual(error as? WeightsError, .unusedTensors(file: url.path, tensors: [
                "bert.embeddings.LayerNorm.beta", "bert.embeddings.LayerNorm.gamma", "cls.predictions.bias"]))
            XCTAssertTrue("\(error)".hasPrefix("\(url.path): 3 tensors were not used: bert.embeddings.LayerNorm.beta"), "\(error)")
        }
    }

    func testWrongShapeSaysGotAndExpected() throws {
        let url = try write(bertLike().data())
        let store = try WeightStore(url: url, renames: bertRenames)
        XCTAssertThrowsError(try store.take("embeddings.word_embeddings.weight", shape: [2, 3])) { error in
            XCTAssertEqual(error as? WeightsError, .wrongShape(file: url.path, tensor: "bert.embeddings.word_embeddings.weight",
                                                               got: [3, 2], expected: [2, 3]))
            XCTAssertEqual("\(error)", "\(url.path): tensor \"bert.embeddings.word_embeddings.weight\": got shape [3, 2], expected [2, 3]")
        }
    }

    func testWrongDTypeSaysGotAndExpected() throws {
        let url = try write(bertLike().data())
        let store = try WeightStore(url: url, renames: bertRenames)
        XCTAssertThrowsError(try store.take("embeddings.position_ids", shape: [1, 3])) { error in
            XCTAssertEqual(error as? WeightsError, .wrongDType(file: url.path, tensor: "bert.embeddings.position_ids",
                                                               got: "I64", expected: "F32, F16 or BF16"))
        }
        let file = try SafeTensorsFile(url: url)
        XCTAssertThrowsError(try file.integers("cls.predictions.bias")) { error in
            guard case WeightsError.wrongDType(_, _, "F32", _) = error else { return XCTFail("\(error)") }
        }
    }

    // MARK: Rename rules

    func testRenameRules() throws {
        var w = TestSafeTensorsWriter()
        w.f32("encoder.pos_conv_embed.conv.weight_g", [1, 1, 2], [1, 2])
        w.f32("encoder.pos_conv_embed.conv.parametrizations.weight.original1", [2, 1, 2], [1, 2, 3, 4])
        w.f32("hubert.encoder.layer_norm.gamma", [2], [1, 1])
        w.f32("encoder.layer_norm.bias", [2], [0, 0])
        let store = try WeightStore(url: try write(w.data()), renames: [.optionalPrefix("hubert.")] + KeyRename.legacy)
        // Either weight-norm spelling finds either stored spelling.
        XCTAssertEqual(try store.take("encoder.pos_conv_embed.conv.parametrizations.weight.original0", shape: [1, 1, 2]).scalars, [1, 2])
        XCTAssertEqual(try store.take("encoder.pos_conv_embed.conv.weight_v", shape: [2, 1, 2]).count, 4)
        // Prefix and gamma together; and a request that carries the prefix finds a key without it.
        XCTAssertEqual(try store.take("encoder.layer_norm.weight", shape: [2]).scalars, [1, 1])
        XCTAssertEqual(try store.take("hubert.encoder.layer_norm.bias", shape: [2]).scalars, [0, 0])
        XCTAssertNoThrow(try store.finish())
        XCTAssertEqual(try store.resolve("encoder.layer_norm.weight")?.key, "hubert.encoder.layer_norm.gamma")
    }

    func testTwoSpellingsInOneFileAreAmbiguous() throws {
        var w = TestSafeTensorsWriter()
        w.f32("pooler.dense.bias", [1], [1])
        w.f32("bert.pooler.dense.bias", [1], [2])
        let store = try WeightStore(url: try write(w.data()), renames: bertRenames)
        XCTAssertThrowsError(try store.take("pooler.dense.bias", shape: [1])) { error in
            guard case WeightsError.ambiguousTensor(_, "pooler.dense.bias", let candidates) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(Set(candidates), ["pooler.dense.bias", "bert.pooler.dense.bias"])
        }
        // Without rename rules each spelling is its own tensor.
        let plain = WeightStore(store.files[0], renames: [])
        XCTAssertEqual(try plain.take("bert.pooler.dense.bias", shape: [1]).scalars, [2])
    }

    func testShardedCheckpointAcrossTwoFiles() throws {
        var a = TestSafeTensorsWriter(), b = TestSafeTensorsWriter()
        a.f32("encoder.layer.0.w", [1], [1])
        b.f32("encoder.layer.1.w", [1], [2])
        b.f32("encoder.layer.1.extra", [1], [3])
        let fa = try SafeTensorsFile(url: try write(a.data(), "model-00001-of-00002.safetensors"))
        let fb = try SafeTensorsFile(url: try write(b.data(), "model-00002-of-00002.safetensors"))
        let store = WeightStore(files: [fa, fb], renames: [])
        XCTAssertEqual(try store.take("encoder.layer.0.w", shape: [1]).scalars, [1])
        XCTAssertEqual(try store.take("encoder.layer.1.w", shape: [1]).scalars, [2])
        XCTAssertThrowsError(try store.finish()) { error in
            XCTAssertEqual(error as? WeightsError, .unusedTensors(file: "\(fa.path), \(fb.path)",
                                                                 tensors: ["\(fb.path):encoder.layer.1.extra"]))
        }
    }

    func testSpellingsApplyEachRuleOnce() {
        let s = KeyRename.spellings(of: "a.LayerNorm.weight", rules: [.optionalPrefix("bert.")] + KeyRename.gammaBeta)
        XCTAssertEqual(s.first, "a.LayerNorm.weight")
        XCTAssertEqual(Set(s), ["a.LayerNorm.weight", "bert.a.LayerNorm.weight", "a.LayerNorm.gamma", "bert.a.LayerNorm.gamma"])
        XCTAssertEqual(Set(KeyRename.spellings(of: "bert.x.beta", rules: bertRenames)), ["bert.x.beta", "x.beta", "bert.x.bias", "x.bias"])
    }

    // MARK: Malformed files

    func assertMalformed(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try write(data, "bad-\(UUID().uuidString.prefix(6)).safetensors")
        XCTAssertThrowsError(try SafeTensorsFile(url: url), file: file, line: line) { error in
            guard case WeightsError.malformed(let path, let reason) = error else {
                return XCTFail("expected .malformed, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, url.path, file: file, line: line)
            XCTAssertTrue(reason.contains(fragment), "\"\(reason)\" does not mention \"\(fragment)\"", file: file, line: line)
            XCTAssertTrue("\(error)".hasPrefix(url.path), file: file, line: line)
        }
    }

    func testTruncatedFiles() throws {
        let good = bertLike().data()
        try assertMalformed(good.prefix(5), "truncated: 5 bytes")
        try assertMalformed(good.prefix(40), "runs past the end of the file")              // inside the header
        try assertMalformed(good.dropLast(3), "run past the end of the file")              // inside the data
        try assertMalformed(good + Data([0, 0, 0, 0]), "the data buffer has")               // trailing bytes
    }

    func testGarbageAndBadHeaders() throws {
        try assertMalformed(Data((0..<64).map { UInt8(($0 * 89 + 7) % 256) }), "over the 100 MB limit")
        let w = bertLike()
        try assertMalformed(w.data(header: "[1, 2]"), "does not start with '{'")
        try assertMalformed(w.data(header: "{\"a\": "), "not valid JSON")
        var one = TestSafeTensorsWriter()
        one.f32("x", [2], [1, 2])
        try assertMalformed(one.data(header: "{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}"), "unknown dtype Q7")
        try assertMalformed(one.data(header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}"), "needs 12")
        try assertMalformed(one.data(header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}"), "needs 8")
        try assertMalformed(one.data(header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}"), "bad shape")
        try assertMalformed(one.data(header: "{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}"), "bad data_offsets")
        try assertMalformed(one.data(header: "{\"__metadata__\":{\"n\":1},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"),
                            "not a string")
        // Overlap and hole: two 4-byte tensors over an 8-byte buffer.
        try assertMalformed(one.data(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"),
                            "overlaps")
        try assertMalformed(one.data(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"), "belong to no tensor")
    }

    func testUnreadableFileNamesThePath() {
        let path = dir.appendingPathComponent("absent.safetensors").path
        XCTAssertThrowsError(try SafeTensorsFile(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): cannot read: No such file or directory")
        }
        XCTAssertThrowsError(try SafeTensorsFile(path: dir.path)) { error in
            guard case WeightsError.unreadable = error else { return XCTFail("\(error)") }
        }
    }
}
