import Foundation

/// Writes one shard file: the unit of work and of commit (DESIGN §4).
///
/// ```swift
/// let content = ShardContent(columns: [
///     Column(name: "keys", data: .strings(["train/dia0_utt0", "train/dia0_utt1"]), indexMode: .copy),
///     Column(name: "features", data: .float32(mfcc), rowShape: [13, 401], chunkRows: 1, indexMode: .virtual),
/// ], attributes: ["fingerprint": .string(fp)])
/// try ShardWriter.write(content, to: shardsDir.appendingPathComponent("train-00000.h5"))
/// ```
///
/// The file holds one dataset per column in the root group, in the order given, each of shape
/// `[rows] + rowShape` and carrying a string attribute `index_mode` (the column's ``IndexMode``), and
/// `content.attributes` on the root group.
public enum ShardWriter {
    /// Writes `content` to `url` crash-safely and deterministically.
    ///
    /// - The file is built at `url.path + ".tmp"` (a stale one is replaced), closed (`H5Fclose`), `fsync`ed,
    ///   renamed over `url`, and the directory is `fsync`ed. A committed file is never opened for writing again.
    /// - Identical content gives identical bytes: format bounds pinned to v1.10 (`H5Pset_libver_bounds(V110,
    ///   V110)`, readable by Debian's HDF5 1.10 tools and by h5py with HDF5 2.x), no object time stamps
    ///   (`H5Pset_obj_track_times(false)` on the file and every dataset), attributes written in key order,
    ///   little-endian types. No compression; chunking only where a column asks for it.
    /// - Strings are fixed-length, NUL-terminated UTF-8 (`H5T_C_S1`, width = longest + 1): h5py reads them with
    ///   `f['keys'].asstr()[:]`.
    ///
    /// The parent directory must exist.
    /// - Throws: ``FeatureStoreError`` for an invalid column (checked before anything is written) or a failed
    ///   fsync/rename; ``HDF5Error`` when HDF5 fails. On error nothing is left at `url` or `url.tmp`.
    public static func write(_ content: ShardContent, to url: URL) throws {
        try validate(content, path: url.path)
        try AtomicCommit.write(url) { tmp in
            let file = try HDF5File.createForWriting(tmp.path)
            try DatasetWriter.writeAttributes(content.attributes, on: file.id, path: tmp.path)
            for column in content.columns {
                try DatasetWriter.writeColumn(column, in: file, modeAttribute: true)
            }
            try file.close()
        }
    }

    /// Checks every column (``Column/validate()``) and that names are unique.
    static func validate(_ content: ShardContent, path: String) throws {
        var seen = Set<String>()
        for column in content.columns {
            do { try column.validate() } catch let error as FeatureStoreError {
                throw FeatureStoreError(path: path, message: error.message)
            }
            if !seen.insert(column.name).inserted {
                throw FeatureStoreError(path: path, message: "column '\(column.name)' appears twice")
            }
        }
    }
}
