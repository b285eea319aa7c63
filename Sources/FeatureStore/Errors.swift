import Foundation

/// A failed HDF5 call: which C function, on which file, what we were doing, and HDF5's own error stack
/// (captured with `H5Ewalk2`; HDF5 never prints it to stderr).
///
/// ```swift
/// do { _ = try FeatureFile(url: URL(fileURLWithPath: "notes.txt")) }
/// catch let error as HDF5Error {
///     print(error)  // HDF5 H5Fopen failed on notes.txt (opening the file read-only):
///                   //   #000: H5F.c line 620 in H5Fopen(): unable to open file
///                   //   ... minor: File signature not found ...
/// }
/// ```
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// The C function that failed, e.g. `H5Fopen`.
    public var function: String
    /// The file the call was about, when there is one.
    public var path: String?
    /// What we were doing, e.g. "creating dataset 'features'".
    public var context: String
    /// HDF5's error stack, one `#NNN: file line N in func(): text` line per frame with its major/minor messages.
    public var stack: String

    public init(function: String, path: String?, context: String, stack: String) {
        self.function = function
        self.path = path
        self.context = context
        self.stack = stack
    }

    public var description: String {
        var s = "HDF5 \(function) failed"
        if let path { s += " on \(path)" }
        s += " (\(context))"
        if !stack.isEmpty { s += ":\n" + stack.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") }
        return s
    }
}

/// Why an index could not be written over its shards. Nothing is left at the index path (nor a `.tmp`).
///
/// ```swift
/// // cannot write index /cache/meld/mfcc/train.h5: shard /cache/meld/mfcc/shards/train-00001.h5:
/// //   fingerprint is "3f2a…", expected "9c41…" [fingerprint_mismatch]
/// ```
public struct IndexError: Error, CustomStringConvertible, Sendable {
    public enum Problem: String, Sendable {
        /// The shard file does not exist (a VDS would silently read fill values).
        case missingShard = "missing_shard"
        /// The shard exists but HDF5 cannot open or read it.
        case unreadableShard = "unreadable_shard"
        /// The shard has no string attribute "fingerprint".
        case missingFingerprint = "missing_fingerprint"
        /// The shard's fingerprint is not the expected one (stale or foreign shard).
        case fingerprintMismatch = "fingerprint_mismatch"
        /// The shard's columns differ from the first shard's (names, element types, row shapes, index modes),
        /// or a dataset has no "index_mode" attribute.
        case schemaMismatch = "schema_mismatch"
        /// An offsets column is not a valid `[n+1]` offsets array, or does not match its sequence columns.
        case badOffsets = "bad_offsets"
        /// An extra column has the name of a shard column, or an extra column is invalid.
        case badExtraColumn = "bad_extra_column"
    }

    public var problem: Problem
    /// The index file that was to be written.
    public var index: URL
    /// The shard at fault, when one is.
    public var shard: URL?
    /// The column at fault, when one is.
    public var column: String?
    public var message: String

    public init(_ problem: Problem, index: URL, shard: URL? = nil, column: String? = nil, _ message: String) {
        self.problem = problem
        self.index = index
        self.shard = shard
        self.column = column
        self.message = message
    }

    public var description: String {
        var s = "cannot write index \(index.path)"
        if let shard { s += ": shard \(shard.path)" }
        if let column { s += ": column '\(column)'" }
        return s + ": \(message) [\(problem.rawValue)]"
    }
}

/// A problem that is not an HDF5 call failing: invalid column data, a dataset of the wrong type for the read
/// asked for, or a file-system step of the commit protocol (fsync, rename) failing.
public struct FeatureStoreError: Error, CustomStringConvertible, Sendable {
    public var path: String?
    public var message: String

    public init(path: String?, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}
