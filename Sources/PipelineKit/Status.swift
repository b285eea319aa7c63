import Datasets
import Foundation

/// Per stage and split: how many items are done, failed, stale (and why) or pending — what `pipeline status`
/// prints and `--dry-run` shows before running.
public struct StatusRow: Sendable {
    public var stage: String
    public var split: String
    public var items: Int
    public var done = 0
    public var failed = 0
    public var stale: [RunReason: Int] = [:]
    public var pending = 0
    public var dirtyShards = 0
    public var shards = 0
    public var indexPresent = false

    public var staleCount: Int { stale.values.reduce(0, +) }
    public var state: String {
        if pending == items && items > 0 { return "pending" }
        if staleCount > 0 || pending > 0 { return "stale" }
        if failed > 0 { return "failed" }
        return indexPresent || items == 0 ? "done" : "stale"
    }
}

extension Engine {
    /// Status rows from a plan (no work is done).
    public func status(_ plans: [StagePlan]) -> [StatusRow] {
        var rows: [StatusRow] = []
        for p in plans {
            for sp in p.splits {
                var row = StatusRow(stage: p.stage.name, split: sp.split.rawValue, items: sp.shards.reduce(0) { $0 + $1.items.count })
                row.shards = sp.shards.count
                row.indexPresent = FileManager.default.fileExists(atPath: indexURL(p.stage.name, sp.split).path)
                for sh in sp.shards {
                    if sh.dirty { row.dirtyShards += 1 }
                    for (u, fp) in zip(sh.items, sh.fingerprints) {
                        let rec = sp.records[u.key.description]
                        if let r = fp.reason(against: rec) {
                            if r == .neverBuilt { row.pending += 1 } else { row.stale[r, default: 0] += 1 }
                        } else if sh.dirty {
                            // The item agrees but its shard does not (forced, file missing, retry).
                            let r = sh.reasons.keys.max()!
                            row.stale[r == .neverBuilt ? .outputMissing : r, default: 0] += 1
                        } else if rec?.status == "failed" {
                            row.failed += 1
                        } else {
                            row.done += 1
                        }
                    }
                }
                rows.append(row)
            }
        }
        return rows
    }

    /// The status table as text, one line per stage and split, with the reasons for stale items.
    public static func renderStatus(_ rows: [StatusRow], dryRun: Bool) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func num(_ v: Int, _ n: Int) -> String { let s = String(v); return String(repeating: " ", count: max(0, n - s.count)) + s }
        var out = pad("stage", 10) + " " + pad("split", 6) + " " + pad("state", 8) + "  items   done failed  stale pending  "
            + (dryRun ? "would run because" : "why") + "\n"
        for r in rows {
            var why = r.stale.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.rawValue)" }
            if r.pending > 0 { why.insert("\(r.pending) never built", at: 0) }
            if why.isEmpty, !r.indexPresent, r.items > 0 { why.append("index file missing (a run rewrites it)") }
            if dryRun {
                why = why.isEmpty ? ["nothing to do"] : why
                if r.dirtyShards > 0 { why = [why.joined(separator: ", ") + " (\(r.dirtyShards) of \(r.shards) shards)"] }
            } else if r.failed > 0 {
                why.append("\(r.failed) failed (listed below)")
            }
            out += pad(r.stage, 10) + " " + pad(r.split, 6) + " " + pad(r.state, 8) + " " + num(r.items, 6) + " "
                + num(r.done, 6) + " " + num(r.failed, 6) + " " + num(r.staleCount, 6) + " " + num(r.pending, 7) + "  "
                + why.joined(separator: ", ") + "\n"
        }
        return out
    }
}
