import Foundation

/// Work splitting for the elementwise and per-row ops.
enum Parallel {
    /// Cores available to this process.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` over `0..<count` split into contiguous chunks, in parallel when there is at least
    /// `2 * grain` work (`count * costPerItem` ≥ 2·grain), else inline on the calling thread.
    /// - Parameters:
    ///   - costPerItem: rough work per index (e.g. the row length), so few long rows still parallelise.
    ///   - grain: work below which a chunk is not worth a thread (~ 2^15 simple flops).
    @inline(__always)
    static func forEachChunk(_ count: Int, costPerItem: Int = 1, grain: Int = 1 << 15,
                             _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let work = count * max(1, costPerItem)
        let chunks = min(cores, count, work / grain)
        if chunks <= 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
