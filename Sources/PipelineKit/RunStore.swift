import CSQLite
import Foundation

/// A SQLite failure, with SQLite's own message and the statement or file involved.
public struct RunStoreError: Error, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var context: String
    public var description: String { "run records (\(context)): \(message) [sqlite \(code)]" }
}

/// What the runs know, in SQLite (WAL, synchronous=FULL) so a kill at any instant leaves a consistent store.
///
/// Tables: `items` (one row per stage and item: fingerprint parts, status, failure reason), `shards` (committed
/// shard files and their fingerprints), `indexes` (index files), `media` (content hashes of clips keyed by
/// path, size and mtime, so unchanged clips are not re-read).
public final class RunStore {
    private var db: OpaquePointer?
    public let url: URL

    public init(url: URL) throws {
        self.url = url
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let rc = sqlite3_open_v2(url.path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw RunStoreError(code: rc, message: msg, context: url.path)
        }
        sqlite3_busy_timeout(db, 10_000)
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=FULL")
        try exec("""
            CREATE TABLE IF NOT EXISTS items(
              cache TEXT NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL, shard INTEGER NOT NULL,
              fingerprint TEXT NOT NULL, code_version INTEGER NOT NULL, params_hash TEXT NOT NULL,
              input_hash TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, message TEXT,
              PRIMARY KEY(cache, stage, key));
            CREATE TABLE IF NOT EXISTS shards(
              cache TEXT NOT NULL, stage TEXT NOT NULL, split TEXT NOT NULL, shard INTEGER NOT NULL,
              fingerprint TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, n_items INTEGER NOT NULL,
              PRIMARY KEY(cache, stage, split, shard));
            CREATE TABLE IF NOT EXISTS indexes(
              cache TEXT NOT NULL, stage TEXT NOT NULL, split TEXT NOT NULL, fingerprint TEXT NOT NULL,
              path TEXT NOT NULL, PRIMARY KEY(cache, stage, split));
            CREATE TABLE IF NOT EXISTS media(
              path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL);
            """)
    }

    deinit { sqlite3_close_v2(db) }

    private func error(_ rc: Int32, _ context: String) -> RunStoreError {
        RunStoreError(code: rc, message: String(cString: sqlite3_errmsg(db)), context: context)
    }

