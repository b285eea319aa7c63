import Foundation

/// Single-precision GEMM through OpenBLAS, on the fastest kernel the CPU can run.
///
/// ```swift
/// BLAS.setThreads(2)
/// print(BLAS.coreName)            // "SkylakeX" on an AVX-512 CPU
/// BLAS.sgemm(transA: false, transB: true, m: 2, n: 3, k: 4, alpha: 1, a: a, lda: 4, b: w, ldb: 4,
///            beta: 0, c: c, ldc: 3)  // C[2,3] = A[2,4]·W[3,4]ᵀ
/// ```
///
/// Kernel choice: Debian's OpenBLAS 0.3.21 does not know several AVX-512 CPUs (Sapphire Rapids and later Xeons,
/// AMD Zen 4/5) and runs its AVX2 kernels there at about half the sgemm rate. Before the first BLAS call of this
/// module, when the CPU and OS support AVX-512 (F, DQ, BW, VL), the user has not set `OPENBLAS_CORETYPE`, and
/// OpenBLAS chose a kernel without AVX-512, the kernel table is switched to SkylakeX (see `kernelChoice`).
/// A user-set `OPENBLAS_CORETYPE` always wins; CPUs without AVX-512 keep the library's choice.
///
/// Threads: OpenBLAS threads each large call itself (`setThreads`, default: all cores, or `OPENBLAS_NUM_THREADS`);
/// `setThreads` also caps this module's own parallel loops, so one number decides how many cores an encoder uses.
/// Calling from several threads at once is safe; then set 1 thread per call to avoid oversubscription.
public enum BLAS {
    /// What was decided about OpenBLAS's kernel at first use.
    public enum KernelChoice: Equatable, CustomStringConvertible {
        /// OpenBLAS's own pick was kept (it already uses AVX-512, or the CPU has none).
        case libraryChoice(String)
        /// The user set `OPENBLAS_CORETYPE`; OpenBLAS honoured it at load time.
        case userSetting(String)
        /// Switched from OpenBLAS's pick (`from`) to `to`.
        case switched(from: String, to: String)
        /// A switch was wanted but the library is not a DYNAMIC_ARCH build (or refused); `current` is in use.
        case switchUnavailable(current: String)

        public var description: String {
            switch self {
            case .libraryChoice(let core): return "\(core) (OpenBLAS's choice)"
            case .userSetting(let core): return "\(core) (OPENBLAS_CORETYPE)"
            case .switched(let from, let to): return "\(to) (switched from \(from): the CPU has AVX-512)"
            case .switchUnavailable(let core): return "\(core) (AVX-512 CPU, but this OpenBLAS cannot switch kernels)"
            }
        }
    }

    /// OpenBLAS kernel tables that use AVX-512 (names as `openblas_get_corename` spells them, lower-cased).
    static let avx512Cores: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    /// The kernel to switch to, or nil to keep OpenBLAS's choice. Pure, for tests.
    /// - Parameters:
    ///   - userSetting: `OPENBLAS_CORETYPE` from the environment, if set (even to an empty string).
    ///   - cpuHasAVX512: whether the CPU and OS run AVX-512 F/DQ/BW/VL code.
    ///   - currentCore: `openblas_get_corename()`.
    static func kernelToSelect(userSetting: String?, cpuHasAVX512: Bool, currentCore: String) -> String? {
        guard userSetting == nil, cpuHasAVX512 else { return nil }
        return avx512Cores.contains(currentCore.lowercased()) ? nil : "SkylakeX"
    }

    private static let lock = NSLock()

    /// Applies the kernel policy. Runs once, lazily, before the first BLAS call (Swift runs a static `let`
    /// initialiser exactly once, thread-safely).
    private static let initialChoice: KernelChoice = applyKernelPolicy()

    /// Looks at the environment, the CPU and OpenBLAS's current kernel, and switches to SkylakeX when
    /// `kernelToSelect` says so. Callable again (tests use it after forcing another kernel).
    @discardableResult
    static func applyKernelPolicy() -> KernelChoice {
        lock.lock()
        defer { lock.unlock() }
        let current = OpenBLASCalls.coreName()
        if getenv("OPENBLAS_CORETYPE") != nil { return .userSetting(current) }
        guard let target = kernelToSelect(userSetting: nil, cpuHasAVX512: OpenBLASCalls.cpuSupportsAVX512(),
                                          currentCore: current) else { return .libraryChoice(current) }
        guard OpenBLASCalls.reselectCore(target) else { return .switchUnavailable(current: current) }
        let now = OpenBLASCalls.coreName()
        return now.lowercased() == target.lowercased() ? .switched(from: current, to: now)
                                                      : .switchUnavailable(current: now)
    }

    /// Switches OpenBLAS to the kernel table `name` ("Haswell", "SkylakeX", ... as `OPENBLAS_CORETYPE` spells
    /// them), for benchmarks and diagnostics comparing kernels. Must not overlap other BLAS calls. An AVX-512
    /// kernel is refused on a CPU without AVX-512 (it would die of SIGILL); other kernels the CPU cannot run are
    /// the caller's risk, as with the environment variable. An unknown name gives OpenBLAS's generic Prescott
    /// kernel. A no-op where OpenBLAS is not a DYNAMIC_ARCH build.
    /// - Returns: the kernel now in use.
    @discardableResult
    public static func forceCore(_ name: String) -> String {
        _ = initialChoice
        lock.lock()
        defer { lock.unlock() }
        if avx512Cores.contains(name.lowercased()) && !OpenBLASCalls.cpuSupportsAVX512() {
            return OpenBLASCalls.coreName()
        }
        _ = OpenBLASCalls.reselectCore(name)
        return OpenBLASCalls.coreName()
    }

