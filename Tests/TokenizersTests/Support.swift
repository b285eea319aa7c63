import Foundation
import TestSupport
import Tokenizers
import XCTest

/// Where the tests find all-MiniLM-L6-v2 (bert-base-uncased's vocabulary) and the tokenizer fixtures.
enum TokenizerFixtures {
    /// `Tests/Fixtures/tokenizers/<name>`.
    static func url(_ name: String) -> URL { TestPaths.fixture("tokenizers").appendingPathComponent(name) }

    /// The MiniLM folder: `$MELD_MINILM_DIR`, else the folder under `Tools/.downloads/` holding vocab.txt and
    /// tokenizer.json (where `Tools/fetch_minilm.sh` unpacks it), else nil.
    static let minilmFolder: URL? = TestPaths.miniLMFolder(containing: ["vocab.txt", "tokenizer.json"])

    /// The folder, or an XCTSkip that says how to get it.
    static func requireMiniLM() throws -> URL {
        guard let folder = minilmFolder else {
            throw XCTSkip("all-MiniLM-L6-v2 is not downloaded: run Tools/fetch_minilm.sh (or set MELD_MINILM_DIR)")
        }
        return folder
    }

    /// The tokenizer from the MiniLM folder's tokenizer.json, made once.
    static func tokenizer() throws -> BertTokenizer {
        let folder = try requireMiniLM()
        return try cache.withLock { cached in
            if let cached { return cached }
            let made = try BertTokenizer(folder: folder)
            cached = made
            return made
        }
    }

    private static let cache = Locked<BertTokenizer?>(nil)

    /// `../shared/data/meld/<name>`, or an XCTSkip naming what is missing.
    static func requireMELD(_ name: String) throws -> URL {
        guard let shared = TestPaths.shared else {
            throw XCTSkip("../shared/data/meld is absent (set MELD_SHARED_DIR); the MELD golden tests need \(name)")
        }
        let url = shared.appendingPathComponent("data/meld").appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(url.path) is absent") }
        return url
    }

    /// Lines of a golden text file, without `#` comment lines and blank lines.
    static func lines(_ name: String) throws -> [Substring] {
        let text = try String(contentsOf: url(name), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
}
