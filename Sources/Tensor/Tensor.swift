import Foundation

/// The memory behind a `Tensor`: either an owned, 64-byte aligned allocation (large ones recycled through
/// `StoragePool`), or a read-only view into memory someone else keeps alive (`owner`, e.g. a memory-mapped
/// `SafeTensorsFile`).
final class TensorStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    /// Keeps viewed memory alive; nil for owned storage.
    let owner: AnyObject?
    /// Split-bfloat16 copies of blocks of these elements used as a product's weight (`WeightPacks`), made at first
    /// use and dropped when owned storage is written again. Guarded by `WeightPacks.lock`.
    var packs: [WeightPacks.Key: PackedWeight] = [:]

    /// Owned, uninitialised storage for `count` floats.
    init(uninitializedCount count: Int) {
        self.count = count
        let raw = StoragePool.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owner = nil
    }

    /// A view of `count` floats at `pointer`, alive as long as `owner`. Never written through.
    init(viewing pointer: UnsafePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = UnsafeMutablePointer(mutating: pointer)
        self.count = count
        self.owner = owner
    }

    var isView: Bool { owner != nil }

    deinit {
        if owner == nil {
            StoragePool.release(UnsafeMutableRawPointer(pointer), byteCount: max(count, 1) * MemoryLayout<Float>.stride)
        }
    }
}

/// A dense, row-major (C order) float32 tensor with value semantics.
///
/// ```swift
/// var x = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
/// let w = Tensor(shape: [4, 3], repeating: 0.5)
/// x = linear(x, weight: w, bias: nil)      // [2, 4]
/// x.applyGELU()                            // in place, no copy when uniquely held
/// print(x.shape, x.scalars)
/// ```
///
/// Storage is shared between copies and copied on the first write to a shared (or memory-mapped) buffer, so
/// weights loaded from a safetensors file stay zero-copy views of the mapped file.
public struct Tensor: @unchecked Sendable {
    /// The extent of each axis; `[]` is a scalar (one element).
    public private(set) var shape: [Int]
    var storage: TensorStorage

    /// The number of elements, the product of `shape`.
    public var count: Int { storage.count }
    /// The number of axes.
    public var rank: Int { shape.count }

