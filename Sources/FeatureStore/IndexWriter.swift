import Foundation

/// Writes the small index file that joins a feature's shards for one split (DESIGN §5), e.g.
/// `Cache/meld/mfcc/train.h5` over `Cache/meld/mfcc/shards/train-00000.h5 …`.
///
/// ```swift
/// let refs = shards.map { ShardRef(url: $0.url, expectedFingerprint: $0.fingerprint) }
/// try IndexWriter.write(to: featureDir.appendingPathComponent("train.h5"), shards: refs,
///                       extraColumns: [Column(name: "emotion", data: .int32(labels))],
///                       attributes: ["fingerprint": .string(indexFingerprint)])
/// ```
///
/// What the index holds, per shard column (by its `index_mode` attribute, see ``IndexMode``):
/// - `.virtual`: a virtual dataset `[sum rows] + rowShape` whose row blocks are the shards' datasets, in shard
///   order, with source paths **relative to the index file's folder** (the folder holding index and shards can
///   move). Float VDSs have NaN as fill value. No file data is copied.
/// - `.copy`: a real dataset, the concatenation in shard order (strings re-widened to the longest).
/// - `.offsets`: a real int64 `[N+1]` dataset: shard k's offsets shifted by the rows of earlier shards
///   (their last offsets), each shard's leading 0 dropped except the first.
/// - `.perShard`: left out.
/// Then `extraColumns` as real datasets (written as given), then the root attributes: `attributes` plus, unless
/// given there, `shard_files` (the shards' paths as the VDS stores them) and `shard_fingerprints`.
///
/// With no shards the index has, for each column of `emptySchema`, an empty dataset of its type (offsets:
/// `[0]`), then the extras and attributes; with no `emptySchema` it has only the extras and attributes.
public enum IndexWriter {
    /// Checks the shards, then writes the index crash-safely (tmp, H5Fclose, fsync, rename, fsync dir) and
    /// deterministically (v110 bounds, no time stamps, sorted attributes: same inputs, same bytes).
    ///
    /// Checks, before anything is written (a VDS silently reads fill values for a missing source, so these are
    /// the guard): every shard file exists and opens; its root attribute `fingerprint` equals
    /// `expectedFingerprint`; every shard has the same datasets as the first, with the same element type, row
    /// shape and index mode; offsets columns are valid `[n+1]` offsets whose last value is some column's row
    /// count in that shard; extra columns are valid and do not reuse an indexed column's name.
    ///
    /// - Throws: ``IndexError`` naming the shard, column and problem; ``HDF5Error`` or ``FeatureStoreError`` if
    ///   writing fails. On any error nothing is left at `url` (an index already there stays) nor at `url.tmp`.
    public static func write(to url: URL, shards: [ShardRef], extraColumns: [Column] = [],
                             attributes: [String: AttributeValue] = [:], emptySchema: [ColumnSchema] = []) throws {
        let folder = url.deletingLastPathComponent()
        let inspected = try shards.map { try inspect($0, index: url) }
        let schema = inspected.first?.columns ?? emptySchema
        if let first = inspected.first {
            for other in inspected.dropFirst() { try compare(other, with: first, index: url) }
        }
        let indexed = schema.filter { $0.indexMode != .perShard }
        try checkExtraColumns(extraColumns, against: indexed, index: url)

        // Everything that is copied is read before the index file is created.
        var copies: [String: ColumnData] = [:]
        for column in indexed where column.indexMode != .virtual {
            copies[column.name] = try gather(column, from: inspected, index: url)
        }
        var attrs = attributes
        let relativePaths = inspected.map { relativePath(from: folder, to: $0.ref.url) }
        if attrs["shard_files"] == nil { attrs["shard_files"] = .strings(relativePaths) }
        if attrs["shard_fingerprints"] == nil { attrs["shard_fingerprints"] = .strings(shards.map(\.expectedFingerprint)) }

        try AtomicCommit.write(url) { tmp in
            let file = try HDF5File.createForWriting(tmp.path)
            for column in indexed {
                switch column.indexMode {
                case .virtual:
                    let sources = zip(inspected, relativePaths).map { shard, path in
                        DatasetWriter.VirtualSource(file: path, rows: shard.rows[column.name] ?? 0)
                    }
                    try DatasetWriter.writeVirtualColumn(column.name, type: column.elementType, rowShape: column.rowShape,
                                                         sources: sources, in: file)
                case .copy, .offsets:
                    let data = copies[column.name] ?? .empty(column.elementType)
                    try DatasetWriter.writeColumn(Column(name: column.name, data: data, rowShape: column.rowShape),
                                                  in: file, modeAttribute: false)
                case .perShard:
                    break
                }
            }
            for column in extraColumns {
                try DatasetWriter.writeColumn(column, in: file, modeAttribute: false)
            }
            try DatasetWriter.writeAttributes(attrs, on: file.id, path: tmp.path)
            try file.close()
        }
    }

