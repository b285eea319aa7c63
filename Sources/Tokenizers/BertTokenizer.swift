import Foundation

/// How a ``BertTokenizer`` normalises text. The defaults are bert-base-uncased's.
public struct BertTokenizerOptions: Sendable, Equatable {
    /// Lowercase the text (`do_lower_case`, the normaliser's `lowercase`).
    public var lowercase = true
    /// Remove accents (NFD, then drop category Mn); nil follows `lowercase`, as in transformers.
    public var stripAccents: Bool? = nil
    /// Surround CJK ideographs with spaces, so each is a word of its own.
    public var tokenizeChineseChars = true
    /// Longer words (in Unicode scalars) become a single `[UNK]`.
    public var maxInputCharsPerWord = 100

    public init(lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true,
                maxInputCharsPerWord: Int = 100) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.tokenizeChineseChars = tokenizeChineseChars
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }
}

/// The model inputs for one text or text pair, as transformers returns them (`input_ids`, `token_type_ids`,
/// `attention_mask`), with the token strings.
public struct Encoding: Sendable, Equatable {
    public var ids: [Int32]
    /// 0 for `[CLS] A [SEP]` (and padding), 1 for `B [SEP]`.
    public var tokenTypeIds: [Int32]
    /// 1 on real tokens, 0 on padding.
    public var attentionMask: [Int32]
    public var tokens: [String]

    public init(ids: [Int32], tokenTypeIds: [Int32], attentionMask: [Int32], tokens: [String]) {
        self.ids = ids
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
        self.tokens = tokens
    }

    public var count: Int { ids.count }
}

/// BERT's WordPiece tokenizer, identical in output to Hugging Face's fast `BertTokenizerFast` (what
/// `AutoTokenizer` gives) on bert-base-uncased style vocabularies.
///
/// ```swift
/// let tok = try BertTokenizer(folder: minilmFolder)        // tokenizer.json, or vocab.txt
/// tok.tokenize("Ross’s sandwich!")                         // ["ross", "’", "s", "sandwich", "!"]
/// let e = tok.encode("How are you?", pair: "Fine.", maxLength: 128)
/// e.ids          // [101, 2129, 2024, 2017, 1029, 102, 2986, 1012, 102]
/// e.tokenTypeIds // [0, 0, 0, 0, 0, 0, 1, 1, 1]
/// ```
///
/// Follows `huggingface/tokenizers`: `normalizers/bert.rs`, `pre_tokenizers/bert.rs`, `models/wordpiece/mod.rs`,
/// `utils/truncation.rs` (`truncate_encodings`), `processors/template.rs`, and `tokenizer/added_vocabulary.rs`
/// (special tokens written in the text, such as `[SEP]`, are matched before normalisation and kept whole).
/// Where the slow Python `BertTokenizer` differs (see ``BertNormalizer`` and ``truncatedLengths(first:second:budget:)``)
/// this follows the fast one.
///
/// Immutable after `init`; safe to share between threads.
public final class BertTokenizer: @unchecked Sendable {
    public let options: BertTokenizerOptions
    let vocabulary: Vocabulary
    let normalizer: BertNormalizer
    let wordPiece: WordPiece
    /// Tokens matched verbatim in the raw text, longest first.
    let addedTokens: [(bytes: [UInt8], id: Int32)]
    let addedTokenFirstBytes: Set<UInt8>
    let clsID: Int32, sepID: Int32, padID: Int32

    /// The tokens transformers treats as special for BERT; those in the vocabulary are matched in the text.
    static let defaultSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// A tokenizer from a `vocab.txt` (one token per line; the line index is the id).
    ///
    /// - Throws: ``TokenizerError/missingVocab(path:)``, ``TokenizerError/badVocab(path:line:message:)`` for
    ///   an empty or repeated token, ``TokenizerError/unknownSpecialToken(_:)`` when `[UNK]`, `[CLS]`, `[SEP]`
    ///   or `[PAD]` is missing.
    public init(vocabURL: URL, options: BertTokenizerOptions = .init()) throws {
        let vocabulary = try Vocabulary.load(vocabTxt: vocabURL)
        try (self.vocabulary, self.normalizer, self.wordPiece, self.addedTokens, self.clsID, self.sepID, self.padID) =
            Self.assemble(vocabulary: vocabulary, options: options, unknownToken: "[UNK]",
                          addedTokens: Self.defaultSpecialTokens.filter { vocabulary.id(of: $0) != nil },
                          cleanText: true)
        self.options = options
        self.addedTokenFirstBytes = Set(addedTokens.compactMap(\.bytes.first))
    }

