#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface (`cblas_sgemm`, `openblas_get_corename`, `openblas_set_num_threads`, ...), plus the
// few things Swift cannot do itself.
#include <cblas.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/// 1 when the CPU has AVX-512 F, DQ, BW and VL *and* the OS saves the AVX-512 register state (XCR0 bits 1, 2 and
/// 5-7), i.e. when OpenBLAS's SkylakeX kernels can run; 0 otherwise (and on every non-x86 CPU).
/// Why a shim: `cpuid` and `xgetbv` are instructions, which Swift has no way to issue.
static inline int copenblas_cpu_supports_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 27))) return 0;                      // OSXSAVE: xgetbv is usable
    unsigned int xcr0_lo = 0, xcr0_hi = 0;
    __asm__ __volatile__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xe6u) != 0xe6u) return 0;               // SSE, AVX, opmask, ZMM0-15 hi, ZMM16-31 state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const unsigned int f = 1u << 16, dq = 1u << 17, bw = 1u << 30, vl = 1u << 31;
    return (ebx & (f | dq | bw | vl)) == (f | dq | bw | vl);
#else
    return 0;
#endif
}

#endif
