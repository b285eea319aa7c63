/// The character predicates of Hugging Face's fast BERT tokenizer, reproduced code point for code point.
///
/// The reference is `huggingface/tokenizers`: `tokenizers/src/normalizers/bert.rs` (`is_whitespace`,
/// `is_control`, `is_chinese_char`) and `tokenizers/src/pre_tokenizers/bert.rs` (`is_bert_punc`). Those use three
/// sources of Unicode data, of three different ages, and the port follows each one:
///
/// - **General categories** come from the `unicode_categories` crate, whose tables are those of **Unicode 8.0**.
///   Characters assigned later are unknown to it (neither control, punctuation nor nonspacing mark), and seven
///   characters have changed category since (``unicode8Overrides``). Its `is_other` is Cc, Cf or Co: an
///   unassigned (Cn) character is *not* removed by `clean_text`.
/// - **White_Space and lowercase mappings** come from Rust's standard library (`char::is_whitespace`,
///   `char::to_lowercase`, one character at a time), which follow the current Unicode version, as Swift does.
/// - **Canonical decomposition** (NFD) comes from the `unicode-normalization-alignments` crate, which knows no
///   character assigned after Unicode 12.1 (U+11938 DIVES AKURU VOWEL SIGN O, added in 13.0, stays whole).
///
/// `Tests/Fixtures/tokenizers/charclasses.txt`, written from the Rust library, checks every code point.
enum CharacterClasses {
    /// Code points whose general category in Unicode 8.0 differs from the one Swift reports today.
    static let unicode8Overrides: [UInt32: Unicode.GeneralCategory] = [
        0x166D: .otherPunctuation,  // CANADIAN SYLLABICS CHI SIGN: So since Unicode 12
        0x1734: .nonspacingMark,    // HANUNOO SIGN PAMUDPOD: Mc since Unicode 14
        0x1885: .otherLetter,       // MONGOLIAN LETTER ALI GALI BALUDA: Mn since Unicode 9
        0x1886: .otherLetter,       // MONGOLIAN LETTER ALI GALI THREE BALUDA: Mn since Unicode 9
        0xA9BD: .spacingMark,       // JAVANESE CONSONANT SIGN KERET: Mn since Unicode 12
        0x111C9: .otherPunctuation, // SHARADA SANDHI MARK: Mn since Unicode 11
        0x1171E: .nonspacingMark,   // AHOM CONSONANT SIGN MEDIAL RA: Mc since Unicode 14
    ]

    /// The general category as the `unicode_categories` crate (Unicode 8.0) has it; `.unassigned` for
    /// characters assigned after 8.0.
    @inline(__always)
    static func category8(_ s: Unicode.Scalar) -> Unicode.GeneralCategory {
        let p = s.properties
        guard let age = p.age, age.major < 8 || (age.major == 8 && age.minor == 0) else { return .unassigned }
        if let override = unicode8Overrides[s.value] { return override }
        return p.generalCategory
    }

    /// `clean_text` drops these: NUL, U+FFFD, and categories Cc, Cf, Co (Unicode 8.0) except tab, LF and CR.
    @inline(__always)
    static func isRemovedByCleanText(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D) || v == 0x7F }
        if v == 0xFFFD { return true }
        switch category8(s) {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    /// Whitespace for `clean_text` and the pre-tokenizer: tab, LF, CR, or the White_Space property (Rust's
    /// `char::is_whitespace`, broader than the slow tokenizer's category Zs).
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return v == 0x20 || (0x09...0x0D).contains(v) }
        return s.properties.isWhitespace
    }

    /// The pre-tokenizer's punctuation: all printable ASCII that is not a letter or digit
    /// (`!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~`), or a category P* character of Unicode 8.0.
    @inline(__always)
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        }
        switch category8(s) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// `strip_accents` drops these after NFD: category Mn of Unicode 8.0.
    @inline(__always)
    static func isNonspacingMark(_ s: Unicode.Scalar) -> Bool {
        s.value >= 0x300 && category8(s) == .nonspacingMark
    }

    /// The CJK ranges that `handle_chinese_chars` surrounds with spaces. They follow the Rust source, which
    /// starts one range at U+2B920 where the Python tokenizer has U+2B820 (so U+2B820–U+2B91F is not isolated).
    @inline(__always)
    static func isChinese(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Whether the reference NFD may decompose or reorder this scalar: it knows characters up to Unicode 12.1.
    /// Others behave as unassigned starters there, so the port never normalises across them.
    @inline(__always)
    static func isKnownToNFD(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major < 13
    }
}
