import Foundation

/// Recently freed large tensor buffers, kept for the next tensor of the same size.
///
/// An encoder allocates the same few shapes in every layer and every call ([B·L, 3H], [B·L, I], ...). Freeing such a
/// buffer (megabytes) returns it to the kernel, and the next allocation faults every page back in, zeroed: for
/// bert-base at 32 × 24 tokens that was 3400 page faults per forward pass. Keeping them here instead makes the
/// steady state fault-free.
///
/// Only blocks of at least `minimumBytes` are kept (malloc recycles smaller ones itself), at most `capacityBytes`
/// in all, oldest dropped first; a block is reused only for exactly its size. Thread-safe.
enum StoragePool {
    static let minimumBytes = 1 << 20
    static let capacityBytes = 64 << 20

    private static let lock = NSLock()
    /// Oldest first.
    private static var blocks: [(bytes: Int, pointer: UnsafeMutableRawPointer)] = []
    private static var heldBytes = 0

    /// A 64-byte aligned, uninitialised block of `byteCount` bytes: a kept one of that size, else a new one.
    static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount >= minimumBytes {
            lock.lock()
            if let i = blocks.lastIndex(where: { $0.bytes == byteCount }) {
                let block = blocks.remove(at: i)
                heldBytes -= block.bytes
                lock.unlock()
                return block.pointer
            }
            lock.unlock()
        }
        return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    /// Takes back a block from `allocate(byteCount:)`: keeps it, or frees it (or older blocks) past the capacity.
    static func release(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        guard byteCount >= minimumBytes, byteCount <= capacityBytes else {
            pointer.deallocate()
            return
        }
        var evicted: [UnsafeMutableRawPointer] = []
        lock.lock()
        blocks.append((byteCount, pointer))
        heldBytes += byteCount
        while heldBytes > capacityBytes {
            let oldest = blocks.removeFirst()
            heldBytes -= oldest.bytes
            evicted.append(oldest.pointer)
        }
        lock.unlock()
        for p in evicted { p.deallocate() }
    }
}
