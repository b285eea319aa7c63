import CHDF5
import Foundation

extension ElementType {
    /// The type in the file: explicit little-endian, so files are the same bytes on every machine.
    var fileTypeID: hid_t {
        switch self {
        case .float32: return HDF5Calls.ieeeF32LE
        case .float64: return HDF5Calls.ieeeF64LE
        case .int8: return HDF5Calls.stdI8LE
        case .uint8: return HDF5Calls.stdU8LE
        case .int32: return HDF5Calls.stdI32LE
        case .int64: return HDF5Calls.stdI64LE
        case .string: preconditionFailure("string types are built per column")
        }
    }

    /// The type in memory (native byte order).
    var memoryTypeID: hid_t {
        switch self {
        case .float32: return HDF5Calls.nativeFloat
        case .float64: return HDF5Calls.nativeDouble
        case .int8: return HDF5Calls.nativeInt8
        case .uint8: return HDF5Calls.nativeUInt8
        case .int32: return HDF5Calls.nativeInt32
        case .int64: return HDF5Calls.nativeInt64
        case .string: preconditionFailure("string types are built per column")
        }
    }
}

/// The attribute on every shard dataset that tells ``IndexWriter`` how the column joins the index.
let indexModeAttribute = "index_mode"

/// Writing datasets and attributes (used by ``ShardWriter`` and ``IndexWriter``).
enum DatasetWriter {
    /// Writes `attributes` on `loc`, in key order (so the bytes do not depend on dictionary order).
    static func writeAttributes(_ attributes: [String: AttributeValue], on loc: hid_t, path: String) throws {
        for key in attributes.keys.sorted() {
            try writeAttribute(key, attributes[key]!, on: loc, path: path)
        }
    }

    /// Writes one attribute: strings as variable-length UTF-8, integers as int64 LE, doubles as float64 LE;
    /// scalars for the singular cases, 1-D arrays for the plural ones.
    static func writeAttribute(_ name: String, _ value: AttributeValue, on loc: hid_t, path: String) throws {
        let site = HDF5Site(path, "writing attribute '\(name)'")
        switch value {
        case .string(let s):
            try writeStringAttribute(name, [s], scalar: true, on: loc, site)
        case .strings(let v):
            try writeStringAttribute(name, v, scalar: false, on: loc, site)
        case .int(let v):
            try writeNumericAttribute(name, [v], scalar: true, fileType: HDF5Calls.stdI64LE, memType: HDF5Calls.nativeInt64, on: loc, site)
        case .ints(let v):
            try writeNumericAttribute(name, v, scalar: false, fileType: HDF5Calls.stdI64LE, memType: HDF5Calls.nativeInt64, on: loc, site)
        case .double(let v):
            try writeNumericAttribute(name, [v], scalar: true, fileType: HDF5Calls.ieeeF64LE, memType: HDF5Calls.nativeDouble, on: loc, site)
        case .doubles(let v):
            try writeNumericAttribute(name, v, scalar: false, fileType: HDF5Calls.ieeeF64LE, memType: HDF5Calls.nativeDouble, on: loc, site)
        }
    }

    private static func writeNumericAttribute<T>(_ name: String, _ values: [T], scalar: Bool, fileType: hid_t, memType: hid_t,
                                                 on loc: hid_t, _ site: HDF5Site) throws {
        let space = scalar ? try HDF5Dataspace.scalar(site) : try HDF5Dataspace(dims: [values.count], site)
        let attr = HDF5Attribute(owning: try HDF5Calls.attributeCreate(loc, name, type: fileType, space: space.id, site))
        if values.isEmpty { return }
        try values.withUnsafeBytes { try HDF5Calls.attributeWrite(attr.id, memType: memType, $0.baseAddress!, site) }
    }

    private static func writeStringAttribute(_ name: String, _ values: [String], scalar: Bool, on loc: hid_t, _ site: HDF5Site) throws {
        let type = try HDF5Datatype.variableString(site)
        let space = scalar ? try HDF5Dataspace.scalar(site) : try HDF5Dataspace(dims: [values.count], site)
        let attr = HDF5Attribute(owning: try HDF5Calls.attributeCreate(loc, name, type: type.id, space: space.id, site))
        if values.isEmpty { return }
        // A vlen string buffer is an array of `char *`.
        let pointers = values.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        try pointers.withUnsafeBytes { try HDF5Calls.attributeWrite(attr.id, memType: type.id, $0.baseAddress!, site) }
    }

