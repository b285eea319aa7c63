import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The commit protocol for every file FeatureStore writes (DESIGN §4, CRASH-SAFETY-AND-SCALE B.1): build the
/// file at `<target>.tmp`, close it, `fsync` it, `rename` it over the target, `fsync` the directory.
///
/// A kill at any instant leaves either the old target (or none) or the complete new one, plus at most a stale
/// `.tmp`, which the next commit replaces. On any error the `.tmp` is removed and the target is untouched.
enum AtomicCommit {
    /// The temporary path for `url`: `url.path + ".tmp"`.
    static func temporaryURL(for url: URL) -> URL { URL(fileURLWithPath: url.path + ".tmp") }

    /// Runs `build` to write the file at the temporary path (it must close the file before returning), then
    /// makes it durable and moves it into place.
    static func write(_ url: URL, _ build: (_ temporary: URL) throws -> Void) throws {
        let tmp = temporaryURL(for: url)
        // A stale .tmp from a killed run is never valid: it goes (the file is then created exclusively).
        if unlink(tmp.path) != 0 && errno != ENOENT { throw posixError("removing the stale temporary file", tmp.path) }
        do {
            try build(tmp)
            try fsyncPath(tmp.path, directory: false)
            if rename(tmp.path, url.path) != 0 { throw posixError("renaming \(tmp.lastPathComponent) into place", url.path) }
        } catch {
            unlink(tmp.path)
            throw error
        }
        try fsyncPath(url.deletingLastPathComponent().path, directory: true)
    }

    /// `open` + `fsync` + `close`, for a file or a directory.
    private static func fsyncPath(_ path: String, directory: Bool) throws {
        let fd = open(path, directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY)
        if fd < 0 { throw posixError("opening for fsync", path) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw posixError("fsync", path) }
    }

    private static func posixError(_ what: String, _ path: String) -> FeatureStoreError {
        let code = errno
        return FeatureStoreError(path: path, message: "\(what) failed: \(String(cString: strerror(code))) (errno \(code))")
    }
}
