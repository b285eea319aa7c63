import Foundation

/// Why a tokenizer could not be made.
public enum TokenizerError: Error, CustomStringConvertible {
    /// No vocabulary file (vocab.txt, tokenizer.json) at this path.
    case missingVocab(path: String)
    /// The vocabulary file is malformed: which line (1-based; 0 when the file has no lines, as in JSON) and why.
    case badVocab(path: String, line: Int, message: String)
    /// A special token the tokenizer needs (`[UNK]`, `[CLS]`, `[SEP]`, `[PAD]`) is not in the vocabulary.
    case unknownSpecialToken(String)

    public var description: String {
        switch self {
        case .missingVocab(let path):
            return "no tokenizer vocabulary at \(path) (expected vocab.txt or tokenizer.json; run Tools/fetch_minilm.sh)"
        case .badVocab(let path, let line, let message):
            return line > 0 ? "bad vocabulary \(path):\(line): \(message)" : "bad vocabulary \(path): \(message)"
        case .unknownSpecialToken(let token):
            return "the special token \(token) is not in the vocabulary"
        }
    }
}

/// A WordPiece vocabulary: token ⇄ id, with the `##` continuation pieces kept apart for the greedy search.
///
/// Tokens are keyed by their UTF-8 bytes, as in the Rust library: Swift's `String` equality is canonical
/// equivalence (`"é" == "e\u{301}"`), which would let a decomposed word match a precomposed vocabulary entry.
struct Vocabulary: Sendable {
    typealias Key = ArraySlice<UInt8>
    /// Token of each id (id = index).
    let tokens: [String]
    /// Id of each token.
    let ids: [Key: Int32]
    /// Id of each continuation piece, keyed without its prefix (`"##ing"` is under `"ing"`).
    let continuations: [Key: Int32]
    let continuingSubwordPrefix: String

    init(tokens: [String], continuingSubwordPrefix: String = "##") {
        self.tokens = tokens
        self.continuingSubwordPrefix = continuingSubwordPrefix
        let prefix = Array(continuingSubwordPrefix.utf8)
        var ids: [Key: Int32] = [:], continuations: [Key: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, token) in tokens.enumerated() {
            let bytes = Array(token.utf8)[...]
            ids[bytes] = Int32(i)
            if !prefix.isEmpty, bytes.count > prefix.count, bytes.starts(with: prefix) {
                continuations[bytes.dropFirst(prefix.count)] = Int32(i)
            }
        }
        self.ids = ids
        // Without a prefix, continuation pieces are ordinary tokens.
        self.continuations = prefix.isEmpty ? ids : continuations
    }

    /// The id of a token, compared byte for byte.
    func id(of token: String) -> Int32? { ids[Array(token.utf8)[...]] }

    /// Reads `vocab.txt`: one token per line, the line index (from 0) is its id, as in transformers'
    /// `load_vocab`. LF or CRLF; a final newline is optional. Empty lines and repeated tokens are errors.
    static func load(vocabTxt url: URL) throws -> Vocabulary {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw TokenizerError.missingVocab(path: url.path) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenizerError.badVocab(path: url.path, line: 0, message: "not UTF-8")
        }
        // Split on the LF scalar (in a Swift String, CR LF is one Character).
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line.last == "\r" ? line.dropLast() : line[...])
        }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw TokenizerError.badVocab(path: url.path, line: 0, message: "empty file") }
        var seen: [[UInt8]: Int] = [:]  // by bytes: canonically equivalent spellings are different tokens
        for (i, token) in lines.enumerated() {
            if token.isEmpty { throw TokenizerError.badVocab(path: url.path, line: i + 1, message: "empty token") }
            if let first = seen.updateValue(i, forKey: Array(token.utf8)) {
                throw TokenizerError.badVocab(path: url.path, line: i + 1,
                                              message: "token \(token) repeats line \(first + 1)")
            }
        }
        return Vocabulary(tokens: lines)
    }

    /// The `model.vocab` of a tokenizer.json WordPiece model: token → id, ids must be 0..<count.
    static func fromJSON(_ vocab: [String: Any], prefix: String, path: String) throws -> Vocabulary {
        var tokens = [String?](repeating: nil, count: vocab.count)
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0, id < vocab.count else {
                throw TokenizerError.badVocab(path: path, line: 0,
                                              message: "model.vocab: id \(value) of \(token) is not in 0..<\(vocab.count)")
            }
            if let other = tokens[id] {
                throw TokenizerError.badVocab(path: path, line: 0, message: "model.vocab: id \(id) is both \(other) and \(token)")
            }
            tokens[id] = token
        }
        return Vocabulary(tokens: tokens.map { $0! }, continuingSubwordPrefix: prefix)
    }
}

/// Greedy longest-match-first WordPiece, as `tokenizers/src/models/wordpiece/mod.rs` (`WordPiece::tokenize`)
/// and transformers' `WordpieceTokenizer` do it.
///
/// A word longer than `maxInputCharsPerWord` scalars, or one with a position where no vocabulary piece
/// matches, becomes a single unknown token.
struct WordPiece: Sendable {
    let vocabulary: Vocabulary
    let unknownID: Int32
    let maxInputCharsPerWord: Int

    /// Appends the ids of `word`'s pieces to `ids`.
    func encode(_ word: [Unicode.Scalar], into ids: inout [Int32]) {
        if word.count > maxInputCharsPerWord { ids.append(unknownID); return }
        // The word's UTF-8 bytes, and where each scalar starts (bounds[i]) and the word ends (bounds[count]).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(word.count * 2)
        var bounds: [Int] = [0]
        bounds.reserveCapacity(word.count + 1)
        for s in word {
            bytes.append(contentsOf: UTF8.encode(s)!)
            bounds.append(bytes.count)
        }
        // Fast path: the whole word is a token.
        if let id = vocabulary.ids[bytes[...]] { ids.append(id); return }
        let mark = ids.count
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                let piece = bytes[bounds[start]..<bounds[end]]
                found = start == 0 ? vocabulary.ids[piece] : vocabulary.continuations[piece]
                if found != nil { break }
                end -= 1
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                ids.append(unknownID)
                return
            }
            ids.append(id)
            start = end
        }
    }
}
