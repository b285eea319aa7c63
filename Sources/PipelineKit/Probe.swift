import Datasets
import Foundation
import MediaIO

/// `pipeline probe`: a media check of every annotated clip — streams, duration against the CSV span,
/// decodability — with reason codes, written to `Manifests/<dataset>-probe.json`.
public enum Probe {
    /// One annotated item's check. `problems` are errors (the item cannot be extracted); `warnings` are not.
    public struct ItemReport: Codable, Sendable {
        public var key: String
        public var clip: String?
        public var csvStart: Double
        public var csvEnd: Double
        public var problems: [String]
        public var warnings: [String]
        public var media: ProbeResult?
    }

    public struct Report: Codable, Sendable {
        public var datasetRoot: String
        public var items: [ItemReport]
        public var unannotatedClips: [String]
        public var csvErrors: [String]
        public var problemCount: Int { items.filter { !$0.problems.isEmpty }.count + csvErrors.count }
    }

    /// Probes every annotated clip of `splits`, in parallel on `jobs` threads.
    public static func run(root: URL, splits: [Split], jobs: Int, progress: ProgressReporter) throws -> Report {
        let layout = try MELDLayout(root: root)
        var items: [ItemReport] = []
        var unannotated: [String] = []
        var csvErrors: [String] = []
        for split in splits {
            let (utterances, errors) = try layout.loadAnnotations(split: split)
            csvErrors += errors.map { "\(split.rawValue) line \($0.line): \($0.reason): \($0.message)" }
            let clips = layout.clips(for: split)
            unannotated += layout.unannotatedClips(for: split, annotated: Set(utterances.map(\.key))).map(\.path)
            progress.setTotal("probe", items.count + utterances.count)
            items += parallelMap(utterances.count, jobs: jobs) { i in
                let u = utterances[i]
                defer { progress.advance("probe") }
                return check(u, clip: clips[u.key.clipName])
            }
        }
        progress.finish()
        return Report(datasetRoot: root.path, items: items, unannotatedClips: unannotated.sorted(), csvErrors: csvErrors)
    }

    static func check(_ u: Utterance, clip: URL?) -> ItemReport {
        var r = ItemReport(key: u.key.description, clip: clip?.path, csvStart: u.startTime, csvEnd: u.endTime,
                           problems: [], warnings: [], media: nil)
        let span = u.endTime - u.startTime
        if span <= 0 { r.warnings.append("zero_span: the CSV gives EndTime ≤ StartTime") }
        if span > 30 { r.warnings.append(String(format: "long_span: the CSV span is %.1f s", span)) }
        guard let clip else {
            r.problems.append("missing_clip: no \(u.key.clipName).mp4 in the \(u.key.split.rawValue) clip folder")
            return r
        }
        let m = MediaProber.probe(url: clip, decodeAudio: true)
        r.media = m
        // A clip without video still gives every audio feature: a warning, not a problem.
        if let reason = m.reason, reason != "no_video_stream" { r.problems.append("\(reason): \(m.message ?? "")") }
        else if let message = m.message { r.warnings.append(message) }
        if !m.streams.contains(where: { $0.type == "video" }) { r.warnings.append("no_video_stream") }
        if let d = m.duration, span > 0, abs(d - span) > max(1.0, 0.5 * span) {
            r.warnings.append(String(format: "duration_mismatch: clip %.2f s, CSV span %.2f s", d, span))
        }
        return r
    }
}
