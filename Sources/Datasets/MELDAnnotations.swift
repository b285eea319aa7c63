import Foundation

/// A CSV row that could not be turned into an Utterance. `key` is set when the IDs were readable, so the
/// failure can be recorded against that item.
public struct CSVRowError: Error, Codable, Sendable, CustomStringConvertible {
    public var split: Split
    /// The 1-based physical line the row starts on (the header is line 1).
    public var line: Int
    /// A stable code: "wrong_field_count", "bad_id", "bad_label", "bad_time", "duplicate_key",
    /// "unterminated_quote".
    public var reason: String
    public var message: String
    public var key: UtteranceKey?

    public init(split: Split, line: Int, reason: String, message: String, key: UtteranceKey? = nil) {
        self.split = split
        self.line = line
        self.reason = reason
        self.message = message
        self.key = key
    }

    public var description: String {
        "\(split.rawValue) line \(line): \(reason): \(message)" + (key.map { " (\($0))" } ?? "")
    }
}

/// Errors finding or reading a MELD copy.
public enum DatasetError: Error, CustomStringConvertible {
    case rootNotFound(String)
    case csvNotFound(split: Split, searched: [String])
    case unreadable(path: String, message: String)
    case missingColumn(path: String, column: String)

    public var description: String {
        switch self {
        case .rootNotFound(let path): return "dataset root not found: \(path)"
        case .csvNotFound(let split, let searched):
            return "no \(split.rawValue)_sent_emo.csv found; searched \(searched.joined(separator: ", "))"
        case .unreadable(let path, let message): return "cannot read \(path): \(message)"
        case .missingColumn(let path, let column): return "\(path): the header has no `\(column)` column"
        }
    }
}

/// The parser of MELD's `*_sent_emo.csv` annotation files (MELD-DATA.md §1–4).
///
/// ```swift
/// let (utterances, errors) = try MELDAnnotations.parse(Data(contentsOf: url), split: .train)
/// ```
public struct MELDAnnotations {
    /// The columns read, by header name; any others (`Sr No.`, Dyadic's `Old_*`) are ignored.
    static let requiredColumns = ["Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
                                  "Season", "Episode", "StartTime", "EndTime"]

    /// Parses one split's `*_sent_emo.csv` (columns by header name, so Dyadic's extra columns or a missing
    /// `Sr No.` are fine; `Sr No.` ignored). CRLF or LF, quoted fields, doubled quotes. Text and speaker are
    /// repaired with MELDText.repair. Utterances sorted by key. Malformed rows become errors, never a throw;
    /// a missing required column or an empty file throws.
    ///
    /// - Parameters:
    ///   - data: the file's bytes (UTF-8, or cp1252 as a fallback; see `MELDText.decode`).
    ///   - split: the split the rows belong to.
    ///   - path: the file named in thrown errors (default `<split>_sent_emo.csv`).
    /// - Returns: the good rows sorted by key, and one error per malformed row in line order. Of two rows with
    ///   the same key the first is kept and the second is a `duplicate_key` error.
    /// - Throws: `DatasetError.unreadable` for a file with no header, `.missingColumn` for a missing column.
    public static func parse(_ data: Data, split: Split, path: String? = nil) throws
        -> (utterances: [Utterance], errors: [CSVRowError]) {
        let path = path ?? "\(split.rawValue)_sent_emo.csv"
        var column: [String: Int]?
        var utterances: [Utterance] = []
        var errors: [CSVRowError] = []
        var missing: String?
        var seen: Set<UtteranceKey> = []
        utterances.reserveCapacity(data.count / 100)

        readCSV(Array(MELDText.decode(data).utf8)) { record in
            guard missing == nil else { return }
            guard let column else {
                var names: [String: Int] = [:]
                for (i, name) in record.fields.enumerated() {
                    let name = name.trimmingCharacters(in: .whitespaces)
                    if names[name] == nil { names[name] = i }
                }
                missing = requiredColumns.first { names[$0] == nil }
                column = names
                return
            }
            func fail(_ reason: String, _ message: String, _ key: UtteranceKey? = nil) {
                errors.append(CSVRowError(split: split, line: record.line, reason: reason, message: message, key: key))
            }
            if record.unterminatedQuote { return fail("unterminated_quote", "a quoted field is not closed on its line") }
            guard record.fields.count == column.count else {
                return fail("wrong_field_count", "\(record.fields.count) fields, the header has \(column.count)")
            }
            func field(_ name: String) -> String { record.fields[column[name]!] }
            func number(_ name: String) -> Int? { parseUnsigned(trimmedSpaces(field(name))) }

            guard let dia = number("Dialogue_ID"), let utt = number("Utterance_ID") else {
                return fail("bad_id", "Dialogue_ID `\(field("Dialogue_ID"))` / Utterance_ID `\(field("Utterance_ID"))` "
                    + "is not a non-negative integer")
            }
            let key = UtteranceKey(split: split, dialogueID: dia, utteranceID: utt)
            guard let season = number("Season"), let episode = number("Episode") else {
                return fail("bad_id", "Season `\(field("Season"))` / Episode `\(field("Episode"))` "
                    + "is not a non-negative integer", key)
            }
            guard let emotion = Emotion(rawValue: label(field("Emotion"))) else {
                return fail("bad_label", "unknown emotion `\(field("Emotion"))`", key)
            }
            guard let sentiment = Sentiment(rawValue: label(field("Sentiment"))) else {
                return fail("bad_label", "unknown sentiment `\(field("Sentiment"))`", key)
            }
            guard let start = MELDTime.parse(field("StartTime")), let end = MELDTime.parse(field("EndTime")) else {
                return fail("bad_time", "StartTime `\(field("StartTime"))` / EndTime `\(field("EndTime"))` "
                    + "is not H:MM:SS,fff", key)
            }
            guard seen.insert(key).inserted else {
                return fail("duplicate_key", "\(key) already appeared on an earlier line", key)
            }
            utterances.append(Utterance(key: key, text: MELDText.repair(field("Utterance")),
                                        speaker: MELDText.repair(field("Speaker")), emotion: emotion,
                                        sentiment: sentiment, season: season, episode: episode,
                                        startTime: start, endTime: end))
        }
        guard column != nil else { throw DatasetError.unreadable(path: path, message: "the file is empty (no header row)") }
        if let missing { throw DatasetError.missingColumn(path: path, column: missing) }
        utterances.sort { $0.key < $1.key }
        return (utterances, errors)
    }

    /// A label as written, trimmed and lowercased (MELD's are already lowercase).
    private static func label(_ s: String) -> String { trimmedSpaces(s).lowercased() }
}