    /// A tokenizer from a Hugging Face model folder.
    ///
    /// With `tokenizer.json`: its WordPiece `model` (vocab, unk_token, continuing_subword_prefix,
    /// max_input_chars_per_word), its `BertNormalizer` settings (lowercase, strip_accents, handle_chinese_chars,
    /// clean_text) and its `added_tokens`. Without it: `vocab.txt`, with `do_lower_case`, `strip_accents` and
    /// `tokenize_chinese_chars` from `tokenizer_config.json` when present.
    ///
    /// - Throws: ``TokenizerError`` as for ``init(vocabURL:options:)``; `badVocab` when tokenizer.json is not
    ///   a WordPiece model with a BertNormalizer.
    public convenience init(folder: URL) throws {
        let json = folder.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) {
            let config = try TokenizerJSON(url: json)
            try self.init(vocabulary: config.vocabulary, options: config.options, unknownToken: config.unknownToken,
                          addedTokens: config.addedTokens, cleanText: config.cleanText)
            return
        }
        var options = BertTokenizerOptions()
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        if let data = try? Data(contentsOf: configURL),
           let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            if let lower = config["do_lower_case"] as? Bool { options.lowercase = lower }
            if let strip = config["strip_accents"] as? Bool { options.stripAccents = strip }
            if let chinese = config["tokenize_chinese_chars"] as? Bool { options.tokenizeChineseChars = chinese }
        }
        try self.init(vocabURL: folder.appendingPathComponent("vocab.txt"), options: options)
    }

    init(vocabulary: Vocabulary, options: BertTokenizerOptions, unknownToken: String, addedTokens: [String],
         cleanText: Bool) throws {
        try (self.vocabulary, self.normalizer, self.wordPiece, self.addedTokens, self.clsID, self.sepID, self.padID) =
            Self.assemble(vocabulary: vocabulary, options: options, unknownToken: unknownToken,
                          addedTokens: addedTokens, cleanText: cleanText)
        self.options = options
        self.addedTokenFirstBytes = Set(self.addedTokens.compactMap(\.bytes.first))
    }

    private static func assemble(vocabulary: Vocabulary, options: BertTokenizerOptions, unknownToken: String,
                                 addedTokens: [String], cleanText: Bool) throws
        -> (Vocabulary, BertNormalizer, WordPiece, [(bytes: [UInt8], id: Int32)], Int32, Int32, Int32) {
        func id(_ token: String) throws -> Int32 {
            guard let id = vocabulary.id(of: token) else { throw TokenizerError.unknownSpecialToken(token) }
            return id
        }
        let normalizer = BertNormalizer(cleanText: cleanText, handleChineseChars: options.tokenizeChineseChars,
                                        stripAccents: options.stripAccents ?? options.lowercase,
                                        lowercase: options.lowercase)
        let wordPiece = WordPiece(vocabulary: vocabulary, unknownID: try id(unknownToken),
                                  maxInputCharsPerWord: options.maxInputCharsPerWord)
        let added = try addedTokens.filter { !$0.isEmpty }
            .map { (bytes: Array($0.utf8), id: try id($0)) }
            .sorted { $0.bytes.count > $1.bytes.count }
        return (vocabulary, normalizer, wordPiece, added, try id("[CLS]"), try id("[SEP]"), try id("[PAD]"))
    }

    // MARK: - Vocabulary

    /// The number of ids (the model's `vocab_size` for BERT checkpoints: 30522 for bert-base-uncased).
    public var vocabSize: Int { vocabulary.tokens.count }

    /// The id of a vocabulary token, or nil.
    public func id(of token: String) -> Int32? { vocabulary.id(of: token) }

    /// The vocabulary token of an id, or nil when out of range.
    public func token(of id: Int32) -> String? {
        vocabulary.tokens.indices.contains(Int(id)) ? vocabulary.tokens[Int(id)] : nil
    }

    // MARK: - Tokenising

    /// The wordpieces of `text`, without `[CLS]`/`[SEP]` around them (transformers' `tokenize`). Special tokens
    /// written in the text (`"a [SEP] b"`) are kept as they are.
    public func tokenize(_ text: String) -> [String] {
        wordpieceIDs(text).map { vocabulary.tokens[Int($0)] }
    }

    /// The ids of `text`'s wordpieces, without special tokens around them.
    public func wordpieceIDs(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        forEachSegment(of: text) { segment, addedID in
            if let addedID { ids.append(addedID); return }
            for word in normalizer.words(segment) { wordPiece.encode(word, into: &ids) }
        }
        return ids
    }

    /// Splits the raw text around the added (special) tokens, matched leftmost-longest on the raw bytes as the
    /// Rust `AddedVocabulary` does for tokens that are not normalised.
    private func forEachSegment(of text: String, _ body: (Substring, Int32?) -> Void) {
        let utf8 = text.utf8
        guard !addedTokens.isEmpty, utf8.contains(where: { addedTokenFirstBytes.contains($0) }) else {
            body(text[...], nil)
            return
        }
        let bytes = Array(utf8)
        var segmentStart = 0, i = 0
        outer: while i < bytes.count {
            if addedTokenFirstBytes.contains(bytes[i]) {
                for token in addedTokens where token.bytes.count <= bytes.count - i {
                    if bytes[i..<(i + token.bytes.count)].elementsEqual(token.bytes) {
                        if segmentStart < i { body(Self.substring(bytes, segmentStart, i), nil) }
                        body("", token.id)
                        i += token.bytes.count
                        segmentStart = i
                        continue outer
                    }
                }
            }
            i += 1
        }
        if segmentStart < bytes.count { body(Self.substring(bytes, segmentStart, bytes.count), nil) }
    }

    private static func substring(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Substring {
        String(decoding: bytes[start..<end], as: UTF8.self)[...]
    }

    // MARK: - Encoding

    /// `[CLS] A [SEP]`, or `[CLS] A [SEP] B [SEP]` with a pair, truncated and padded as transformers'
    /// `tok(text, pair, truncation=True, max_length=maxLength, padding="max_length" if padToMaxLength)` does.
    ///
    /// - Parameters:
    ///   - pair: the second segment (token type 1), or nil for none. An empty pair gives `[CLS] A [SEP] [SEP]`,
    ///     as the tokenizers library and transformers' batch call do (transformers' single call
    ///     `tok(a, "")` alone drops an empty pair).
    ///   - maxLength: truncate to this many ids, specials included, with the `longest_first` strategy
    ///     (``truncatedLengths(first:second:budget:)``); nil for no truncation. A maximum smaller than the
    ///     number of special tokens (2, or 3 with a pair) truncates nothing, as in the reference.
    ///   - padToMaxLength: pad on the right with `[PAD]` (id 0, type 0, mask 0) up to `maxLength`.
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = 128,
                       padToMaxLength: Bool = false) -> Encoding {
        var first = wordpieceIDs(text)
        var second = pair.map(wordpieceIDs)
        let specials = second == nil ? 2 : 3
        if let maxLength, maxLength >= specials {
            let budget = maxLength - specials
            if var pairIDs = second {
                let (n1, n2) = Self.truncatedLengths(first: first.count, second: pairIDs.count, budget: budget)
                first.removeSubrange(n1...)
                pairIDs.removeSubrange(n2...)
                second = pairIDs
            } else if first.count > budget {
                first.removeSubrange(budget...)
            }
        }
        var ids: [Int32] = [clsID]
        ids.reserveCapacity(max(maxLength ?? 0, first.count + (second?.count ?? 0) + specials))
        ids.append(contentsOf: first)
        ids.append(sepID)
        var types = [Int32](repeating: 0, count: ids.count)
        if let second {
            ids.append(contentsOf: second)
            ids.append(sepID)
            types.append(contentsOf: repeatElement(1, count: second.count + 1))
        }
        var mask = [Int32](repeating: 1, count: ids.count)
        if padToMaxLength, let maxLength, ids.count < maxLength {
            let n = maxLength - ids.count
            ids.append(contentsOf: repeatElement(padID, count: n))
            types.append(contentsOf: repeatElement(0, count: n))
            mask.append(contentsOf: repeatElement(0, count: n))
        }
        return Encoding(ids: ids, tokenTypeIds: types, attentionMask: mask,
                        tokens: ids.map { vocabulary.tokens[Int($0)] })
    }

    /// ``encode(_:pair:maxLength:padToMaxLength:)`` for each item, in order; large batches run on all cores.
    public func encodeBatch(_ items: [(String, String?)], maxLength: Int?,
                            padToMaxLength: Bool = false) -> [Encoding] {
        let chunk = 64
        guard items.count > chunk else {
            return items.map { encode($0.0, pair: $0.1, maxLength: maxLength, padToMaxLength: padToMaxLength) }
        }
        var results = [Encoding?](repeating: nil, count: items.count)
        let chunks = (items.count + chunk - 1) / chunk
        results.withUnsafeMutableBufferPointer { out in
            let out = out  // each chunk writes only its own slots
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in (c * chunk)..<min(items.count, (c + 1) * chunk) {
                    out[i] = encode(items[i].0, pair: items[i].1, maxLength: maxLength, padToMaxLength: padToMaxLength)
                }
            }
        }
        return results.map { $0! }
    }

    /// The lengths the two segments keep under `longest_first` truncation, as the fast tokenizer computes them
    /// (`tokenizers/src/utils/truncation.rs`, `truncate_encodings`), `budget` being the maximum length minus
    /// the 3 special tokens.
    ///
    /// With n1 the shorter and n2 the longer length: nothing changes when n1 + n2 ≤ budget; otherwise the longer
    /// keeps max(n1, budget − n1) (n1 itself when n1 > budget), and if the two still exceed the budget the
    /// shorter keeps budget / 2 and the longer budget / 2 + budget % 2. On equal lengths the *second* segment
    /// gets the extra token. (The slow Python tokenizer removes one token at a time and gives odd remainders
    /// to the first segment, so the two can differ by one token each way.)
    public static func truncatedLengths(first: Int, second: Int, budget: Int) -> (first: Int, second: Int) {
        guard first + second > budget else { return (first, second) }
        let swap = first > second
        var n1 = swap ? second : first, n2 = swap ? first : second
        n2 = n1 > budget ? n1 : max(n1, budget - n1)
        if n1 + n2 > budget {
            n1 = budget / 2
            n2 = n1 + budget % 2
        }
        return swap ? (n2, n1) : (n1, n2)
    }
}