    /// Creates and fills the dataset for `column` in `file` (the column must be valid).
    /// - Parameter modeAttribute: also store the column's ``IndexMode`` as the `index_mode` attribute (shards).
    static func writeColumn(_ column: Column, in file: HDF5File, modeAttribute: Bool) throws {
        let site = HDF5Site(file.path, "writing dataset '\(column.name)' \(column.shape)")
        let rows = column.rows
        let space = try HDF5Dataspace(dims: column.shape, site)
        let dcpl = try HDF5PropertyList(HDF5Calls.datasetCreateClass, site)
        try HDF5Calls.setObjectTimeTracking(dcpl.id, false, site)
        try HDF5Calls.setFillTimeNever(dcpl.id, site)
        if let chunkRows = column.chunkRows, rows > 0 {
            try HDF5Calls.setChunk(dcpl.id, [min(chunkRows, rows)] + column.rowShape, site)
        }
        let dataset: HDF5Dataset
        switch column.data {
        case .strings(let strings):
            // Fixed-length NUL-terminated UTF-8: width = the longest string's bytes + 1 (at least 1).
            let width = (strings.map(\.utf8.count).max() ?? 0) + 1
            let type = try HDF5Datatype.fixedString(size: width, site)
            dataset = HDF5Dataset(owning: try HDF5Calls.datasetCreate(file.id, column.name, type: type.id, space: space.id,
                                                                     dcpl: dcpl.id, site), name: column.name)
            if !strings.isEmpty {
                var buffer = [UInt8](repeating: 0, count: strings.count * width)
                for (i, s) in strings.enumerated() {
                    buffer.replaceSubrange(i * width..<(i * width + s.utf8.count), with: s.utf8)
                }
                try buffer.withUnsafeBytes { try HDF5Calls.datasetWrite(dataset.id, memType: type.id, $0.baseAddress!, site) }
            }
        default:
            let type = column.data.elementType
            dataset = HDF5Dataset(owning: try HDF5Calls.datasetCreate(file.id, column.name, type: type.fileTypeID, space: space.id,
                                                                     dcpl: dcpl.id, site), name: column.name)
            if column.data.count > 0 {
                try column.data.withUnsafeNumericBytes {
                    try HDF5Calls.datasetWrite(dataset.id, memType: type.memoryTypeID, $0, site)
                }
            }
        }
        if modeAttribute {
            try writeAttribute(indexModeAttribute, .string(column.indexMode.rawValue), on: dataset.id, path: file.path)
        }
    }

    /// One source of a virtual dataset: a shard file (as the VDS will store it) and its row count.
    struct VirtualSource {
        var file: String
        var rows: Int
    }

    /// Creates the virtual dataset `name` of shape `[sum rows] + rowShape` whose consecutive row blocks are the
    /// whole dataset `/name` of each source file, in order. Sources with no rows are left out; when there are
    /// no rows at all the dataset is an ordinary empty one. Float VDSs have NaN as fill value, so an unmapped or
    /// missing source reads as NaN, never as plausible zeros.
    static func writeVirtualColumn(_ name: String, type: ElementType, rowShape: [Int], sources: [VirtualSource],
                                   in file: HDF5File) throws {
        let total = sources.reduce(0) { $0 + $1.rows }
        if total == 0 {
            return try writeColumn(Column(name: name, data: .empty(type), rowShape: rowShape), in: file, modeAttribute: false)
        }
        let site = HDF5Site(file.path, "writing virtual dataset '\(name)' [\(total)\(rowShape.map { ", \($0)" }.joined())]")
        let vspace = try HDF5Dataspace(dims: [total] + rowShape, site)
        let dcpl = try HDF5PropertyList(HDF5Calls.datasetCreateClass, site)
        try HDF5Calls.setObjectTimeTracking(dcpl.id, false, site)
        switch type {
        case .float32:
            var nan = Float.nan
            try HDF5Calls.setFillValue(dcpl.id, type: HDF5Calls.nativeFloat, &nan, site)
        case .float64:
            var nan = Double.nan
            try HDF5Calls.setFillValue(dcpl.id, type: HDF5Calls.nativeDouble, &nan, site)
        default:
            break
        }
        var start = 0
        for source in sources where source.rows > 0 {
            try HDF5Calls.selectHyperslab(vspace.id, start: [start] + rowShape.map { _ in 0 },
                                          count: [source.rows] + rowShape, site)
            let sourceSpace = try HDF5Dataspace(dims: [source.rows] + rowShape, site)
            // H5Pset_virtual reads names printf-style: a literal % is written %%.
            try HDF5Calls.setVirtual(dcpl.id, vspace: vspace.id, srcFile: escapePercent(source.file),
                                     srcDataset: "/" + escapePercent(name), srcSpace: sourceSpace.id, site)
            start += source.rows
        }
        _ = HDF5Dataset(owning: try HDF5Calls.datasetCreate(file.id, name, type: type.fileTypeID, space: vspace.id,
                                                           dcpl: dcpl.id, site), name: name)
    }

