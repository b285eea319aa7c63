import Foundation

/// The one process-wide lock every HDF5 call in this module takes.
///
/// Debian's libhdf5 is built thread-safe, which serialises every API call behind its own global mutex anyway;
/// builds that are not thread-safe (conda, custom, often macOS) crash under concurrent calls even on different
/// files. Taking this lock around each call makes FeatureStore safe on both. It is recursive, so code holding it
/// (e.g. a caller grouping several reads) may call FeatureStore again.
///
/// ```swift
/// let (a, b) = try HDF5Lock.withLock { (try file.readFloats("coef_mean"), try file.readFloats("coef_std")) }
/// ```
public enum HDF5Lock {
    private static let lock = NSRecursiveLock()

    /// Runs `body` holding the lock.
    public static func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