    // MARK: Checking shards

    /// What the index needs to know about one shard, read with the file open read-only.
    struct InspectedShard {
        var ref: ShardRef
        var file: FeatureFile
        var columns: [ColumnSchema]
        var rows: [String: Int]
        /// Values of the `.offsets` columns (already checked).
        var offsets: [String: [Int64]]
    }

    static func inspect(_ ref: ShardRef, index: URL) throws -> InspectedShard {
        func fail(_ problem: IndexError.Problem, _ column: String?, _ message: String) -> IndexError {
            IndexError(problem, index: index, shard: ref.url, column: column, message)
        }
        guard FileManager.default.fileExists(atPath: ref.url.path) else {
            throw fail(.missingShard, nil, "the file does not exist")
        }
        do {
            let file = try FeatureFile(url: ref.url)
            guard case .string(let fingerprint)? = file.attributes["fingerprint"] else {
                throw fail(.missingFingerprint, nil, "the root group has no string attribute 'fingerprint'")
            }
            guard fingerprint == ref.expectedFingerprint else {
                throw fail(.fingerprintMismatch, nil, "fingerprint is \"\(fingerprint)\", expected \"\(ref.expectedFingerprint)\"")
            }
            var shard = InspectedShard(ref: ref, file: file, columns: [], rows: [:], offsets: [:])
            for name in try file.datasetNames() {
                guard case .string(let raw)? = try file.datasetAttributes(of: name)[indexModeAttribute],
                      let mode = IndexMode(rawValue: raw) else {
                    throw fail(.schemaMismatch, name, "the dataset has no valid '\(indexModeAttribute)' attribute (not written by ShardWriter)")
                }
                let shape = try file.shape(of: name)
                let schema = ColumnSchema(name: name, elementType: try file.elementType(of: name),
                                          rowShape: Array(shape.dropFirst()), indexMode: mode)
                shard.columns.append(schema)
                shard.rows[name] = shape.first ?? 1
                if mode == .offsets {
                    guard schema.elementType.isInteger, schema.rowShape.isEmpty else {
                        throw fail(.badOffsets, name, "offsets must be a 1-D integer dataset, found \(schema.elementType) \(shape)")
                    }
                    shard.offsets[name] = try file.readInt64s(name)
                }
            }
            for (name, offsets) in shard.offsets { try checkOffsets(offsets, name: name, in: shard, fail: fail) }
            return shard
        } catch let error as IndexError {
            throw error
        } catch {
            throw fail(.unreadableShard, nil, "\(error)")
        }
    }

