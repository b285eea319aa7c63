import CGEMMKernels
import Foundation

/// How the products with a weight matrix (`linear`, the models' projections and convolutions) are computed.
///
/// - `float32`: OpenBLAS `cblas_sgemm`.
/// - `amxSplitBF16`: Intel AMX's bfloat16 tiles, with each float32 operand split into three bfloat16 parts
///   (`x = x₁ + x₂ + x₃`: 8 + 8 + 8 significant bits, all 24 of float32's) and the six part products that reach
///   float32's rounding (`x₁w₁, x₁w₂, x₂w₁, x₁w₃, x₂w₂, x₃w₁`) accumulated in float32 ("bf16x6"). The result is
///   as accurate as sgemm's: the same size of error against an exact product, in other bits (as between any two
///   BLAS libraries). AMX runs the six products 1.5–1.9x faster per core than AVX-512 runs one float32 product.
///
/// Default (`MELD_GEMM` unset or `auto`): `amxSplitBF16` where the CPU has AMX-BF16, Linux grants the tile state
/// (Xeon Sapphire Rapids and later) and no hypervisor is reported; else `float32`. Under a hypervisor the AMX unit
/// of each physical core may be shared with other tenants' vCPUs, and on the shared development VMs it ran
/// 2-3x slower for long stretches, below sgemm: there AMX is opt-in. `MELD_GEMM=amx` asks for AMX (and says
/// on stderr when it is unavailable); `MELD_GEMM=sgemm` forces float32 sgemm. Weights whose row count is not a
/// multiple of 32, and the attention's products between activations, always use sgemm.
public enum ProductPrecision: String, Sendable, CustomStringConvertible {
    case float32 = "float32 (OpenBLAS sgemm)"
    case amxSplitBF16 = "float32 as 3 bfloat16 parts on AMX tiles (bf16x6)"

    public var description: String { rawValue }
}

extension BLAS {
    private static let precisionLock = NSLock()
    nonisolated(unsafe) private static var precisionSetting: ProductPrecision = defaultPrecision()

    /// Whether this machine can run the AMX path, and if not, why (e.g. "the CPU has no AMX-BF16 ...").
    public static var amxAvailability: (available: Bool, reason: String) {
        (gemm_amx_available() != 0, String(cString: gemm_amx_unavailable_reason()))
    }

    /// The precision of weight products (see `ProductPrecision`); settable, e.g. by benchmarks comparing both.
    /// Setting `.amxSplitBF16` where AMX is unavailable keeps `.float32`.
    public static var productPrecision: ProductPrecision {
        get { precisionLock.lock(); defer { precisionLock.unlock() }; return precisionSetting }
        set {
            precisionLock.lock(); defer { precisionLock.unlock() }
            precisionSetting = newValue == .amxSplitBF16 && gemm_amx_available() == 0 ? .float32 : newValue
        }
    }

    /// The default from `MELD_GEMM`, the CPU and the hypervisor bit, read once at first use.
    private static let defaultChoice = precisionPolicy(
        asked: ProcessInfo.processInfo.environment["MELD_GEMM"], amx: gemm_amx_available() != 0,
        hypervisor: gemm_under_hypervisor() != 0, amxMissing: String(cString: gemm_amx_unavailable_reason()))

    static func defaultPrecision() -> ProductPrecision {
        if let note = defaultChoice.note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        return defaultChoice.precision
    }

    /// Why the default is what it is, for `bench` headers: e.g. "AMX available; not the default under a
    /// hypervisor (MELD_GEMM=amx uses it)".
    public static var productPrecisionReason: String { defaultChoice.reason }

    /// The policy of `ProductPrecision`, pure: the precision, why, and a note for stderr when `MELD_GEMM` asks for
    /// something that cannot be had.
    static func precisionPolicy(asked: String?, amx: Bool, hypervisor: Bool, amxMissing: String)
        -> (precision: ProductPrecision, reason: String, note: String?) {
        let value = asked?.lowercased() ?? ""
        let auto: (ProductPrecision, String) =
            !amx ? (.float32, "no AMX: \(amxMissing)")
                 : hypervisor ? (.float32, "AMX available; not the default under a hypervisor (MELD_GEMM=amx uses it)")
                              : (.amxSplitBF16, "AMX available, no hypervisor")
        switch value {
        case "", "auto":
            return (auto.0, auto.1, nil)
        case "sgemm", "float32", "fp32", "openblas":
            return (.float32, "MELD_GEMM=\(asked!)", nil)
        case "amx", "bf16x6":
            return amx ? (.amxSplitBF16, "MELD_GEMM=\(asked!)", nil)
                       : (.float32, "MELD_GEMM=\(asked!)", "MELD_GEMM=\(value) but \(amxMissing); using OpenBLAS sgemm")
        default:
            return (auto.0, "MELD_GEMM=\(asked!)", "MELD_GEMM=\(value) is not one of sgemm, amx, auto; using auto")
        }
    }