    static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape {
            precondition(d >= 0, "negative extent in shape \(shape)")
            n *= d
        }
        return n
    }

    /// A tensor whose elements are not initialised; every element must be written before it is read.
    init(uninitializedShape shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(uninitializedCount: Tensor.elementCount(shape))
    }

    init(shape: [Int], storage: TensorStorage) {
        precondition(Tensor.elementCount(shape) == storage.count, "shape \(shape) does not hold \(storage.count) elements")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor with every element `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(uninitializedShape: shape)
        storage.pointer.initialize(repeating: value, count: storage.count)
    }

    /// A tensor holding `scalars` in row-major order; `scalars.count` must equal the product of `shape`.
    public init(shape: [Int], _ scalars: [Float]) {
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "shape \(shape) needs \(Tensor.elementCount(shape)) values, got \(scalars.count)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: $0.count) }
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

    /// The elements in row-major order (a copy).
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Whether the elements are a read-only view of memory owned elsewhere (a mapped weight file).
    public var isView: Bool { storage.isView }

    /// The element at a full multi-index (for tests and small lookups; not for hot loops).
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[flatIndex(index)] }
        set {
            let i = flatIndex(index)
            makeUnique()
            storage.pointer[i] = newValue
        }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }

    /// Calls `body` with the elements in row-major order.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafeBufferPointer(start: storage.pointer, count: count)) }
    }

    /// Calls `body` with writable elements, copying them first if the storage is shared or a view.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try withExtendedLifetime(storage) {
            try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
        }
    }

    /// Read-only base pointer; valid while `self` (its storage) is alive. Internal fast path for the ops.
    var base: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    /// Gives `self` its own writable storage.
    mutating func makeUnique() {
        if !storage.isView && isKnownUniquelyReferenced(&storage) {
            // About to be written: packed copies would go stale. Unique, so no other thread can be packing it.
            if !storage.packs.isEmpty { storage.packs = [:] }
        } else {
            let copy = TensorStorage(uninitializedCount: count)
            copy.pointer.initialize(from: storage.pointer, count: count)
            storage = copy
        }
    }

    /// Writable base pointer after `makeUnique()`. Internal fast path for the in-place ops.
    var mutableBase: UnsafeMutablePointer<Float> { storage.pointer }

    /// The same elements under another shape (no copy); one extent may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let hole = newShape.firstIndex(of: -1) {
            precondition(newShape.filter { $0 == -1 }.count == 1, "more than one -1 in \(newShape)")
            var known = 1
            for (i, d) in newShape.enumerated() where i != hole { known *= d }
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[hole] = count / known
        }
        precondition(Tensor.elementCount(resolved) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: resolved, storage: storage)
    }

    /// Reshapes in place (no copy).
    public mutating func reshape(_ newShape: [Int]) { self = reshaped(newShape) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = Swift.min(count, 8)
        let values = (0..<shown).map { String(storage.pointer[$0]) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(values)\(count > shown ? ", ..." : "")])"
    }
}

// MARK: - Layout: permute, slice, concatenate

extension Tensor {
    /// The tensor with its axes reordered: result axis i is input axis `axes[i]` (like `torch.permute`). Copies.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && Set(axes) == Set(0..<rank), "bad permutation \(axes) for rank \(rank)")
        if axes == Array(0..<rank) { return self }
        let outShape = axes.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let strides = axes.map { inStrides[$0] }
        let out = Tensor(uninitializedShape: outShape)
        let src = base, dst = out.mutableBase
        let n = count
        if n == 0 { return out }
        // Walk the output in order with an odometer over its index; the innermost axis is a strided copy.
        let inner = outShape[rank - 1], innerStride = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var offset = 0, written = 0
        while written < n {
            var s = offset
            for j in 0..<inner { dst[written + j] = src[s]; s += innerStride }
            written += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < outShape[axis] { break }
                offset -= strides[axis] * outShape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return withExtendedLifetime(self) { out }
    }

    /// The last two axes swapped (a copy), e.g. `[B, C, T] → [B, T, C]`.
    public func transposedLastTwo() -> Tensor {
        precondition(rank >= 2, "transposedLastTwo needs rank ≥ 2, got \(shape)")
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Elements `range` along `axis` (a copy), like `x[..., range, ...]`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(axis >= 0 && axis < rank, "axis \(axis) for shape \(shape)")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis], "range \(range) out of 0..<\(shape[axis])")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let src = base, dst = out.mutableBase
        let block = range.count * inner
        for o in 0..<outer {
            (dst + o * block).update(from: src + (o * shape[axis] + range.lowerBound) * inner, count: block)
        }
        return withExtendedLifetime(self) { out }
    }

    /// The tensors joined along `axis`; all other extents must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate needs at least one tensor")
        let first = parts[0]
        precondition(axis >= 0 && axis < first.rank, "axis \(axis) for shape \(first.shape)")
        for p in parts {
            precondition(p.rank == first.rank && (0..<first.rank).allSatisfy { $0 == axis || p.shape[$0] == first.shape[$0] },
                         "cannot concatenate \(p.shape) with \(first.shape) along axis \(axis)")
        }
        var outShape = first.shape
        outShape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let outer = first.shape[..<axis].reduce(1, *), inner = first.shape[(axis + 1)...].reduce(1, *)
        let out = Tensor(uninitializedShape: outShape)
        let dst = out.mutableBase
        let outBlock = outShape[axis] * inner
        var offset = 0
        for p in parts {
            let block = p.shape[axis] * inner
            p.withUnsafeBufferPointer { src in
                for o in 0..<outer { (dst + o * outBlock + offset).update(from: src.baseAddress! + o * block, count: block) }
            }
            offset += block
        }
        return out
    }
}
