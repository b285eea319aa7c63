#ifndef CGEMMKERNELS_H
#define CGEMMKERNELS_H

// Float32 GEMM on Intel AMX's bfloat16 tiles: C = A·Wᵀ (+ C) with each float32 operand split into three
// bfloat16 parts, x = x1 + x2 + x3 (24 significant bits, all of float32's), and the six part products whose
// size reaches float32's rounding, accumulated in float32 (the "bf16x6" scheme). The result is as accurate as
// float32 sgemm's (errors of the same size, not the same bits). See Sources/Tensor/WeightProducts.swift for the
// Swift owner and the policy.
//
// Layouts are private to gemm.c: callers size buffers with the *_packed_count functions (uint16 elements,
// the three parts side by side per tile) and hand back what the pack functions wrote.

#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU has AMX-TILE, AMX-BF16, AVX512-BF16 and AVX-512 F/BW/VL and Linux granted this process the
/// AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM); 0 otherwise. The first call asks the kernel; later calls
/// return the cached answer. Thread-safe.
int gemm_amx_available(void);

/// Why gemm_amx_available() answered 0, or "" when it answered 1 (a static string).
const char *gemm_amx_unavailable_reason(void);

/// 1 when the CPU reports a hypervisor (cpuid leaf 1, ECX bit 31): a virtual machine, whose cores' AMX units
/// may be shared with other tenants' vCPUs on the same physical cores.
int gemm_under_hypervisor(void);

/// Columns of W (rows of Wᵀ) per packed strip, and the granularity of gemm_amx_run's column blocks.
enum { GEMM_AMX_N_BLOCK = 32 };

/// uint16 elements of a packed W [n, k]; n must be a multiple of 32.
size_t gemm_amx_packed_w_count(ptrdiff_t n, ptrdiff_t k);

/// Packs rows [row0, row1) of W [n, k] (row stride ldw); row0 and row1 multiples of 16 (or row1 = n).
void gemm_amx_pack_w(const float *w, ptrdiff_t n, ptrdiff_t k, ptrdiff_t ldw, uint16_t *packed,
                     ptrdiff_t row0, ptrdiff_t row1);

/// uint16 elements of a packed A [m, k].
size_t gemm_amx_packed_a_count(ptrdiff_t m, ptrdiff_t k);

/// Packs rows [row0, row1) of A [m, k] (row stride lda); row0 a multiple of 32, row1 a multiple of 32 or m.
void gemm_amx_pack_a(const float *a, ptrdiff_t m, ptrdiff_t k, ptrdiff_t lda, uint16_t *packed,
                     ptrdiff_t row0, ptrdiff_t row1);

/// C[:, col0..<col1] = A·Wᵀ (accumulate = 0) or C + A·Wᵀ (accumulate = 1), from packed A [m, k] and W [n, k];
/// col0 and col1 multiples of 32. Uses the calling thread only; threads may run disjoint column ranges at
/// once. `scratch` holds gemm_amx_scratch_count() floats.
void gemm_amx_run(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint16_t *a, const uint16_t *w, int accumulate,
                  float *c, ptrdiff_t ldc, ptrdiff_t col0, ptrdiff_t col1, float *scratch);

/// Floats of scratch that gemm_amx_run needs.
size_t gemm_amx_scratch_count(void);

#endif
