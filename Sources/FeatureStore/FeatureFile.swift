import CHDF5
import Foundation

/// A cache file opened read-only: a shard or an index. Used by tests, `pipeline inspect` and Swift trainers.
///
/// ```swift
/// let f = try FeatureFile(url: URL(fileURLWithPath: "Cache/meld/melspec/train.h5"))
/// let keys = try f.readStrings("keys")
/// let offsets = try f.readInt64s("offsets")                       // [N+1], global
/// let item3 = try f.readFloatRows("values", rows: Int(offsets[3])..<Int(offsets[4]))   // [T3 * 40]
/// ```
///
/// Reads of a virtual dataset whose shard file is missing return fill values (NaN for floats), as HDF5 does;
/// ``verifyVirtualSources()`` checks that every source file exists.
///
/// Thread-safe: every call takes ``HDF5Lock``; the instance holds only the open file and immutable values.
public final class FeatureFile: @unchecked Sendable {
    public let url: URL
    /// The root group's attributes (read once at open).
    public let attributes: [String: AttributeValue]
    private let file: HDF5File

    /// Opens `url` read-only (`H5Fopen`) and reads the root attributes.
    /// - Throws: ``HDF5Error`` naming the file with HDF5's stack text (e.g. "file signature not found").
    public init(url: URL) throws {
        self.url = url
        file = try HDF5File.openReadOnly(url.path)
        attributes = try DatasetReader.readAttributes(of: file.id, path: url.path, object: "the root group")
    }

    private func site(_ context: String) -> HDF5Site { HDF5Site(url.path, context) }

    private func open(_ name: String) throws -> HDF5Dataset {
        HDF5Dataset(owning: try HDF5Calls.datasetOpen(file.id, name, site("opening dataset '\(name)'")), name: name)
    }

    // MARK: What the file holds

    /// The datasets in the root group: in creation order for files FeatureStore wrote, else by name.
    public func datasetNames() throws -> [String] {
        let s = site("listing datasets")
        let n = try HDF5Calls.linkCount(file.id, s)
        guard n > 0 else { return [] }
        // Files from other writers may not track creation order; then the name index is the one there is.
        let byCreation = (try? HDF5Calls.linkName(file.id, 0, creationOrder: true, s)) != nil
        return try (0..<n).map { try HDF5Calls.linkName(file.id, $0, creationOrder: byCreation, s) }
            .filter { try HDF5Calls.isDataset(file.id, $0, s) }
    }

    /// Whether the root group has a dataset `name`.
    public func contains(_ name: String) throws -> Bool { try datasetNames().contains(name) }

    /// The full shape, e.g. `[N, 13, 401]`.
    public func shape(of name: String) throws -> [Int] {
        let ds = try open(name)
        let s = site("reading the shape of '\(name)'")
        let space = HDF5Dataspace(owning: try HDF5Calls.datasetSpace(ds.id, s))
        return try HDF5Calls.dataspaceDims(space.id, s)
    }

    /// The element type.
    /// - Throws: ``FeatureStoreError`` for types FeatureStore does not map (int16, uint32, compound, …).
    public func elementType(of name: String) throws -> ElementType {
        let ds = try open(name)
        return try elementType(of: ds)
    }

    private func elementType(of ds: HDF5Dataset) throws -> ElementType {
        let s = site("reading the type of '\(ds.name)'")
        let type = HDF5Datatype(owning: try HDF5Calls.datasetType(ds.id, s))
        guard let t = try DatasetReader.elementType(ofType: type.id, s) else {
            throw FeatureStoreError(path: url.path, message: "dataset '\(ds.name)' has type \(DatasetReader.typeDescription(type.id, s)), which FeatureStore does not read")
        }
        return t
    }

    /// The attributes of dataset `name` (shards carry `index_mode`).
    public func datasetAttributes(of name: String) throws -> [String: AttributeValue] {
        let ds = try open(name)
        return try DatasetReader.readAttributes(of: ds.id, path: url.path, object: "dataset '\(name)'")
    }

