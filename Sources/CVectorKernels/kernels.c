#include "CVectorKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Separate multiplies and adds, as in the Swift code: never fuse them.
#pragma clang fp contract(off)

int vec_cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

#define AVX512 __attribute__((target("avx512f")))

// Swift.max(v, lo) is `lo >= v ? lo : v` and Swift.min(v, hi) is `hi < v ? hi : v`: a NaN v comes through both.
// VMAXPS/VMINPS return their second operand when either is NaN, so the constant goes first.
AVX512 static inline __m512 clamp(__m512 v, float lo, float hi) {
    return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), v));
}

// a·b + c as two roundings (a multiply, then an add): the Swift `a * b + c` of the polynomials' Horner steps.
AVX512 static inline __m512 mul_add(__m512 a, __m512 b, float c) {
    return _mm512_add_ps(_mm512_mul_ps(a, b), _mm512_set1_ps(c));
}

// a·b − c likewise.
AVX512 static inline __m512 mul_sub(__m512 a, __m512 b, float c) {
    return _mm512_sub_ps(_mm512_mul_ps(a, b), _mm512_set1_ps(c));
}

// y · 2^n with 2^n built in the exponent bits, `Float(bitPattern: UInt32((n + 127) << 23))` in Swift.
AVX512 static inline __m512 times_pow2(__m512 y, __m512i n) {
    return _mm512_mul_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23)));
}

// HubertKernels.gelu, operation for operation.
AVX512 static inline __m512 gelu16(__m512 x) {
    __m512 z = clamp(_mm512_mul_ps(x, _mm512_set1_ps(0.7071067811865475f)), -4, 4);
    __m512 u = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(2.140770267e-6f);
    p = mul_add(p, u, 2.842173543e-4f);
    p = mul_add(p, u, 3.556430884e-3f);
    p = mul_add(p, u, 5.210066258e-2f);
    p = mul_add(p, u, 1.849616764e-1f);
    p = mul_add(p, u, 1.128379142f);
    __m512 q = _mm512_set1_ps(3.900726912e-5f);
    q = mul_add(q, u, 1.119752726e-3f);
    q = mul_add(q, u, 1.454115013e-2f);
    q = mul_add(q, u, 1.119251081e-1f);
    q = mul_add(q, u, 4.972509537e-1f);
    q = mul_add(q, u, 1.0f);
    __m512 erf = clamp(_mm512_div_ps(_mm512_mul_ps(z, p), q), -1, 1);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

// expCore of FastMath.swift: 2^n through the exponent bits times a degree-6 polynomial of the reduced argument.
AVX512 static inline __m512 exp_core(__m512 x) {
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 t = mul_add(x, _mm512_set1_ps(1.4426950408889634f), 12582912.0f);
    __m512i n = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(magic));
    __m512 fn = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(fn, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(fn, _mm512_set1_ps(-2.1219444005469058e-4f)));
    __m512 z = _mm512_mul_ps(r, r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = mul_add(y, r, 1.3981999507e-3f);
    y = mul_add(y, r, 8.3334519073e-3f);
    y = mul_add(y, r, 4.1665795894e-2f);
    y = mul_add(y, r, 1.6666665459e-1f);
    y = mul_add(y, r, 5.0000001201e-1f);
    y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(y, z), r), _mm512_set1_ps(1.0f));
    return times_pow2(y, n);
}

// GELUKernel of FastMath.swift: x·0.5·(1 + geluErf(x·√½)), geluErf = erfOfMagnitude(min(|x|, 4)) with its sign.
AVX512 static inline __m512 tensor_gelu16(__m512 x) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000);
    __m512 v = _mm512_mul_ps(x, _mm512_set1_ps(0.7071067811865475244f));
    __m512 a = _mm512_min_ps(_mm512_set1_ps(4.0f), _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(v))));
    __m512 e = exp_core(_mm512_mul_ps(_mm512_castsi512_ps(_mm512_xor_si512(sign, _mm512_castps_si512(a))), a));
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), mul_add(_mm512_set1_ps(0.3275911f), a, 1.0f));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = mul_sub(p, t, 1.453152027f);
    p = mul_add(p, t, 1.421413741f);
    p = mul_sub(p, t, 0.284496736f);
    p = mul_add(p, t, 0.254829592f);
    __m512 magnitude = _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(_mm512_mul_ps(p, t), e));
    // Float(signOf: v, magnitudeOf: m): m's magnitude bits with v's sign bit.
    __m512i erf = _mm512_or_si512(_mm512_andnot_si512(sign, _mm512_castps_si512(magnitude)),
                                  _mm512_and_si512(sign, _mm512_castps_si512(v)));
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)),
                         _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_castsi512_ps(erf)));
}

