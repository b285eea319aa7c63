#ifndef CVECTORKERNELS_H
#define CVECTORKERNELS_H

#include <stddef.h>

// AVX-512 versions of elementwise inner loops of the Tensor module (Sources/Tensor/Internals/FastMath.swift), of
// HuBERT (Sources/Models/HuBERT/HubertKernels.swift) and of CLIP (Sources/Models/CLIP/CLIPKernels.swift), for CPUs that have AVX-512F; the Swift loops (4-wide SSE in
// the portable build) are the other path. Every kernel performs the
// same IEEE operations in the same order per value as its Swift counterpart (no FMA contraction, no
// reassociation, the same NaN behaviour of min and max), so both paths give bit-identical results. Call them only
// when vec_cpu_has_avx512() returns 1.

/// 1 when the CPU (and OS) support AVX-512F, else 0.
int vec_cpu_has_avx512(void);

/// p[i] = GELUKernel.apply(p[i]) for i < n: the Tensor module's exact-form GELU (`applyGELU`: A&S 7.1.26 erf
/// with the Cephes-style exponential), used by BERT.
void vec_gelu_avx512(float *p, ptrdiff_t n);

/// row[j] = v / (1 + CLIPKernels.exp(-1.702·v)), v = row[j] + bias[j], for j < dim: CLIP's bias and quick GELU.
void vec_clip_bias_quick_gelu_avx512(float *row, const float *bias, ptrdiff_t dim);

/// p[i] = GELU(p[i]) for i < n: HubertKernels.gelu (the rational erf, one division).
void vec_hubert_gelu_avx512(float *p, ptrdiff_t n);

/// x[i] += GELU(y[i]) for i < n.
void vec_hubert_add_gelu_avx512(float *x, const float *y, ptrdiff_t n);

/// HuBERT's first conv with its GroupNorm folded in, rows t in [t0, t1):
/// out[t·channels + c] = GELU(bias[c] + Σ_{a<k} weight[a·channels + c] · x[t·stride + a]), the sum taken in the
/// order a = 0, 1, ... (each term rounded, then added), as FoldedFirstConv in Swift.
void vec_hubert_first_conv_gelu_avx512(const float *x, ptrdiff_t stride, ptrdiff_t k, const float *weight,
                                  const float *bias, ptrdiff_t channels, float *out, ptrdiff_t t0, ptrdiff_t t1);

#endif
