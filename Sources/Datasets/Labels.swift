import Foundation

/// A MELD split, ordered train < dev < test.
public enum Split: String, CaseIterable, Codable, Sendable, Comparable {
    case train, dev, test

    public static func < (a: Split, b: Split) -> Bool { a.index < b.index }

    private var index: Int { Split.allCases.firstIndex(of: self)! }
}

/// The seven MELD emotions. The label index is the position in `allCases`.
public enum Emotion: String, CaseIterable, Codable, Sendable {
    case neutral, joy, surprise, anger, sadness, disgust, fear

    /// The label index stored in the cache (position in `allCases`).
    public var index: Int { Emotion.allCases.firstIndex(of: self)! }
}

/// The three MELD sentiments. The label index is the position in `allCases`.
///
/// Keep it per row: it is not derivable from the emotion (surprise is either positive or negative).
public enum Sentiment: String, CaseIterable, Codable, Sendable {
    case neutral, positive, negative

    /// The label index stored in the cache (position in `allCases`).
    public var index: Int { Sentiment.allCases.firstIndex(of: self)! }
}

/// The identity of one annotated utterance, written `train/dia0_utt0`.
///
/// Ordered by (split, dialogueID, utteranceID). Encoded as its description string.
/// ```swift
/// let key = UtteranceKey("dev/dia3_utt1")!   // key.clipName == "dia3_utt1"
/// ```
public struct UtteranceKey: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var split: Split
    public var dialogueID: Int
    public var utteranceID: Int

    public init(split: Split, dialogueID: Int, utteranceID: Int) {
        self.split = split
        self.dialogueID = dialogueID
        self.utteranceID = utteranceID
    }

    /// Parses `train/dia0_utt0`; nil for anything else.
    public init?(_ string: String) {
        let parts = string.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let split = Split(rawValue: String(parts[0])) else { return nil }
        self.init(split: split, clipName: String(parts[1]))
    }

    /// Parses a clip name `dia0_utt0` (no extension) for `split`; nil for anything else.
    public init?(split: Split, clipName: String) {
        guard clipName.hasPrefix("dia"), let sep = clipName.range(of: "_utt") else { return nil }
        let dia = clipName[clipName.index(clipName.startIndex, offsetBy: 3)..<sep.lowerBound]
        let utt = clipName[sep.upperBound...]
        guard let d = parseUnsigned(dia), let u = parseUnsigned(utt) else { return nil }
        self.init(split: split, dialogueID: d, utteranceID: u)
    }

    /// The clip's base name, `dia0_utt0`.
    public var clipName: String { "dia\(dialogueID)_utt\(utteranceID)" }

    /// `train/dia0_utt0`.
    public var description: String { "\(split.rawValue)/\(clipName)" }

    public static func < (a: UtteranceKey, b: UtteranceKey) -> Bool {
        (a.split, a.dialogueID, a.utteranceID) < (b.split, b.dialogueID, b.utteranceID)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = UtteranceKey(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not an utterance key: `\(text)`"))
        }
        self = key
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// One annotated row of a `*_sent_emo.csv`, with its text repaired (see `MELDText.repair`).
public struct Utterance: Codable, Sendable, Hashable {
    public var key: UtteranceKey
    public var text: String
    public var speaker: String
    public var emotion: Emotion
    public var sentiment: Sentiment
    public var season: Int
    public var episode: Int
    /// Seconds into the episode.
    public var startTime: Double
    /// Seconds into the episode.
    public var endTime: Double

    public init(key: UtteranceKey, text: String, speaker: String, emotion: Emotion, sentiment: Sentiment,
                season: Int, episode: Int, startTime: Double, endTime: Double) {
        self.key = key
        self.text = text
        self.speaker = speaker
        self.emotion = emotion
        self.sentiment = sentiment
        self.season = season
        self.episode = episode
        self.startTime = startTime
        self.endTime = endTime
    }

    /// `endTime - startTime` in seconds; zero or absurdly long for a few real rows (MELD-DATA.md §4).
    public var duration: Double { endTime - startTime }
}

/// A non-empty run of ASCII digits as an Int; nil for signs, spaces, other characters or overflow.
func parseUnsigned<S: StringProtocol>(_ s: S) -> Int? {
    var value = 0
    var count = 0
    for b in s.utf8 {
        guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
        if o1 || o2 { return nil }
        value = a
        count += 1
    }
    return count > 0 ? value : nil
}

/// `s` without leading and trailing spaces and tabs (cheaper than Foundation's trimming, which shows in parsing).
func trimmedSpaces(_ s: String) -> Substring {
    let u = s.utf8
    var start = u.startIndex, end = u.endIndex
    while start < end, u[start] == 0x20 || u[start] == 0x09 { u.formIndex(after: &start) }
    while end > start, u[u.index(before: end)] == 0x20 || u[u.index(before: end)] == 0x09 { u.formIndex(before: &end) }
    return s[start..<end]
}