    private static func escapePercent(_ s: String) -> String { s.replacingOccurrences(of: "%", with: "%%") }
}

extension ColumnData {
    /// The raw bytes of numeric data (not for strings).
    func withUnsafeNumericBytes<R>(_ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        switch self {
        case .float32(let v): return try v.withUnsafeBytes { try body($0.baseAddress!) }
        case .float64(let v): return try v.withUnsafeBytes { try body($0.baseAddress!) }
        case .int8(let v): return try v.withUnsafeBytes { try body($0.baseAddress!) }
        case .uint8(let v): return try v.withUnsafeBytes { try body($0.baseAddress!) }
        case .int32(let v): return try v.withUnsafeBytes { try body($0.baseAddress!) }
        case .int64(let v): return try v.withUnsafeBytes { try body($0.baseAddress!) }
        case .strings: preconditionFailure("strings have no numeric bytes")
        }
    }
}

/// Reading datasets and attributes (used by ``FeatureFile``).
enum DatasetReader {
    /// The element type of a dataset or attribute type, or nil for types FeatureStore does not map
    /// (int16, uint32, compound, …).
    static func elementType(ofType type: hid_t, _ site: HDF5Site) throws -> ElementType? {
        let cls = try HDF5Calls.typeClass(type, site)
        let size = try HDF5Calls.typeSize(type, site)
        switch cls {
        case H5T_FLOAT:
            return size == 4 ? .float32 : size == 8 ? .float64 : nil
        case H5T_INTEGER:
            let signed = try HDF5Calls.typeIsSigned(type, site)
            switch (size, signed) {
            case (1, true): return .int8
            case (1, false): return .uint8
            case (4, true): return .int32
            case (8, true): return .int64
            default: return nil
            }
        case H5T_STRING:
            return .string
        default:
            return nil
        }
    }

    /// A short name for a type FeatureStore does not map, for error messages.
    static func typeDescription(_ type: hid_t, _ site: HDF5Site) -> String {
        guard let cls = try? HDF5Calls.typeClass(type, site), let size = try? HDF5Calls.typeSize(type, site) else { return "?" }
        switch cls {
        case H5T_INTEGER: return ((try? HDF5Calls.typeIsSigned(type, site)) == true ? "int" : "uint") + String(size * 8)
        case H5T_FLOAT: return "float\(size * 8)"
        case H5T_COMPOUND: return "compound"
        case H5T_ENUM: return "enum"
        default: return "HDF5 type class \(cls.rawValue)"
        }
    }

    /// Reads `count` numbers converted to `memType` (HDF5 converts between numeric types).
    static func readNumbers<T>(_ count: Int, memType: hid_t, zero: T,
                               _ read: (_ memType: hid_t, _ buffer: UnsafeMutableRawPointer) throws -> Void) throws -> [T] {
        if count == 0 { return [] }
        var values = [T](repeating: zero, count: count)
        try values.withUnsafeMutableBytes { try read(memType, $0.baseAddress!) }
        return values
    }