    /// An `[n+1]` offsets array starts at 0, never decreases, ends at the row count of some sequence column,
    /// and has n+1 entries for some column with n rows.
    private static func checkOffsets(_ offsets: [Int64], name: String, in shard: InspectedShard,
                                     fail: (IndexError.Problem, String?, String) -> IndexError) throws {
        guard offsets.first == 0 else {
            throw fail(.badOffsets, name, "offsets must start with 0 (found \(offsets.first.map(String.init) ?? "no values"))")
        }
        if let i = offsets.indices.dropFirst().first(where: { offsets[$0] < offsets[$0 - 1] }) {
            throw fail(.badOffsets, name, "offsets decrease at \(i): \(offsets[i - 1]) then \(offsets[i])")
        }
        let others = shard.columns.filter { $0.indexMode != .offsets && $0.indexMode != .perShard }.map { shard.rows[$0.name]! }
        guard others.contains(Int(offsets.last!)) else {
            throw fail(.badOffsets, name, "offsets end at \(offsets.last!), but no column has \(offsets.last!) rows (row counts: \(others))")
        }
        guard others.contains(offsets.count - 1) else {
            throw fail(.badOffsets, name, "\(offsets.count) offsets describe \(offsets.count - 1) items, but no column has \(offsets.count - 1) rows")
        }
    }

    /// Every shard must have the first shard's columns, types, row shapes and modes.
    static func compare(_ shard: InspectedShard, with first: InspectedShard, index: URL) throws {
        func fail(_ column: String?, _ message: String) -> IndexError {
            IndexError(.schemaMismatch, index: index, shard: shard.ref.url, column: column, message)
        }
        let reference = first.ref.url.lastPathComponent
        let mine = Dictionary(uniqueKeysWithValues: shard.columns.map { ($0.name, $0) })
        for expected in first.columns {
            guard let found = mine[expected.name] else {
                throw fail(expected.name, "missing here, but present in the first shard (\(reference))")
            }
            if found.elementType != expected.elementType {
                throw fail(expected.name, "element type \(found.elementType), but \(expected.elementType) in the first shard (\(reference))")
            }
            if found.rowShape != expected.rowShape {
                throw fail(expected.name, "row shape \(found.rowShape), but \(expected.rowShape) in the first shard (\(reference))")
            }
            if found.indexMode != expected.indexMode {
                throw fail(expected.name, "index mode \(found.indexMode.rawValue), but \(expected.indexMode.rawValue) in the first shard (\(reference))")
            }
        }
        let expectedNames = Set(first.columns.map(\.name))
        if let extra = shard.columns.first(where: { !expectedNames.contains($0.name) }) {
            throw fail(extra.name, "present here, but not in the first shard (\(reference))")
        }
    }

    static func checkExtraColumns(_ extras: [Column], against indexed: [ColumnSchema], index: URL) throws {
        var names = Set(indexed.map(\.name))
        for column in extras {
            do { try column.validate() } catch let error as FeatureStoreError {
                throw IndexError(.badExtraColumn, index: index, column: column.name, error.message)
            }
            if !names.insert(column.name).inserted {
                throw IndexError(.badExtraColumn, index: index, column: column.name, "the name is already used by a shard column or another extra column")
            }
        }
    }

    // MARK: Copies and offsets

    /// The concatenation (`.copy`) or rebased offsets (`.offsets`) of one column over all shards.
    static func gather(_ column: ColumnSchema, from shards: [InspectedShard], index: URL) throws -> ColumnData {
        if column.indexMode == .offsets {
            var global: [Int64] = [0]
            for shard in shards {
                let offsets = shard.offsets[column.name]!
                let base = global.last!
                global.append(contentsOf: offsets.dropFirst().map { $0 + base })
            }
            return .int64(global)
        }
        var data = ColumnData.empty(column.elementType)
        for shard in shards {
            do {
                data.append(try shard.file.readColumn(column.name).data)
            } catch {
                throw IndexError(.unreadableShard, index: index, shard: shard.ref.url, column: column.name, "\(error)")
            }
        }
        return data
    }

    // MARK: Paths

    /// The path of `file` relative to `folder` (with `..` where needed), from the standardised absolute paths.
    /// Symlinks are deliberately not resolved: a shards folder that is a symlink stays one hop away.
    static func relativePath(from folder: URL, to file: URL) -> String {
        let base = folder.standardizedFileURL.pathComponents
        let target = file.standardizedFileURL.pathComponents
        var common = 0
        while common < base.count, common < target.count, base[common] == target[common] { common += 1 }
        let ups = [String](repeating: "..", count: base.count - common)
        return (ups + target[common...]).joined(separator: "/")
    }
}
