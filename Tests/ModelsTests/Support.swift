import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Where the model tests find their fixtures (`Tests/Fixtures/models/`, written by `Tools/make_bert_goldens.py`)
/// and the all-MiniLM-L6-v2 checkpoint (never committed: `Tools/fetch_minilm.sh` unpacks it).
enum ModelFixtures {
    /// `Tests/Fixtures/models/<name>`.
    static func url(_ name: String) -> URL { TestPaths.fixture("models").appendingPathComponent(name) }

    /// The padded batch a golden was made from.
    struct Inputs: Decodable {
        var ids: [[Int32]]
        var token_type_ids: [[Int32]]
        var attention_mask: [[Int32]]
    }

    static func inputs(_ name: String) throws -> Inputs {
        try Golden.json(Inputs.self, url(name).appendingPathComponent("inputs.json"))
    }

    static func floats(_ name: String, _ file: String) throws -> [Float] {
        try Golden.floats(url(name).appendingPathComponent(file))
    }

    /// The MiniLM folder: `$MELD_MINILM_DIR`, else the folder under `Tools/.downloads/` holding config.json and
    /// model.safetensors, else nil.
    static let minilmFolder: URL? = TestPaths.miniLMFolder(containing: ["model.safetensors", "config.json"])

    /// The folder, or an XCTSkip that says how to get it.
    static func requireMiniLM() throws -> URL {
        guard let folder = minilmFolder else {
            throw XCTSkip("all-MiniLM-L6-v2 is not downloaded: run Tools/fetch_minilm.sh (or set MELD_MINILM_DIR)")
        }
        return folder
    }

    /// A copy of fixture `name` in a fresh temp folder, for tests that damage it.
    static func tempCopy(_ name: String) throws -> URL {
        let dir = try TestPaths.makeTempDir("bert").appendingPathComponent(name)
        try FileManager.default.copyItem(at: url(name), to: dir)
        return dir
    }
}

/// Runs `body` once per weight-product precision this machine has: float32 sgemm always, and the AMX split
/// products where the CPU has them (`ProductPrecision`), restoring the setting afterwards. Goldens must hold
/// under both, since which one runs depends on the machine.
func forEachProductPrecision(_ body: (ProductPrecision) throws -> Void) rethrows {
    let saved = BLAS.productPrecision
    defer { BLAS.productPrecision = saved }
    for precision in [ProductPrecision.float32, .amxSplitBF16]
    where precision == .float32 || BLAS.amxAvailability.available {
        BLAS.productPrecision = precision
        try body(precision)
    }
}

/// Asserts `got` matches `expected` within `tolerance` (absolute), printing the max error.
func assertClose(_ got: Tensor, _ expected: [Float], tolerance: Float, _ label: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, expected.count, "\(label): \(got.shape) vs \(expected.count) golden values", file: file, line: line)
    guard got.count == expected.count else { return }
    let (worst, at) = Golden.maxAbsDiff(got.scalars, expected)
    print("\(label): max abs error \(worst) at \(at) (shape \(got.shape))")
    XCTAssertLessThanOrEqual(worst, tolerance, "\(label): max abs error \(worst) at flat index \(at) (got \(got.scalars[at]), "
                             + "expected \(expected[at]))", file: file, line: line)
}

/// Rewrites `folder/model.safetensors` (all F32) after `edit` changes the name → (shape, values) table.
func rewriteWeights(_ folder: URL, _ edit: (inout [String: ([Int], [Float])]) -> Void) throws {
    let url = folder.appendingPathComponent("model.safetensors")
    let file = try SafeTensorsFile(url: url)
    var table: [String: ([Int], [Float])] = [:]
    for name in file.names where file.entries[name]!.dtype == .F32 {
        table[name] = (file.entries[name]!.shape, try file.tensor(name).scalars)
    }
    edit(&table)
    var header: [String: Any] = [:], body = Data(), offset = 0
    for name in table.keys.sorted() {
        let (shape, values) = table[name]!
        header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * values.count]]
        values.withUnsafeBytes { body.append(contentsOf: $0) }
        offset += 4 * values.count
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(body)
    try out.write(to: url)
}

/// Asserts `body` throws an error whose description contains every piece; prints it.
func assertThrows(_ pieces: [String], file: StaticString = #filePath, line: UInt = #line,
                  _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("no error; expected one mentioning \(pieces)", file: file, line: line)
    } catch {
        let text = "\(error)"
        print("error as expected: \(text)")
        for piece in pieces {
            XCTAssertTrue(text.contains(piece), "\"\(text)\" does not mention \"\(piece)\"", file: file, line: line)
        }
    }
}
