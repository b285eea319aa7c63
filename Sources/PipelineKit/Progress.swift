import Foundation

/// Progress of long work, per stage: items done, rate and ETA. On a terminal it redraws one line per stage in
/// place; otherwise (a log file, CI, Slurm) it prints a plain line every few seconds and at the end.
public final class ProgressReporter: @unchecked Sendable {
    private struct Counter { var total = 0; var done = 0; var failed = 0; var start: Date? }
    private let lock = NSLock()
    private var order: [String] = []
    private var counters: [String: Counter] = [:]
    private let isTerminal: Bool
    private let enabled: Bool
    private var lastDraw = Date()
    private var drawnLines = 0
    private let interval: TimeInterval

    public init(enabled: Bool = true) {
        self.enabled = enabled
        isTerminal = isatty(STDERR_FILENO) == 1
        interval = isatty(STDERR_FILENO) == 1 ? 0.2 : 5
    }

    public func setTotal(_ stage: String, _ total: Int) {
        lock.lock(); defer { lock.unlock() }
        if counters[stage] == nil { order.append(stage) }
        counters[stage, default: Counter()].total = total
    }

    public func advance(_ stage: String, failed: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        var c = counters[stage, default: Counter()]
        if c.start == nil { c.start = Date() }
        c.done += 1
        if failed { c.failed += 1 }
        counters[stage] = c
        if Date().timeIntervalSince(lastDraw) >= interval { drawLocked() }
    }

    /// Prints the final state (and leaves the terminal lines in place).
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        if counters.values.contains(where: { $0.done > 0 }) { drawLocked() }
    }

    private func line(_ stage: String, _ c: Counter) -> String {
        let elapsed = c.start.map { Date().timeIntervalSince($0) } ?? 0
        let rate = elapsed > 0 ? Double(c.done) / elapsed : 0
        let remaining = rate > 0 ? Double(c.total - c.done) / rate : 0
        let failed = c.failed > 0 ? ", \(c.failed) failed" : ""
        let eta = c.done >= c.total ? "done in \(Self.duration(elapsed))" : "ETA \(Self.duration(remaining))"
        return String(format: "%@ %d/%d items, %.1f/s%@, %@", stage.padding(toLength: 10, withPad: " ", startingAt: 0),
                      c.done, c.total, rate, failed, eta)
    }

    private func drawLocked() {
        guard enabled else { return }
        lastDraw = Date()
        let lines = order.compactMap { s in counters[s].flatMap { $0.total > 0 ? line(s, $0) : nil } }
        if isTerminal {
            var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
            for l in lines { out += "\r\u{1B}[2K" + l + "\n" }
            drawnLines = lines.count
            FileHandle.standardError.write(Data(out.utf8))
        } else {
            FileHandle.standardError.write(Data(lines.map { "progress: " + $0 + "\n" }.joined().utf8))
        }
    }

    static func duration(_ s: Double) -> String {
        if !s.isFinite { return "?" }
        let t = Int(s.rounded())
        if t >= 3600 { return "\(t / 3600)h\(String(format: "%02d", (t % 3600) / 60))m" }
        if t >= 60 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
        return String(format: "%.1fs", s)
    }
}

/// Plain log lines to stderr (the summary goes to stdout).
public func logLine(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}
