import Foundation

/// A memory-mapped safetensors file (format: huggingface/safetensors README; NUMERICS.md §8).
///
/// ```swift
/// let file = try SafeTensorsFile(url: modelDir.appendingPathComponent("model.safetensors"))
/// let w = try file.tensor("pooler.dense.weight", shape: [768, 768])   // F32: a view of the mapping, no copy
/// let ids = try file.integers("embeddings.position_ids")              // I64 buffers read as integers only
/// ```
///
/// Opening validates the whole header: an 8-byte little-endian length, a JSON object starting with `{`, known
/// dtypes, `data_offsets` matching shape × dtype size, and tensors covering the data buffer exactly (no overlaps,
/// no holes, nothing past the end). F32 tensors are zero-copy views when 4-byte aligned (the official writer
/// aligns them); F16 and BF16 are converted to float32. Views keep the mapping alive. Immutable, so shareable
/// between threads. Assumes a little-endian host (as the format stores data).
public final class SafeTensorsFile: @unchecked Sendable {
    /// Element types of the format.
    public enum DType: String, CaseIterable, Sendable {
        case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: return 1
            case .I16, .U16, .F16, .BF16: return 2
            case .I32, .U32, .F32: return 4
            case .F64, .I64, .U64: return 8
            }
        }

        /// Floating-point types: model parameters. Integer and bool tensors are buffers (`position_ids`).
        public var isFloatingPoint: Bool {
            switch self {
            case .F8_E5M2, .F8_E4M3, .F16, .BF16, .F32, .F64: return true
            default: return false
            }
        }

        /// The dtypes `tensor(_:)` reads (as float32).
        public static let float32Readable: Set<DType> = [.F32, .F16, .BF16]
    }

    /// One tensor's header entry.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range within the data buffer (which starts after the header).
        public let byteRange: Range<Int>
        /// Product of `shape` (1 for a scalar).
        public var count: Int { shape.reduce(1, *) }
    }

    /// The path as given; every error names it.
    public let path: String
    /// Header entries by name.
    public let entries: [String: Entry]
    /// `__metadata__` (string → string), empty when absent.
    public let metadata: [String: String]

    private let mapping: UnsafeMutableRawPointer
    private let mappedLength: Int
    private let dataStart: Int

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Opens and maps `url`, validating the header.
    /// - Throws: `WeightsError.unreadable` (open/mmap failed) or `.malformed` (the reason says what is wrong).
    public convenience init(url: URL) throws { try self.init(path: url.path) }

    /// Opens and maps the file at `path`, validating the header.
    /// - Throws: `WeightsError.unreadable` or `.malformed`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WeightsError.unreadable(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw WeightsError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw WeightsError.unreadable(file: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size >= 8 else {
            throw WeightsError.malformed(file: path, reason: "truncated: \(size) bytes, but the file must start with an 8-byte header length")
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw WeightsError.unreadable(file: path, reason: "mmap: \(String(cString: strerror(errno)))")
        }
        mapping = map
        mappedLength = size
        do {
            (entries, metadata, dataStart) = try SafeTensorsFile.parseHeader(UnsafeRawBufferPointer(start: map, count: size), path: path)
        } catch {
            munmap(map, size)
            throw error
        }
    }

    deinit { munmap(mapping, mappedLength) }

    /// Validates the header of a mapped file; returns the entries, metadata, and the data buffer's file offset.
    private static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws
        -> (entries: [String: Entry], metadata: [String: String], dataStart: Int) {
        func bad(_ reason: String) -> WeightsError { .malformed(file: path, reason: reason) }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= 100_000_000 else {
            throw bad("header length \(headerLength) is over the 100 MB limit (garbage, or not a safetensors file)")
        }
        guard Int(headerLength) <= bytes.count - 8 else {
            throw bad("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes): truncated?")
        }
        let n = Int(headerLength)
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + n)])
        guard n >= 2, header[0] == UInt8(ascii: "{") else {
            throw bad("the header does not start with '{' (garbage, or not a safetensors file)")
        }
        guard String(validating: header, as: UTF8.self) != nil else { throw bad("the header is not valid UTF-8") }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header), options: [])
        } catch {
            throw bad("the header is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = json as? [String: Any] else { throw bad("the header is not a JSON object") }

        let bufferLength = bytes.count - 8 - n
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw bad("__metadata__[\"\(k)\"] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            func badEntry(_ reason: String) -> WeightsError { bad("tensor \"\(name)\": \(reason)") }
            guard let fields = value as? [String: Any] else { throw badEntry("entry is not an object") }
            guard let dtypeName = fields["dtype"] as? String else { throw badEntry("no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else { throw badEntry("unknown dtype \(dtypeName)") }
            guard let shapeValues = fields["shape"] as? [Any] else { throw badEntry("no shape") }
            var shape: [Int] = []
            for v in shapeValues {
                guard let d = exactInt(v), d >= 0 else { throw badEntry("bad shape \(shapeValues)") }
                shape.append(d)
            }
            guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = exactInt(offsets[0]), let end = exactInt(offsets[1]), begin >= 0, begin <= end
            else { throw badEntry("bad data_offsets \(String(describing: fields["data_offsets"]))") }
            var bytesNeeded = dtype.byteSize
            for d in shape {
                let (p, overflow) = bytesNeeded.multipliedReportingOverflow(by: d)
                guard !overflow else { throw badEntry("shape \(shape) is too large") }
                bytesNeeded = p
            }
            guard end - begin == bytesNeeded else {
                throw badEntry("data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but \(dtype) \(shape) needs \(bytesNeeded)")
            }
            guard end <= bufferLength else {
                throw badEntry("data_offsets [\(begin), \(end)] run past the end of the file (the data buffer has \(bufferLength) bytes): truncated?")
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        // The tensors must tile the buffer exactly, as the reference parser requires.
        var covered = 0
        for entry in entries.values.sorted(by: { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }) {
            if entry.byteRange.lowerBound < covered {
                throw bad("tensor \"\(entry.name)\" at bytes \(entry.byteRange) overlaps another tensor")
            }
            if entry.byteRange.lowerBound > covered {
                throw bad("bytes \(covered)..<\(entry.byteRange.lowerBound) of the data buffer belong to no tensor")
            }
            covered = entry.byteRange.upperBound
        }
        guard covered == bufferLength else {
            throw bad("the data buffer has \(bufferLength) bytes but the tensors cover \(covered)")
        }
        return (entries, metadata, 8 + n)
    }

    /// The entry for `name`, or nil.
    public func entry(_ name: String) -> Entry? { entries[name] }

    /// Raw bytes of a tensor inside the mapping (valid while `self` lives).
    private func bytes(of entry: Entry) -> UnsafeRawPointer {
        UnsafeRawPointer(mapping) + dataStart + entry.byteRange.lowerBound
    }

    /// Reads a float tensor as float32: F32 as a zero-copy view (copied only if misaligned), F16 and BF16 converted.
    /// - Throws: `WeightsError.missingTensor`, or `.wrongDType` for other dtypes.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw WeightsError.missingTensor(file: path, tensor: name, tried: [name]) }
        return try tensor(entry)
    }

    /// Reads a float tensor as float32 and checks its shape.
    /// - Throws: `WeightsError.missingTensor`, `.wrongShape` or `.wrongDType`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let entry = entries[name] else { throw WeightsError.missingTensor(file: path, tensor: name, tried: [name]) }
        guard entry.shape == shape else {
            throw WeightsError.wrongShape(file: path, tensor: name, got: entry.shape, expected: shape)
        }
        return try tensor(entry)
    }

    func tensor(_ entry: Entry) throws -> Tensor {
        let src = bytes(of: entry)
        let n = entry.count
        switch entry.dtype {
        case .F32:
            if Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
                let storage = TensorStorage(viewing: src.assumingMemoryBound(to: Float.self), count: n, owner: self)
                return Tensor(shape: entry.shape, storage: storage)
            }
            let out = Tensor(uninitializedShape: entry.shape)
            UnsafeMutableRawPointer(out.mutableBase).copyMemory(from: src, byteCount: n * 4)
            return out
        case .F16, .BF16:
            let out = Tensor(uninitializedShape: entry.shape)
            let dst = out.mutableBase
            let isHalf = entry.dtype == .F16
            Parallel.forEachChunk(n, costPerItem: 2) { range in
                for i in range {
                    let bits = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    dst[i] = isHalf ? floatFromHalf(bits) : Float(bitPattern: UInt32(bits) << 16)
                }
            }
            return out
        default:
            throw WeightsError.wrongDType(file: path, tensor: entry.name, got: entry.dtype.rawValue,
                                          expected: "F32, F16 or BF16")
        }
    }

    /// Reads an integer or bool tensor (e.g. `position_ids`) as Int64, row-major.
    /// - Throws: `WeightsError.missingTensor`, or `.wrongDType` for floating-point tensors.
    public func integers(_ name: String) throws -> [Int64] {
        guard let entry = entries[name] else { throw WeightsError.missingTensor(file: path, tensor: name, tried: [name]) }
        let src = bytes(of: entry)
        let n = entry.count
        func read<T: FixedWidthInteger>(_: T.Type) -> [Int64] {
            (0..<n).map { Int64(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
        switch entry.dtype {
        case .BOOL, .U8: return read(UInt8.self)
        case .I8: return read(Int8.self)
        case .I16: return read(Int16.self)
        case .U16: return read(UInt16.self)
        case .I32: return read(Int32.self)
        case .U32: return read(UInt32.self)
        case .I64: return read(Int64.self)
        case .U64: return read(UInt64.self)
        default:
            throw WeightsError.wrongDType(file: path, tensor: name, got: entry.dtype.rawValue,
                                          expected: "an integer or bool dtype")
        }
    }
}

/// An Int from a JSON number that is exactly an integer (`as? Int` on a bridged NSNumber is exact).
private func exactInt(_ value: Any) -> Int? {
    value as? Int
}

/// IEEE 754 binary16 → binary32, exact (normals, subnormals, ±0, ±∞, NaN payloads).
@inline(__always)
func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1f
    var mantissa = UInt32(h) & 0x3ff
    if exponent == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
    if exponent != 0 { return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13)) }
    if mantissa == 0 { return Float(bitPattern: sign) }
    // Subnormal: normalise.
    var e: UInt32 = 113
    while mantissa & 0x400 == 0 { mantissa <<= 1; e -= 1 }
    return Float(bitPattern: sign | (e << 23) | ((mantissa & 0x3ff) << 13))
}