    /// Name, element type, row shape and index mode (from the `index_mode` attribute; `.copy` when absent).
    public func schema(of name: String) throws -> ColumnSchema {
        let shape = try self.shape(of: name)
        let mode = try datasetAttributes(of: name)[indexModeAttribute]?.stringValue.flatMap(IndexMode.init(rawValue:))
        return ColumnSchema(name: name, elementType: try elementType(of: name), rowShape: Array(shape.dropFirst()),
                            indexMode: mode ?? .copy)
    }

    /// Whether `name` is a virtual dataset (a VDS over shard files).
    public func isVirtual(_ name: String) throws -> Bool {
        let ds = try open(name)
        let s = site("reading the layout of '\(name)'")
        let dcpl = HDF5PropertyList(owning: try HDF5Calls.datasetCreatePlist(ds.id, s))
        return try HDF5Calls.layout(dcpl.id, s) == H5D_VIRTUAL
    }

    /// The source file names of virtual dataset `name`, as stored (relative to this file's folder for indexes
    /// FeatureStore wrote); empty for an ordinary dataset.
    public func virtualSourceFiles(of name: String) throws -> [String] {
        let ds = try open(name)
        let s = site("reading the virtual sources of '\(name)'")
        let dcpl = HDF5PropertyList(owning: try HDF5Calls.datasetCreatePlist(ds.id, s))
        guard try HDF5Calls.layout(dcpl.id, s) == H5D_VIRTUAL else { return [] }
        return try (0..<(try HDF5Calls.virtualCount(dcpl.id, s))).map {
            try HDF5Calls.virtualFilename(dcpl.id, $0, s).replacingOccurrences(of: "%%", with: "%")
        }
    }

    /// Checks that every virtual dataset's source files exist (relative names resolved against this file's
    /// folder, as HDF5 does when no `HDF5_VDS_PREFIX` is set). HDF5 itself would read fill values instead.
    /// - Throws: ``FeatureStoreError`` listing the missing files.
    public func verifyVirtualSources() throws {
        let folder = url.deletingLastPathComponent()
        var missing: [String] = []
        for name in try datasetNames() {
            for source in try virtualSourceFiles(of: name) {
                let path = source.hasPrefix("/") ? source : folder.appendingPathComponent(source).path
                if !FileManager.default.fileExists(atPath: path), !missing.contains(path) { missing.append(path) }
            }
        }
        if !missing.isEmpty {
            throw FeatureStoreError(path: url.path, message: "virtual datasets read from missing shard files: \(missing.joined(separator: ", "))")
        }
    }

    // MARK: Reading data

    /// The dataset's stored type, after checking that its class is `typeClass`; otherwise an error saying what the
    /// dataset holds and that it cannot be read as `what`.
    private func checkedType(_ ds: HDF5Dataset, _ name: String, _ typeClass: H5T_class_t, as what: String,
                             _ s: HDF5Site) throws -> HDF5Datatype {
        let type = HDF5Datatype(owning: try HDF5Calls.datasetType(ds.id, s))
        guard try HDF5Calls.typeClass(type.id, s) == typeClass else {
            let found = try DatasetReader.elementType(ofType: type.id, s)?.rawValue ?? DatasetReader.typeDescription(type.id, s)
            throw FeatureStoreError(path: url.path, message: "dataset '\(name)' holds \(found), which cannot be read as \(what)")
        }
        return type
    }

    /// Reads a whole dataset converted to `memType` (HDF5 converts between numeric types), after checking that
    /// its type class is `typeClass`.
    private func readAll<T>(_ name: String, as what: String, typeClass: H5T_class_t, memType: hid_t, zero: T) throws -> [T] {
        let ds = try open(name)
        let s = site("reading dataset '\(name)'")
        _ = try checkedType(ds, name, typeClass, as: what, s)
        let space = HDF5Dataspace(owning: try HDF5Calls.datasetSpace(ds.id, s))
        let count = try HDF5Calls.dataspaceDims(space.id, s).reduce(1, *)
        return try DatasetReader.readNumbers(count, memType: memType, zero: zero) { memType, buffer in
            try HDF5Calls.datasetRead(ds.id, memType: memType, memSpace: HDF5Calls.all, fileSpace: HDF5Calls.all, buffer, s)
        }
    }

