import Foundation

/// BERT's normaliser and pre-tokenizer, in the order of the fast (Rust) tokenizer.
///
/// Follows `huggingface/tokenizers` `tokenizers/src/normalizers/bert.rs` (`BertNormalizer::normalize`) and
/// `tokenizers/src/pre_tokenizers/bert.rs` (`BertPreTokenizer`):
/// 1. clean text: drop NUL, U+FFFD and control/format/private-use characters; every whitespace becomes `" "`;
/// 2. surround each CJK ideograph with spaces;
/// 3. strip accents (NFD, then drop category Mn), when `stripAccents` (default: when lowercasing);
/// 4. lowercase, one scalar at a time (no context: `Σ` is always `σ`).
/// Then split on whitespace, and make every punctuation character a word of its own.
///
/// The slow Python `BasicTokenizer` differs: it lowercases *before* stripping accents, its whitespace is
/// only category Zs plus tab/LF/CR, and its Chinese ranges start at U+2B820. See ``CharacterClasses``.
struct BertNormalizer: Sendable {
    var cleanText = true
    var handleChineseChars = true
    var stripAccents = true
    var lowercase = true

    /// The words of `text` after normalisation and pre-tokenisation.
    func words(_ text: Substring) -> [[Unicode.Scalar]] {
        let normalized = normalize(text)
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in normalized {
            if CharacterClasses.isWhitespace(s) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if CharacterClasses.isPunctuation(s) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// The normalised scalars of `text` (steps 1–4).
    func normalize(_ text: Substring) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.utf8.count + 8)
        var needsDecomposition = false
        var allASCII = true
        for s in text.unicodeScalars {
            if cleanText {
                if CharacterClasses.isRemovedByCleanText(s) { continue }
                if CharacterClasses.isWhitespace(s) { out.append(" "); continue }
            }
            if s.value >= 0x80 { allASCII = false }
            if s.value >= 0xC0 { needsDecomposition = true }  // no canonical decomposition starts below U+00C0
            if handleChineseChars && CharacterClasses.isChinese(s) {
                out.append(" "); out.append(s); out.append(" ")
            } else {
                out.append(s)
            }
        }
        if stripAccents && needsDecomposition {
            out = Self.stripAccents(out)
        }
        if lowercase {
            if allASCII {
                for i in out.indices where (0x41...0x5A).contains(out[i].value) {
                    out[i] = Unicode.Scalar(out[i].value + 0x20)!
                }
            } else {
                var lowered: [Unicode.Scalar] = []
                lowered.reserveCapacity(out.count)
                for s in out {
                    if s.value < 0x80 {
                        lowered.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value + 0x20)! : s)
                    } else {
                        lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                    }
                }
                out = lowered
            }
        }
        return out
    }

    /// NFD, then without category Mn. NFD is applied to each run of scalars the reference's normaliser knows
    /// (``CharacterClasses/isKnownToNFD(_:)``), so newer characters are neither decomposed nor reordered.
    static func stripAccents(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count + 8)
        var run = String.UnicodeScalarView()
        func flush() {
            guard !run.isEmpty else { return }
            for d in String(run).decomposedStringWithCanonicalMapping.unicodeScalars
            where !CharacterClasses.isNonspacingMark(d) {
                out.append(d)
            }
            run = String.UnicodeScalarView()
        }
        for s in scalars {
            if s.value < 0xC0 || CharacterClasses.isKnownToNFD(s) {
                run.append(s)
            } else {
                flush()
                if !CharacterClasses.isNonspacingMark(s) { out.append(s) }
            }
        }
        flush()
        return out
    }
}