    /// What happened to the kernel choice at first use (forces that first use).
    public static var kernelChoice: KernelChoice { initialChoice }

    /// The kernel table in use (`openblas_get_corename`), e.g. "SkylakeX" or "Haswell".
    public static var coreName: String {
        _ = initialChoice
        return OpenBLASCalls.coreName()
    }

    /// OpenBLAS's build description (`openblas_get_config`).
    public static var config: String {
        _ = initialChoice
        return OpenBLASCalls.config()
    }

    /// Whether the CPU and OS support the AVX-512 subsets OpenBLAS's SkylakeX kernels need (cpuid + xgetbv).
    public static var cpuHasAVX512: Bool { OpenBLASCalls.cpuSupportsAVX512() }

    /// The number of threads OpenBLAS uses per call (`openblas_get_num_threads`).
    public static var threads: Int {
        _ = initialChoice
        return OpenBLASCalls.threads()
    }

    /// Sets the number of threads OpenBLAS uses per call (`openblas_set_num_threads`) and the number of chunks
    /// this module's own parallel loops (elementwise ops, norms, softmax, attention heads) run at once; values
    /// < 1 mean 1.
    public static func setThreads(_ n: Int) {
        _ = initialChoice
        OpenBLASCalls.setThreads(max(1, n))
        Parallel.threads = max(1, n)
    }

    /// The largest m·n·k that OpenBLAS computes on the calling thread whatever its thread count: it threads only
    /// larger products (`SMP_THRESHOLD_MIN · GEMM_MULTITHREAD_THRESHOLD` = 65536 · 4 in interface/gemm.c, 0.3.x).
    /// Products up to this size may run inside this module's parallel loops without oversubscribing the cores.
    static let callingThreadProductLimit = 65_536 * 4

    /// Row-major single-precision GEMM, `C = alpha·op(A)·op(B) + beta·C` (`cblas_sgemm`), where op(A) is
    /// `[m, k]` and op(B) is `[k, n]`.
    /// - Parameters:
    ///   - transA: A is stored `[k, m]` (row stride `lda`) and used transposed; else stored `[m, k]`.
    ///   - transB: B is stored `[n, k]` (row stride `ldb`) and used transposed; else stored `[k, n]`.
    ///   - c: `[m, n]` with row stride `ldc`; read only when `beta != 0`.
    @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = initialChoice
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // cblas_sgemm with k = 0 only scales C; spell it out so no pointer needs to be valid.
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
            }
            return
        }
        OpenBLASCalls.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                            b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

/// The sgemm rate this machine achieves, for the CLI's `bench` commands.
public enum SgemmBenchmark {
    /// GFLOP/s of `BLAS.weightProduct` (`C[m,n] = A[m,k]·W[n,k]ᵀ`) with the current `BLAS.productPrecision`,
    /// measured as `gflops` measures sgemm (the weight is packed by the untimed warm-up call).
    public static func weightProductGflops(m: Int, n: Int, k: Int, seconds: Double = 1) -> Double {
        let (a, b) = operands(m: m, n: n, k: k)
        let w = Tensor(shape: [n, k], b)
        var c = [Float](repeating: 0, count: m * n)
        return a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                let (pa, pc) = (a.baseAddress!, c.baseAddress!)
                return rate(m: m, n: n, k: k, seconds: seconds) {
                    BLAS.weightProduct(m: m, k: k, a: pa, lda: k, weight: w, accumulate: false, c: pc, ldc: n)
                }
            }
        }
    }

    /// GFLOP/s of `C[m,n] = A[m,k]·B[n,k]ᵀ` (the shape of `linear`), counting 2·m·n·k flops per call, over
    /// repeated calls for at least `seconds` after one untimed warm-up call, with the current `BLAS` threads.
    public static func gflops(m: Int, n: Int, k: Int, seconds: Double = 1) -> Double {
        let (a, b) = operands(m: m, n: n, k: k)
        var c = [Float](repeating: 0, count: m * n)
        return a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    let (pa, pb, pc) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
                    return rate(m: m, n: n, k: k, seconds: seconds) {
                        BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: k,
                                   c: pc, ldc: n)
                    }
                }
            }
        }
    }

    /// Fixed, non-trivial A `[m, k]` and B `[n, k]`.
    private static func operands(m: Int, n: Int, k: Int) -> (a: [Float], b: [Float]) {
        precondition(m > 0 && n > 0 && k > 0)
        return ((0..<(m * k)).map { Float(($0 * 7) % 13) * 0.01 - 0.06 },
                (0..<(n * k)).map { Float(($0 * 5) % 11) * 0.01 - 0.05 })
    }

    /// One untimed `call`, then as many as fit in `seconds`: 2·m·n·k flops each, in GFLOP/s.
    private static func rate(m: Int, n: Int, k: Int, seconds: Double, _ call: () -> Void) -> Double {
        call()
        var calls = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            call()
            calls += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
        return 2 * Double(m) * Double(n) * Double(k) * Double(calls) / elapsed / 1e9
    }
}