    /// Reads `count` strings of a fixed-length or variable-length string type, in the file's character set.
    /// - Parameter space: the dataspace of the read (needed to free variable-length strings).
    static func readStrings(_ count: Int, fileType: hid_t, space: hid_t, _ site: HDF5Site,
                            _ read: (_ memType: hid_t, _ buffer: UnsafeMutableRawPointer) throws -> Void) throws -> [String] {
        if count == 0 { return [] }
        // HDF5 does not convert between ASCII and UTF-8 strings: the memory type takes the file's set.
        let cset = try HDF5Calls.typeCharacterSet(fileType, site)
        if try HDF5Calls.typeIsVariableString(fileType, site) {
            let memType = try HDF5Datatype.variableString(site)
            try HDF5Calls.typeSetCharacterSet(memType.id, cset, site)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try pointers.withUnsafeMutableBytes { try read(memType.id, $0.baseAddress!) }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            try pointers.withUnsafeMutableBytes {
                try HDF5Calls.vlenReclaim(type: memType.id, space: space, $0.baseAddress!, site)
            }
            return strings
        }
        // Fixed length: read into width+1 bytes per string, NUL-terminated, whatever the file's padding.
        let width = try HDF5Calls.typeSize(fileType, site) + 1
        let memType = HDF5Datatype(owning: try HDF5Calls.typeCopy(fileType, site))
        try HDF5Calls.typeSetSize(memType.id, width, site)
        try HDF5Calls.typeSetNullTerminated(memType.id, site)
        var buffer = [UInt8](repeating: 0, count: count * width)
        try buffer.withUnsafeMutableBytes { try read(memType.id, $0.baseAddress!) }
        return (0..<count).map { i in
            let bytes = buffer[i * width..<(i + 1) * width]
            let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
            return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
        }
    }

    /// All attributes of `loc` that map to ``AttributeValue`` (others, e.g. compound ones, are left out).
    static func readAttributes(of loc: hid_t, path: String, object: String) throws -> [String: AttributeValue] {
        let site = HDF5Site(path, "reading the attributes of \(object)")
        var result: [String: AttributeValue] = [:]
        for i in 0..<(try HDF5Calls.attributeCount(loc, site)) {
            let attr = HDF5Attribute(owning: try HDF5Calls.attributeOpenByIndex(loc, i, site))
            let name = try HDF5Calls.attributeName(attr.id, site)
            if let value = try readAttribute(attr, HDF5Site(path, "reading attribute '\(name)' of \(object)")) {
                result[name] = value
            }
        }
        return result
    }

    /// One attribute's value: scalars become the singular cases, arrays (of any rank, flattened) the plural ones.
    static func readAttribute(_ attr: HDF5Attribute, _ site: HDF5Site) throws -> AttributeValue? {
        let space = HDF5Dataspace(owning: try HDF5Calls.attributeSpace(attr.id, site))
        let spaceClass = try HDF5Calls.dataspaceClass(space.id, site)
        guard spaceClass == H5S_SCALAR || spaceClass == H5S_SIMPLE else { return nil }
        let scalar = spaceClass == H5S_SCALAR
        let count = scalar ? 1 : try HDF5Calls.dataspaceDims(space.id, site).reduce(1, *)
        let type = HDF5Datatype(owning: try HDF5Calls.attributeType(attr.id, site))
        let read = { (memType: hid_t, buffer: UnsafeMutableRawPointer) in
            try HDF5Calls.attributeRead(attr.id, memType: memType, buffer, site)
        }
        switch try HDF5Calls.typeClass(type.id, site) {
        case H5T_STRING:
            let v = try readStrings(count, fileType: type.id, space: space.id, site, read)
            return scalar ? .string(v.first ?? "") : .strings(v)
        case H5T_INTEGER:
            let v = try readNumbers(count, memType: HDF5Calls.nativeInt64, zero: Int64(0), read)
            return scalar ? .int(v.first ?? 0) : .ints(v)
        case H5T_FLOAT:
            let v = try readNumbers(count, memType: HDF5Calls.nativeDouble, zero: 0.0, read)
            return scalar ? .double(v.first ?? 0) : .doubles(v)
        default:
            return nil
        }
    }
}
