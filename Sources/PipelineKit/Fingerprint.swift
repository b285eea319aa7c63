import Foundation

/// Why a stage will run (or did) for an item or shard — the answer `status` and `--dry-run` give.
public enum RunReason: String, Sendable, CaseIterable, Comparable {
    case neverBuilt = "never built"
    case codeChanged = "code changed"
    case paramsChanged = "params changed"
    case inputChanged = "input changed"
    case outputMissing = "output missing"
    case forced = "forced"
    case failedBefore = "failed before (retrying)"

    public static func < (a: RunReason, b: RunReason) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The parts of one item's fingerprint for one stage, kept apart so a mismatch can say which part changed.
public struct ItemFingerprint: Sendable, Equatable {
    public var codeVersion: Int
    public var paramsHash: String
    public var inputHash: String
    public var value: String

    public init(stage: String, kind: String, codeVersion: Int, paramsJSON: String, inputs: [String]) {
        self.codeVersion = codeVersion
        paramsHash = SHA256.hex(paramsJSON)
        inputHash = SHA256.hex(inputs.joined(separator: "\n"))
        value = SHA256.hex("\(stage)\n\(kind)\n\(codeVersion)\n\(paramsHash)\n\(inputHash)")
    }

    /// Compares with what the run records hold; nil when they agree.
    func reason(against record: RunStore.ItemRecord?) -> RunReason? {
        guard let record else { return .neverBuilt }
        if record.codeVersion != codeVersion { return .codeChanged }
        if record.paramsHash != paramsHash { return .paramsChanged }
        if record.inputHash != inputHash || record.fingerprint != value { return .inputChanged }
        return nil
    }
}

/// A clip's content identity: its size and a SHA-256 of its first and last 64 KiB (the MP4 header and, where
/// the moov atom sits, the tail). The mtime only keys the cached hash, so moving or copying the dataset
/// (new mtimes, same bytes) does not recompute anything, while a re-encoded or truncated clip does.
enum MediaIdentity {
    static let window = 64 * 1024

    static func identity(of url: URL?, store: RunStore?) -> String {
        guard let url, let stamp = FileStamp(url) else { return "missing" }
        let size = stamp.size, mtime = stamp.mtimeNs
        if let cached = try? store?.mediaHash(path: url.path, size: size, mtimeNs: mtime) { return "\(size):\(cached)" }
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "unreadable:\(size)" }
        defer { try? handle.close() }
        var h = SHA256()
        h.update((try? handle.read(upToCount: window)) ?? Data())
        if size > Int64(window) {
            try? handle.seek(toOffset: UInt64(max(Int64(window), size - Int64(window))))
            h.update((try? handle.readToEnd()) ?? Data())
        }
        let hash = h.finalizeHex()
        try? store?.putMediaHash(path: url.path, size: size, mtimeNs: mtime, hash: hash)
        return "\(size):\(hash)"
    }
}

/// A whole file's SHA-256 (checkpoints), cached in the run records by path, size and mtime so that a 440 MB
/// model is hashed once, not on every run.
enum ContentIdentity {
    static func sha256(of url: URL, store: RunStore?) throws -> String {
        guard let stamp = FileStamp(url) else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: url.path]) }
        let size = stamp.size, mtime = stamp.mtimeNs
        let key = "sha256:" + url.standardizedFileURL.path
        if let cached = try? store?.mediaHash(path: key, size: size, mtimeNs: mtime) { return cached }
        let hash = try SHA256.hexOfFile(url)
        try? store?.putMediaHash(path: key, size: size, mtimeNs: mtime, hash: hash)
        return hash
    }
}

/// A file's size and modification time (ns), the key under which its hash is cached in the run records.
struct FileStamp {
    var size: Int64
    var mtimeNs: Int64

    init?(_ url: URL) {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return nil }
        size = Int64(st.st_size)
        mtimeNs = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}