    public func exec(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "error"
            sqlite3_free(err)
            throw RunStoreError(code: rc, message: msg, context: String(sql.prefix(60)))
        }
    }

    /// Runs `body` in one transaction: all of it is recorded, or none.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try exec("BEGIN IMMEDIATE")
        do {
            let v = try body()
            try exec("COMMIT")
            return v
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    enum Bind { case text(String), int(Int64), null }

    /// Prepares, binds, steps through rows (calling `row` for each), finalizes.
    func query(_ sql: String, _ binds: [Bind], row: ((OpaquePointer) -> Void)? = nil) throws {
        var stmt: OpaquePointer?
        var rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, String(sql.prefix(60))) }
        defer { sqlite3_finalize(stmt) }
        for (i, b) in binds.enumerated() {
            let idx = Int32(i + 1)
            switch b {
            case .text(let s): rc = sqlite3_bind_text(stmt, idx, s, -1, csqlite_transient())
            case .int(let v): rc = sqlite3_bind_int64(stmt, idx, v)
            case .null: rc = sqlite3_bind_null(stmt, idx)
            }
            guard rc == SQLITE_OK else { throw error(rc, String(sql.prefix(60))) }
        }
        while true {
            rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW { row?(stmt); continue }
            if rc == SQLITE_DONE { break }
            throw error(rc, String(sql.prefix(60)))
        }
    }

    static func text(_ stmt: OpaquePointer, _ col: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, col) else { return nil }
        return String(cString: p)
    }

    // MARK: items

    public struct ItemRecord: Sendable, Equatable {
        public var stage: String
        public var key: String
        public var shard: Int
        public var fingerprint: String
        public var codeVersion: Int
        public var paramsHash: String
        public var inputHash: String
        public var status: String       // "done" | "failed"
        public var reason: String?
        public var message: String?

        public init(stage: String, key: String, shard: Int, fingerprint: String, codeVersion: Int, paramsHash: String,
                    inputHash: String, status: String, reason: String?, message: String?) {
            self.stage = stage; self.key = key; self.shard = shard; self.fingerprint = fingerprint
            self.codeVersion = codeVersion; self.paramsHash = paramsHash; self.inputHash = inputHash
            self.status = status; self.reason = reason; self.message = message
        }
    }

    /// Every item record of one stage in one cache, by key.
    public func items(cache: String, stage: String) throws -> [String: ItemRecord] {
        var out: [String: ItemRecord] = [:]
        try query("SELECT key, shard, fingerprint, code_version, params_hash, input_hash, status, reason, message FROM items WHERE cache=? AND stage=?",
                  [.text(cache), .text(stage)]) { s in
            let r = ItemRecord(stage: stage, key: RunStore.text(s, 0)!, shard: Int(sqlite3_column_int64(s, 1)),
                               fingerprint: RunStore.text(s, 2)!, codeVersion: Int(sqlite3_column_int64(s, 3)),
                               paramsHash: RunStore.text(s, 4)!, inputHash: RunStore.text(s, 5)!,
                               status: RunStore.text(s, 6)!, reason: RunStore.text(s, 7), message: RunStore.text(s, 8))
            out[r.key] = r
        }
        return out
    }

    public func putItem(cache: String, _ r: ItemRecord) throws {
        try query("INSERT OR REPLACE INTO items VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                  [.text(cache), .text(r.stage), .text(r.key), .int(Int64(r.shard)), .text(r.fingerprint),
                   .int(Int64(r.codeVersion)), .text(r.paramsHash), .text(r.inputHash), .text(r.status),
                   r.reason.map(Bind.text) ?? .null, r.message.map(Bind.text) ?? .null])
    }

    // MARK: shards and indexes

    public struct ShardRecord: Sendable, Equatable {
        public var fingerprint: String
        public var path: String
        public var size: Int64
        public var nItems: Int
    }

    public func shards(cache: String, stage: String, split: String) throws -> [Int: ShardRecord] {
        var out: [Int: ShardRecord] = [:]
        try query("SELECT shard, fingerprint, path, size, n_items FROM shards WHERE cache=? AND stage=? AND split=?",
                  [.text(cache), .text(stage), .text(split)]) { s in
            out[Int(sqlite3_column_int64(s, 0))] = ShardRecord(
                fingerprint: RunStore.text(s, 1)!, path: RunStore.text(s, 2)!,
                size: sqlite3_column_int64(s, 3), nItems: Int(sqlite3_column_int64(s, 4)))
        }
        return out
    }

    public func putShard(cache: String, stage: String, split: String, shard: Int, _ r: ShardRecord) throws {
        try query("INSERT OR REPLACE INTO shards VALUES(?,?,?,?,?,?,?,?)",
                  [.text(cache), .text(stage), .text(split), .int(Int64(shard)), .text(r.fingerprint), .text(r.path),
                   .int(r.size), .int(Int64(r.nItems))])
    }

    public func deleteShards(cache: String, stage: String, split: String, from shard: Int) throws {
        try query("DELETE FROM shards WHERE cache=? AND stage=? AND split=? AND shard>=?",
                  [.text(cache), .text(stage), .text(split), .int(Int64(shard))])
    }

    public func indexFingerprint(cache: String, stage: String, split: String) throws -> String? {
        var out: String?
        try query("SELECT fingerprint FROM indexes WHERE cache=? AND stage=? AND split=?",
                  [.text(cache), .text(stage), .text(split)]) { s in out = RunStore.text(s, 0) }
        return out
    }

    public func putIndex(cache: String, stage: String, split: String, fingerprint: String, path: String) throws {
        try query("INSERT OR REPLACE INTO indexes VALUES(?,?,?,?,?)",
                  [.text(cache), .text(stage), .text(split), .text(fingerprint), .text(path)])
    }

    // MARK: media hashes

    public func mediaHash(path: String, size: Int64, mtimeNs: Int64) throws -> String? {
        var out: String?
        try query("SELECT hash FROM media WHERE path=? AND size=? AND mtime_ns=?",
                  [.text(path), .int(size), .int(mtimeNs)]) { s in out = RunStore.text(s, 0) }
        return out
    }

    public func putMediaHash(path: String, size: Int64, mtimeNs: Int64, hash: String) throws {
        try query("INSERT OR REPLACE INTO media VALUES(?,?,?,?)", [.text(path), .int(size), .int(mtimeNs), .text(hash)])
    }
}
