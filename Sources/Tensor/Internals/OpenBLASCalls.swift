import COpenBLAS
import Foundation

// Every raw OpenBLAS call of the module goes through this file.
//
// libopenblas is linked at load time (the module map's `link "openblas"`; pkg-config adds `-lopenblas` too), and
// in the `pipeline` executable it is loaded anyway by OpenCV (libopencv_core → liblapack.so.3 → libopenblas.so.0).
// So its load-time constructor has always run, and picked its kernel table, before any Swift code: setting
// `OPENBLAS_CORETYPE` in-process, or a lazy `dlopen`, would come too late. Instead the kernel is re-selected after
// load through the two exported symbols OpenBLAS's own constructor uses (driver/others/dynamic.c, 0.3.x):
//
//     gotoblas_t *gotoblas;              // the kernel table every BLAS call dispatches through
//     void gotoblas_dynamic_init(void);  // if gotoblas == NULL: pick a table (honouring OPENBLAS_CORETYPE), init it
//
// Clearing `gotoblas` and calling `gotoblas_dynamic_init` with `OPENBLAS_CORETYPE` set is exactly what the
// constructor would have done had the variable been set at start-up. Both symbols exist only in DYNAMIC_ARCH
// builds (Debian's, and most distributions'); where they are missing the library's own choice is kept.
//
// Thread safety: `cblas_sgemm` may be called from many threads at once (OpenBLAS ≥ 0.3.7 pthreads builds). The
// kernel switch must not overlap a BLAS call, so it runs once, under a lock, before the first call this module makes.

enum OpenBLASCalls {
    /// `cblas_sgemm`, row-major: C = alpha·op(A)·op(B) + beta·C.
    @inline(__always)
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
                    blasint(ldc))
    }

    /// `openblas_get_corename`: the kernel table in use ("Haswell", "SkylakeX", "Zen", ...).
    static func coreName() -> String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// `openblas_get_config`: build options, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
    static func config() -> String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config)
    }

    /// `openblas_set_num_threads`.
    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(clamping: n)) }

    /// `openblas_get_num_threads`.
    static func threads() -> Int { Int(openblas_get_num_threads()) }

    /// `copenblas_cpu_supports_avx512` (cpuid + xgetbv).
    static func cpuSupportsAVX512() -> Bool { copenblas_cpu_supports_avx512() != 0 }

    /// The loaded OpenBLAS's `gotoblas` pointer and `gotoblas_dynamic_init`, or nil when the library is not a
    /// DYNAMIC_ARCH build. Looked up in libopenblas.so.0 itself (already loaded: `RTLD_NOLOAD`), else in the global
    /// scope (`RTLD_DEFAULT`); wrappers such as libblas.so.3 only import `gotoblas`, so there is one table per process.
    static func dynamicArchHooks() -> (table: UnsafeMutablePointer<UnsafeMutableRawPointer?>, initialize: @convention(c) () -> Void)? {
        func lookup(_ handle: UnsafeMutableRawPointer?) -> (UnsafeMutableRawPointer, UnsafeMutableRawPointer)? {
            guard let table = dlsym(handle, "gotoblas"), let initialize = dlsym(handle, "gotoblas_dynamic_init")
            else { return nil }
            return (table, initialize)
        }
        var found: (UnsafeMutableRawPointer, UnsafeMutableRawPointer)?
        if let handle = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD) {
            found = lookup(handle)
            dlclose(handle)  // only drops the reference NOLOAD added; the library stays loaded
        }
        if found == nil { found = lookup(nil) }  // nil is RTLD_DEFAULT
        guard let (table, initialize) = found else { return nil }
        return (table.assumingMemoryBound(to: UnsafeMutableRawPointer?.self),
                unsafeBitCast(initialize, to: (@convention(c) () -> Void).self))
    }

    /// Re-selects OpenBLAS's kernel table as if the process had started with `OPENBLAS_CORETYPE=name`, then
    /// restores the environment variable to what it was. Must not overlap any BLAS call.
    /// - Returns: false when the library has no DYNAMIC_ARCH hooks (nothing changed).
    static func reselectCore(_ name: String) -> Bool {
        guard let hooks = dynamicArchHooks() else { return false }
        let previous = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        setenv("OPENBLAS_CORETYPE", name, 1)
        hooks.table.pointee = nil
        hooks.initialize()
        if let previous { setenv("OPENBLAS_CORETYPE", previous, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
        return true
    }
}
