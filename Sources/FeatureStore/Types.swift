import Foundation

/// The element types a cache file holds. Numbers are little-endian in the file; strings are fixed-length,
/// NUL-terminated UTF-8 (h5py: `f['keys'].asstr()[:]`).
public enum ElementType: String, Codable, Sendable, CaseIterable {
    case float32, float64, int8, uint8, int32, int64, string

    /// True for the integer types.
    public var isInteger: Bool { [.int8, .uint8, .int32, .int64].contains(self) }
    /// True for float32 and float64.
    public var isFloat: Bool { self == .float32 || self == .float64 }
}

/// The values of one column, flat in row-major (C) order.
public enum ColumnData: Sendable, Equatable {
    case float32([Float]), float64([Double]), int8([Int8]), uint8([UInt8]), int32([Int32]), int64([Int64]), strings([String])

    /// The number of elements (not rows).
    public var count: Int {
        switch self {
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        case .int8(let v): return v.count
        case .uint8(let v): return v.count
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .strings(let v): return v.count
        }
    }

    public var elementType: ElementType {
        switch self {
        case .float32: return .float32
        case .float64: return .float64
        case .int8: return .int8
        case .uint8: return .uint8
        case .int32: return .int32
        case .int64: return .int64
        case .strings: return .string
        }
    }

    /// Empty data of a type.
    public static func empty(_ type: ElementType) -> ColumnData {
        switch type {
        case .float32: return .float32([])
        case .float64: return .float64([])
        case .int8: return .int8([])
        case .uint8: return .uint8([])
        case .int32: return .int32([])
        case .int64: return .int64([])
        case .string: return .strings([])
        }
    }

    /// Appends `other`, which must have the same element type.
    public mutating func append(_ other: ColumnData) {
        switch (self, other) {
        case (.float32(var a), .float32(let b)): a += b; self = .float32(a)
        case (.float64(var a), .float64(let b)): a += b; self = .float64(a)
        case (.int8(var a), .int8(let b)): a += b; self = .int8(a)
        case (.uint8(var a), .uint8(let b)): a += b; self = .uint8(a)
        case (.int32(var a), .int32(let b)): a += b; self = .int32(a)
        case (.int64(var a), .int64(let b)): a += b; self = .int64(a)
        case (.strings(var a), .strings(let b)): a += b; self = .strings(a)
        default: preconditionFailure("appending \(other.elementType) to \(elementType)")
        }
    }
}

/// How a shard column joins the index file (``IndexWriter``).
public enum IndexMode: String, Sendable, Codable, CaseIterable {
    /// A virtual dataset over the shards (large arrays: features, sequence values, per-frame times).
    case virtual
    /// A real concatenated copy (small per-item arrays and strings: keys, validity, counts).
    case copy
    /// An `[n+1]` integer offsets column, rebased to global offsets in the index (one `[N+1]` int64 column).
    case offsets
    /// Not concatenated (e.g. partial statistics); left out of the index.
    case perShard
}

/// One dataset of a cache file: a name, flat data, and the shape of one row.
///
/// ```swift
/// let mfcc = Column(name: "features", data: .float32(flat), rowShape: [13, 401], chunkRows: 1, indexMode: .virtual)
/// // dataset shape [flat.count / (13 * 401), 13, 401], chunked one item per chunk
/// ```
public struct Column: Sendable, Equatable {
    public var name: String
    public var data: ColumnData
    /// The shape of one row, e.g. `[13, 401]`, `[40]` or `[]`; the dataset's shape is `[rows] + rowShape`.
    public var rowShape: [Int]
    /// Rows per chunk; nil → contiguous storage. Chunks are clamped to the row count; an empty dataset is
    /// always contiguous. DESIGN §5: fixed-shape features 1–8 items per chunk, sequences ~64–128 frames.
    public var chunkRows: Int?
    public var indexMode: IndexMode

    /// `data.count` must be a multiple of the product of `rowShape`; the writers check this (and the rest of
    /// ``validate()``) and throw ``FeatureStoreError`` naming the column.
    public init(name: String, data: ColumnData, rowShape: [Int] = [], chunkRows: Int? = nil, indexMode: IndexMode = .copy) {
        self.name = name
        self.data = data
        self.rowShape = rowShape
        self.chunkRows = chunkRows
        self.indexMode = indexMode
    }

    /// Elements per row (1 for `rowShape == []`).
    public var rowSize: Int { rowShape.reduce(1, *) }

    /// The number of rows, `data.count / rowSize` (0 when the shape is invalid).
    public var rows: Int { rowSize > 0 ? data.count / rowSize : 0 }

