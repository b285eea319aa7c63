import Foundation

/// A CSV row that could not be turned into an Utterance. `key` is set when the IDs were readable, so the
/// failure can be recorded against that item.
public struct CSVRowError: Error, Codable, Sendable, CustomStringConvertible {
    public var split: Split
    public var line: Int
    /// Stable code: `wrong_field_count`, `bad_id`, `bad_label`, `bad_time`, `duplicate_key`, `unterminated_quote`.
    public var reason: String
    public var message: String
    public var key: UtteranceKey?

    public init(split: Split, line: Int, reason: String, message: String, key: UtteranceKey?) {
        self.split = split; self.line = line; self.reason = reason; self.message = message; self.key = key
    }

    public var description: String { "\(split.rawValue) CSV line \(line): \(reason): \(message)" }
}

/// Why a dataset could not be read at all (as opposed to one bad row).
public enum DatasetError: Error, CustomStringConvertible {
    case rootNotFound(String)
    case csvNotFound(split: Split, searched: [String])
    case unreadable(path: String, message: String)
    case missingColumn(path: String, column: String)

    public var description: String {
        switch self {
        case .rootNotFound(let p): return "dataset folder \(p) does not exist"
        case .csvNotFound(let s, let searched):
            return "no \(s.rawValue)_sent_emo.csv found under \(searched.joined(separator: ", "))"
        case .unreadable(let p, let m): return "cannot read \(p): \(m)"
        case .missingColumn(let p, let c): return "\(p) has no `\(c)` column"
        }
    }
}

/// MELD's annotation CSVs (`*_sent_emo.csv`, and Dyadic's with extra columns): columns are found by header
/// name, `Sr No.` is ignored, text and speaker are repaired with `MELDText.repair`.
public enum MELDAnnotations {
    static let required = ["Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
                           "Season", "Episode", "StartTime", "EndTime"]

    /// Parses one split's CSV. Malformed rows become errors, never a throw; a missing required column or an
    /// empty file throws. Utterances come back sorted by key.
    public static func parse(_ data: Data, split: Split, path: String = "CSV") throws -> (utterances: [Utterance], errors: [CSVRowError]) {
        let bytes = Array(MELDText.decode(data).utf8)
        var header: [String: Int]?
        var utterances: [Utterance] = []
        var errors: [CSVRowError] = []
        var seen: [UtteranceKey: Int] = [:]
        var headerError: DatasetError?
        readCSV(bytes) { record in
            guard headerError == nil else { return }
            guard let columns = header else {
                var map: [String: Int] = [:]
                for (i, name) in record.fields.enumerated() { map[name.trimmingCharacters(in: .whitespaces)] = i }
                if let missing = required.first(where: { map[$0] == nil }) {
                    headerError = .missingColumn(path: path, column: missing)
                }
                header = map
                return
            }
            let f = record.fields
            func field(_ name: String) -> String { f[columns[name]!] }
            let dia = columns["Dialogue_ID"].flatMap { $0 < f.count ? parseUnsigned(f[$0].trimmingCharacters(in: .whitespaces)) : nil }
            let utt = columns["Utterance_ID"].flatMap { $0 < f.count ? parseUnsigned(f[$0].trimmingCharacters(in: .whitespaces)) : nil }
            let key = (dia != nil && utt != nil) ? UtteranceKey(split: split, dialogueID: dia!, utteranceID: utt!) : nil
            func fail(_ reason: String, _ message: String) {
                errors.append(CSVRowError(split: split, line: record.line, reason: reason, message: message, key: key))
            }
            if record.unterminatedQuote { return fail("unterminated_quote", "a quoted field is not closed") }
            guard f.count == columns.count else {
                return fail("wrong_field_count", "\(f.count) fields, expected \(columns.count)")
            }
            guard let key else {
                return fail("bad_id", "Dialogue_ID `\(field("Dialogue_ID"))` / Utterance_ID `\(field("Utterance_ID"))` are not non-negative integers")
            }
            guard let emotion = Emotion(rawValue: field("Emotion").trimmingCharacters(in: .whitespaces).lowercased()) else {
                return fail("bad_label", "unknown emotion `\(field("Emotion"))`")
            }
            guard let sentiment = Sentiment(rawValue: field("Sentiment").trimmingCharacters(in: .whitespaces).lowercased()) else {
                return fail("bad_label", "unknown sentiment `\(field("Sentiment"))`")
            }
            guard let start = MELDTime.parse(field("StartTime")), let end = MELDTime.parse(field("EndTime")) else {
                return fail("bad_time", "StartTime `\(field("StartTime"))` / EndTime `\(field("EndTime"))` are not H:MM:SS,fff")
            }
            if let first = seen[key] { return fail("duplicate_key", "\(key) already defined on line \(first)") }
            seen[key] = record.line
            utterances.append(Utterance(key: key, text: MELDText.repair(field("Utterance")),
                                        speaker: MELDText.repair(field("Speaker")), emotion: emotion, sentiment: sentiment,
                                        season: parseUnsigned(field("Season")) ?? 0, episode: parseUnsigned(field("Episode")) ?? 0,
                                        startTime: start, endTime: end))
        }
        if let headerError { throw headerError }
        guard header != nil else { throw DatasetError.unreadable(path: path, message: "the file is empty") }
        utterances.sort { $0.key < $1.key }
        return (utterances, errors)
    }
}
