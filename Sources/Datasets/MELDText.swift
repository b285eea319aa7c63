import Foundation

/// Decoding and repair of MELD's text (MELD-DATA.md §2).
///
/// The tarball CSVs are valid UTF-8 but carry cp1252 punctuation as C1 control characters
/// (`company\u{92}s`); upstream HEAD has the proper characters (`company’s`). `repair` makes the two agree.
/// ```swift
/// MELDText.repair("company\u{92}s")   // "company’s"
/// ```
public enum MELDText {
    /// Bytes → String: UTF-8, falling back to cp1252 when the bytes are not valid UTF-8.
    ///
    /// A leading UTF-8 byte-order mark is dropped. In the fallback, the five bytes cp1252 leaves undefined
    /// (0x81, 0x8D, 0x8F, 0x90, 0x9D) become the C1 code point of the same value, as Windows does.
    public static func decode(_ data: Data) -> String {
        var body = data
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        if let text = String(data: body, encoding: .utf8) { return text }
        var scalars = String.UnicodeScalarView()
        for byte in body { scalars.append(cp1252Scalar(byte)) }
        return String(scalars)
    }

    /// The encoding repair of MELD-DATA.md §2: U+0080–U+009F mapped through cp1252 (U+0092→U+2019,
    /// U+0085→U+2026, U+0097→U+2014, …), U+00A0→space. Nothing else changes.
    ///
    /// The five C1 code points cp1252 leaves undefined are kept as they are.
    public static func repair(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { (0x80...0xA0).contains($0.value) }) else { return text }
        var scalars = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            switch s.value {
            case 0x80...0x9F: scalars.append(cp1252Scalar(UInt8(s.value)))
            case 0xA0: scalars.append(" ")
            default: scalars.append(s)
            }
        }
        return String(scalars)
    }

    /// The Unicode scalar of one cp1252 byte.
    static func cp1252Scalar(_ byte: UInt8) -> Unicode.Scalar {
        guard (0x80...0x9F).contains(byte) else { return Unicode.Scalar(byte) }
        return Unicode.Scalar(cp1252C1[Int(byte - 0x80)])!
    }

    /// cp1252 bytes 0x80–0x9F; the undefined ones map to themselves.
    private static let cp1252C1: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, // 80–87
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, // 88–8F
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, // 90–97
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, // 98–9F
    ]
}