    /// The dataset's full shape, `[rows] + rowShape`.
    public var shape: [Int] { [rows] + rowShape }

    public var schema: ColumnSchema {
        ColumnSchema(name: name, elementType: data.elementType, rowShape: rowShape, indexMode: indexMode)
    }

    /// Checks what the writers need: a plain name (no `/`, not empty, not `.`), positive `rowShape` entries that
    /// divide the element count, a positive `chunkRows`, strings without NUL and not `.virtual` (their width
    /// differs per shard), offsets as a 1-D integer column that starts at 0 and never decreases.
    /// - Throws: ``FeatureStoreError`` naming the column and the problem.
    public func validate() throws {
        func fail(_ message: String) -> FeatureStoreError {
            FeatureStoreError(path: nil, message: "column '\(name)': \(message)")
        }
        if name.isEmpty || name == "." || name.contains("/") { throw fail("a dataset name must be non-empty, not '.', without '/'") }
        if rowShape.contains(where: { $0 <= 0 }) { throw fail("rowShape \(rowShape) has a dimension ≤ 0") }
        if data.count % rowSize != 0 {
            throw fail("\(data.count) elements do not divide into rows of shape \(rowShape) (\(rowSize) elements each)")
        }
        if let c = chunkRows, c <= 0 { throw fail("chunkRows \(c) must be positive") }
        if case .strings(let s) = data {
            if indexMode == .virtual { throw fail("string columns cannot be virtual (their width differs per shard); use .copy") }
            if let bad = s.firstIndex(where: { $0.utf8.contains(0) }) { throw fail("string \(bad) contains a NUL byte") }
        }
        if indexMode == .offsets {
            guard data.elementType.isInteger, rowShape.isEmpty else { throw fail("offsets must be a 1-D integer column") }
            let v = data.int64Values
            guard let first = v.first, first == 0 else { throw fail("offsets must start with 0 (an [n+1] column)") }
            if let i = v.indices.dropFirst().first(where: { v[$0] < v[$0 - 1] }) {
                throw fail("offsets decrease at \(i): \(v[i - 1]) then \(v[i])")
            }
        }
    }
}

extension ColumnData {
    /// Integer data widened to Int64 (empty for floats and strings).
    var int64Values: [Int64] {
        switch self {
        case .int8(let v): return v.map(Int64.init)
        case .uint8(let v): return v.map(Int64.init)
        case .int32(let v): return v.map(Int64.init)
        case .int64(let v): return v
        default: return []
        }
    }
}

/// What a column is, without its data: used to compare shards and to declare the columns of an empty index.
public struct ColumnSchema: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var elementType: ElementType
    public var rowShape: [Int]
    public var indexMode: IndexMode

    public init(name: String, elementType: ElementType, rowShape: [Int] = [], indexMode: IndexMode) {
        self.name = name
        self.elementType = elementType
        self.rowShape = rowShape
        self.indexMode = indexMode
    }

    public var description: String { "\(name): \(elementType) [n\(rowShape.map { ", \($0)" }.joined())] \(indexMode.rawValue)" }
}

/// A file attribute. Strings are written as variable-length UTF-8 (h5py returns `str`), integers as int64,
/// doubles as float64; the plural cases are 1-D arrays, the singular ones scalars.
public enum AttributeValue: Sendable, Equatable, CustomStringConvertible {
    case string(String), int(Int64), double(Double), strings([String]), doubles([Double]), ints([Int64])

    public var description: String {
        switch self {
        case .string(let s): return "\"\(s)\""
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .strings(let v): return "[" + v.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        case .doubles(let v): return "\(v)"
        case .ints(let v): return "\(v)"
        }
    }

    /// The value if this is `.string`.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The value if this is `.int`.
    public var intValue: Int64? { if case .int(let v) = self { return v } else { return nil } }
}

/// Everything one shard file holds: its datasets, in order, and the root group's attributes.
public struct ShardContent: Sendable, Equatable {
    public var columns: [Column]
    public var attributes: [String: AttributeValue]

    public init(columns: [Column], attributes: [String: AttributeValue] = [:]) {
        self.columns = columns
        self.attributes = attributes
    }
}

/// A committed shard the index will be built over, and the fingerprint the run records say it has.
public struct ShardRef: Sendable, Equatable {
    public var url: URL
    public var expectedFingerprint: String

    public init(url: URL, expectedFingerprint: String) {
        self.url = url
        self.expectedFingerprint = expectedFingerprint
    }
}