/// The parts of a tokenizer.json a WordPiece BERT tokenizer needs.
///
/// Every entry of `added_tokens` is matched in the raw text. (The Rust library matches those marked
/// `"normalized": true` in the normalised text instead; BERT checkpoints mark theirs `false`.) The post-processor
/// is taken to be BERT's `[CLS] A [SEP] B [SEP]`; tokenizer.json's own `truncation` and `padding` are ignored,
/// as transformers ignores them: ``BertTokenizer/encode(_:pair:maxLength:padToMaxLength:)`` says what to do.
struct TokenizerJSON {
    var vocabulary: Vocabulary
    var options = BertTokenizerOptions()
    var cleanText = true
    var unknownToken = "[UNK]"
    var addedTokens: [String] = []

    init(url: URL) throws {
        let path = url.path
        let root: [String: Any]
        do {
            let data = try Data(contentsOf: url)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError.badVocab(path: path, line: 0, message: "not a JSON object")
            }
            root = object
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.badVocab(path: path, line: 0, message: "unreadable JSON: \(error)")
        }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "WordPiece",
              let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.badVocab(path: path, line: 0, message: "model is not WordPiece with a vocab")
        }
        let prefix = model["continuing_subword_prefix"] as? String ?? "##"
        vocabulary = try Vocabulary.fromJSON(vocab, prefix: prefix, path: path)
        if let unk = model["unk_token"] as? String { unknownToken = unk }
        if let maxChars = (model["max_input_chars_per_word"] as? NSNumber)?.intValue {
            options.maxInputCharsPerWord = maxChars
        }
        guard let normalizer = root["normalizer"] as? [String: Any],
              normalizer["type"] as? String == "BertNormalizer" else {
            throw TokenizerError.badVocab(path: path, line: 0, message: "the normalizer is not a BertNormalizer")
        }
        if let lower = normalizer["lowercase"] as? Bool { options.lowercase = lower }
        options.stripAccents = normalizer["strip_accents"] as? Bool
        if let chinese = normalizer["handle_chinese_chars"] as? Bool { options.tokenizeChineseChars = chinese }
        if let clean = normalizer["clean_text"] as? Bool { cleanText = clean }
        if let pre = root["pre_tokenizer"] as? [String: Any], pre["type"] as? String != "BertPreTokenizer" {
            throw TokenizerError.badVocab(path: path, line: 0,
                                          message: "the pre_tokenizer \(pre["type"] ?? "?") is not BertPreTokenizer")
        }
        if let added = root["added_tokens"] as? [[String: Any]] {
            addedTokens = added.compactMap { $0["content"] as? String }
        }
    }
}