    /// Any float dataset, flat in row-major order (float64 is narrowed).
    public func readFloats(_ name: String) throws -> [Float] {
        try readAll(name, as: "Float", typeClass: H5T_FLOAT, memType: HDF5Calls.nativeFloat, zero: Float(0))
    }

    /// Any float dataset, flat in row-major order, as Double.
    public func readDoubles(_ name: String) throws -> [Double] {
        try readAll(name, as: "Double", typeClass: H5T_FLOAT, memType: HDF5Calls.nativeDouble, zero: 0.0)
    }

    /// Any integer dataset (int8 … int64, uint8 … uint64), widened to Int64, flat in row-major order.
    /// uint64 values above Int64.max are clipped by HDF5's conversion.
    public func readInt64s(_ name: String) throws -> [Int64] {
        try readAll(name, as: "Int64", typeClass: H5T_INTEGER, memType: HDF5Calls.nativeInt64, zero: Int64(0))
    }

    /// A string dataset (fixed- or variable-length), flat in row-major order.
    public func readStrings(_ name: String) throws -> [String] {
        let ds = try open(name)
        let s = site("reading dataset '\(name)'")
        let type = try checkedType(ds, name, H5T_STRING, as: "String", s)
        let space = HDF5Dataspace(owning: try HDF5Calls.datasetSpace(ds.id, s))
        let count = try HDF5Calls.dataspaceDims(space.id, s).reduce(1, *)
        return try DatasetReader.readStrings(count, fileType: type.id, space: space.id, s) { memType, buffer in
            try HDF5Calls.datasetRead(ds.id, memType: memType, memSpace: HDF5Calls.all, fileSpace: HDF5Calls.all, buffer, s)
        }
    }

    /// Rows `rows` of a float dataset (a hyperslab along the first axis), flat: `rows.count * rowSize` values.
    /// - Throws: ``FeatureStoreError`` when `rows` is outside `0..<shape[0]`.
    public func readFloatRows(_ name: String, rows: Range<Int>) throws -> [Float] {
        let ds = try open(name)
        let s = site("reading rows \(rows.lowerBound)..<\(rows.upperBound) of '\(name)'")
        _ = try checkedType(ds, name, H5T_FLOAT, as: "Float", s)
        let fileSpace = HDF5Dataspace(owning: try HDF5Calls.datasetSpace(ds.id, s))
        let dims = try HDF5Calls.dataspaceDims(fileSpace.id, s)
        guard let n = dims.first, rows.lowerBound >= 0, rows.upperBound <= n else {
            throw FeatureStoreError(path: url.path, message: "rows \(rows.lowerBound)..<\(rows.upperBound) are outside dataset '\(name)' of shape \(dims)")
        }
        if rows.isEmpty { return [] }
        let rowShape = Array(dims.dropFirst())
        try HDF5Calls.selectHyperslab(fileSpace.id, start: [rows.lowerBound] + rowShape.map { _ in 0 },
                                      count: [rows.count] + rowShape, s)
        let memSpace = try HDF5Dataspace(dims: [rows.count] + rowShape, s)
        return try DatasetReader.readNumbers(rows.count * rowShape.reduce(1, *), memType: HDF5Calls.nativeFloat,
                                             zero: Float(0)) { memType, buffer in
            try HDF5Calls.datasetRead(ds.id, memType: memType, memSpace: memSpace.id, fileSpace: fileSpace.id, buffer, s)
        }
    }

    /// A whole dataset as a ``Column`` in its own element type (index mode from `index_mode`, else `.copy`).
    public func readColumn(_ name: String) throws -> Column {
        let schema = try self.schema(of: name)
        let data: ColumnData
        switch schema.elementType {
        case .float32: data = .float32(try readFloats(name))
        case .float64: data = .float64(try readDoubles(name))
        case .int8: data = .int8(try readInt64s(name).map { Int8($0) })
        case .uint8: data = .uint8(try readInt64s(name).map { UInt8($0) })
        case .int32: data = .int32(try readInt64s(name).map { Int32($0) })
        case .int64: data = .int64(try readInt64s(name))
        case .string: data = .strings(try readStrings(name))
        }
        return Column(name: name, data: data, rowShape: schema.rowShape, indexMode: schema.indexMode)
    }
}