    /// `C = A·Wᵀ`, or `C += A·Wᵀ` when `accumulate`, where W is the block of `rows` (default all) and columns
    /// `[column, column + k)` of `weight` seen as a matrix `[rows, ldw]` (rows = `weight.shape[0]`,
    /// ldw = `weight.count / rows`): a `linear` layer's weight `[out, in]`, one tap range of a convolution
    /// weight, or one group's rows of a grouped one. n = `rows.count`.
    ///
    /// Under `.amxSplitBF16` the weight block is packed once per weight tensor (kept with its storage) and A is
    /// packed per call; both are split across `BLAS.threads`. Otherwise one `cblas_sgemm`.
    /// - Parameters:
    ///   - a: `[m, k]` with row stride `lda`.
    ///   - c: `[m, n]` with row stride `ldc`.
    public static func weightProduct(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, weight: Tensor,
                                     rows: Range<Int>? = nil, column: Int = 0, accumulate: Bool,
                                     c: UnsafeMutablePointer<Float>, ldc: Int) {
        let total = weight.shape.first ?? 0
        let rows = rows ?? 0..<total
        let n = rows.count
        guard m > 0, n > 0 else { return }
        let ldw = weight.count / total
        precondition(rows.lowerBound >= 0 && rows.upperBound <= total && column >= 0 && column + k <= ldw,
                     "weightProduct: rows \(rows), columns \(column)..<\(column + k) of a [\(total), \(ldw)] weight")
        if k > 0, n % 32 == 0, productPrecision == .amxSplitBF16 {
            let packed = WeightPacks.packed(weight, row: rows.lowerBound, column: column, k: k, n: n, ldw: ldw)
            SplitProduct.run(m: m, n: n, k: k, a: a, lda: lda, packed: packed, accumulate: accumulate, c: c, ldc: ldc)
            return
        }
        weight.withUnsafeBufferPointer { w in
            sgemm(transA: false, transB: true, m: m, n: n, k: k, a: a, lda: lda,
                  b: w.baseAddress! + rows.lowerBound * ldw + column, ldb: ldw, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    }
}

/// A weight block split into three bfloat16 parts in the AMX kernel's layout (`gemm_amx_pack_w`).
final class PackedWeight: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt16>
    let count: Int
    let n: Int, k: Int

    init(n: Int, k: Int) {
        self.n = n
        self.k = k
        count = gemm_amx_packed_w_count(n, k)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
        pointer = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// The packed copies of weight blocks, kept on the weight's storage (so they live and die with the weights).
enum WeightPacks {
    struct Key: Hashable { let row: Int, column: Int, k: Int, n: Int, ldw: Int }

    static let lock = NSLock()

    /// The packed block of `weight`, packing it (in parallel) at the first call.
    static func packed(_ weight: Tensor, row: Int, column: Int, k: Int, n: Int, ldw: Int) -> PackedWeight {
        let key = Key(row: row, column: column, k: k, n: n, ldw: ldw)
        let storage = weight.storage
        lock.lock()
        if let found = storage.packs[key] { lock.unlock(); return found }
        lock.unlock()
        let packed = PackedWeight(n: n, k: k)
        let source = UnsafePointer(storage.pointer) + row * ldw + column, target = packed.pointer
        Parallel.forEachChunk(n / 16, costPerItem: 16 * k * 8) { strips in
            gemm_amx_pack_w(source, n, k, ldw, target, strips.lowerBound * 16, strips.upperBound * 16)
        }
        lock.lock()
        defer { lock.unlock() }
        if let raced = storage.packs[key] { return raced }
        storage.packs[key] = packed
        // The float32 pages of a mapped checkpoint are not read again on this path: let the kernel drop them
        // (they come back from the file if anything reads them), so the packed copy does not double the memory.
        weight.releaseMappedPages()
        return packed
    }
}

extension Tensor {
    /// Weights `[nᵢ, k]` stacked into one `[Σnᵢ, k]` weight, so that one product computes them all (the fused
    /// q/k/v projections of BERT, HuBERT and CLIP). Only the stacked copy is read from then on, so the mapped
    /// originals' pages are released (`releaseMappedPages`).
    public static func stackedWeights(_ parts: [Tensor]) -> Tensor {
        let stacked = concatenate(parts, axis: 0)
        parts.forEach { $0.releaseMappedPages() }
        return stacked
    }

    /// For a tensor viewing a memory-mapped checkpoint: tells the kernel its whole pages are not needed now
    /// (`madvise(MADV_DONTNEED)`), so they leave the resident set; a later read faults them back in from the
    /// file, unchanged. No effect on owned tensors.
    func releaseMappedPages() {
        guard storage.owner is SafeTensorsFile else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: UnsafeRawPointer(storage.pointer))
        let end = start + storage.count * MemoryLayout<Float>.stride
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let p = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(p, last - first, MADV_DONTNEED)
    }
}

/// One AMX product: pack A, then column blocks of 32 across the threads.
enum SplitProduct {
    static func run(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, packed: PackedWeight,
                    accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let aCount = gemm_amx_packed_a_count(m, k)
        let aBytes = aCount * 2
        let aPacked = StoragePool.allocate(byteCount: aBytes).bindMemory(to: UInt16.self, capacity: aCount)
        defer { StoragePool.release(UnsafeMutableRawPointer(aPacked), byteCount: aBytes) }
        let rowBlocks = (m + 31) / 32
        Parallel.forEachChunk(rowBlocks, costPerItem: 32 * k * 4) { blocks in
            gemm_amx_pack_a(a, m, k, lda, aPacked, blocks.lowerBound * 32, Swift.min(blocks.upperBound * 32, m))
        }
        // One contiguous column range per thread: each range streams all of packed A once per 512 columns, so
        // more, smaller ranges would only re-read it.
        let scratchCount = gemm_amx_scratch_count()
        parallelChunks(n / 32, width: Parallel.threads, costPerItem: 32 * m * k, grain: 1 << 21) { blocks in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            gemm_amx_run(m, n, k, aPacked, packed.pointer, accumulate ? 1 : 0, c, ldc,
                         blocks.lowerBound * 32, blocks.upperBound * 32, scratch)
        }
    }
}