// CLIPKernels.exp: x clamped to [-87, 88], a degree-7 Taylor polynomial, 2^n through the exponent bits.
AVX512 static inline __m512 clip_exp(__m512 x) {
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 xc = clamp(x, -87, 88);
    __m512 t = mul_add(xc, _mm512_set1_ps(1.4426950408889634f), 12582912.0f);
    __m512i n_bits = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(magic));
    __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_sub_ps(_mm512_sub_ps(xc, _mm512_mul_ps(n, _mm512_set1_ps(0.693145751953125f))),
                             _mm512_mul_ps(n, _mm512_set1_ps(1.428606765330187045e-6f)));
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = mul_add(p, r, 1.0f / 720);
    p = mul_add(p, r, 1.0f / 120);
    p = mul_add(p, r, 1.0f / 24);
    p = mul_add(p, r, 1.0f / 6);
    p = mul_add(p, r, 0.5f);
    p = mul_add(p, r, 1.0f);
    p = mul_add(p, r, 1.0f);
    return times_pow2(p, n_bits);
}

AVX512 static inline __mmask16 tail(ptrdiff_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

// p[i] = f(p[i]) for i < n, 16 at a time (a partial vector at the end); f is inlined at each use.
AVX512 static inline __attribute__((always_inline)) void map_in_place(float *p, ptrdiff_t n, __m512 (*f)(__m512)) {
    for (ptrdiff_t i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        _mm512_mask_storeu_ps(p + i, m, f(_mm512_maskz_loadu_ps(m, p + i)));
    }
}

AVX512 void vec_gelu_avx512(float *p, ptrdiff_t n) { map_in_place(p, n, tensor_gelu16); }

AVX512 void vec_clip_bias_quick_gelu_avx512(float *row, const float *bias, ptrdiff_t dim) {
    for (ptrdiff_t j = 0; j < dim; j += 16) {
        __mmask16 m = tail(dim - j);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, row + j), _mm512_maskz_loadu_ps(m, bias + j));
        __m512 e = clip_exp(_mm512_mul_ps(_mm512_set1_ps(-1.702f), v));
        _mm512_mask_storeu_ps(row + j, m, _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e)));
    }
}

AVX512 void vec_hubert_gelu_avx512(float *p, ptrdiff_t n) { map_in_place(p, n, gelu16); }

AVX512 void vec_hubert_add_gelu_avx512(float *x, const float *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), gelu16(_mm512_maskz_loadu_ps(m, y + i)));
        _mm512_mask_storeu_ps(x + i, m, v);
    }
}

AVX512 void vec_hubert_first_conv_gelu_avx512(const float *x, ptrdiff_t stride, ptrdiff_t k, const float *weight,
                                         const float *bias, ptrdiff_t channels, float *out, ptrdiff_t t0,
                                         ptrdiff_t t1) {
    for (ptrdiff_t t = t0; t < t1; t++) {
        const float *patch = x + t * stride;
        float *row = out + t * channels;
        for (ptrdiff_t c = 0; c < channels; c += 16) {
            __mmask16 m = tail(channels - c);
            __m512 acc = _mm512_maskz_loadu_ps(m, bias + c);
            for (ptrdiff_t a = 0; a < k; a++)
                acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, weight + a * channels + c),
                                                       _mm512_set1_ps(patch[a])));
            _mm512_mask_storeu_ps(row + c, m, gelu16(acc));
        }
    }
}

#else  // not x86-64: never available; the callers use the Swift loops.

int vec_cpu_has_avx512(void) { return 0; }
void vec_gelu_avx512(float *p, ptrdiff_t n) { (void)p; (void)n; }
void vec_clip_bias_quick_gelu_avx512(float *row, const float *bias, ptrdiff_t dim) { (void)row; (void)bias; (void)dim; }
void vec_hubert_gelu_avx512(float *p, ptrdiff_t n) { (void)p; (void)n; }
void vec_hubert_add_gelu_avx512(float *x, const float *y, ptrdiff_t n) { (void)x; (void)y; (void)n; }
void vec_hubert_first_conv_gelu_avx512(const float *x, ptrdiff_t stride, ptrdiff_t k, const float *weight,
                                  const float *bias, ptrdiff_t channels, float *out, ptrdiff_t t0, ptrdiff_t t1) {
    (void)x; (void)stride; (void)k; (void)weight; (void)bias; (void)channels; (void)out; (void)t0; (void)t1;
}

#endif
