import Foundation

/// Work splitting for the elementwise and per-row ops, and the attention's per-head products.
///
/// Threads: at most `Parallel.threads` chunks run at once, on libdispatch's pool. `BLAS.setThreads` sets both this
/// and OpenBLAS's own count, so one knob decides how many cores the module uses. The two never overlap: every op
/// either calls OpenBLAS from one thread (which fans out to OpenBLAS's threads) or runs a parallel loop whose
/// bodies call OpenBLAS only on products small enough for OpenBLAS to keep on the calling thread
/// (`BLAS.callingThreadProductLimit`).
enum Parallel {
    /// Cores available to this process.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    private static let lock = NSLock()
    private static var width = cores

    /// How many chunks may run at once (default: all cores).
    static var threads: Int {
        get { lock.lock(); defer { lock.unlock() }; return width }
        set { lock.lock(); width = max(1, newValue); lock.unlock() }
    }

    /// Runs `body` over `0..<count` split into contiguous chunks, in parallel when there is at least
    /// `2 * grain` work (`count * costPerItem` ≥ 2·grain), else inline on the calling thread.
    ///
    /// With enough work there are up to 4 chunks per thread, which `threads` workers take in turn as they free
    /// up: a core lost to another process for a while then delays a quarter of the loop rather than half of it.
    /// - Parameters:
    ///   - costPerItem: rough work per index (e.g. the row length), so few long rows still parallelise.
    ///   - grain: work below which a chunk is not worth a thread (~ 2^15 simple flops).
    @inline(__always)
    static func forEachChunk(_ count: Int, costPerItem: Int = 1, grain: Int = 1 << 15,
                             _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let work = count * max(1, costPerItem)
        let threads = self.threads
        let chunks = min(4 * threads, count, work / grain)
        if threads == 1 || chunks <= 1 {
            body(0..<count)
            return
        }
        func range(_ c: Int) -> Range<Int> { (count * c / chunks)..<(count * (c + 1) / chunks) }
        let workers = min(threads, chunks)
        if workers == chunks {
            DispatchQueue.concurrentPerform(iterations: chunks) { c in body(range(c)) }
            return
        }
        let next = ChunkCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let c = next.claim(below: chunks) { body(range(c)) }
        }
    }
}

/// Hands out chunk numbers 0, 1, 2, ... to whichever worker asks first.
private final class ChunkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func claim(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < limit else { return nil }
        next += 1
        return next - 1
    }
}

/// Runs `body` over `0..<count` split into `min(width, count, count · costPerItem / grain)` contiguous chunks, in
/// parallel on libdispatch's pool when that is more than one, else inline: the models' own row loops (HuBERT,
/// CLIP, MTCNN), which choose their width themselves (all cores, a workspace's workers, or 1 inside lanes).
/// - Parameters:
///   - costPerItem: rough work per index (e.g. the row length), so few long rows still parallelise.
///   - grain: work per chunk below which a dispatch does not pay (~ 2^15 simple flops).
@inlinable
public func parallelChunks(_ count: Int, width: Int, costPerItem: Int = 1, grain: Int = 1 << 15,
                         _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = min(width, count, count * max(1, costPerItem) / max(1, grain))
    if chunks <= 1 {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks, hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}
