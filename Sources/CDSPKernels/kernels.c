#include "CDSPKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

// Separate multiplies and adds, as in the Swift code: never fuse them (the AVX2 target has no FMA anyway).
#pragma clang fp contract(off)

int dsp_cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

#define AVX2 __attribute__((target("avx2")))

AVX2 void dsp_window_pair_avx2(const float *xa, const float *xb, const double *w, double *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d wi = _mm256_loadu_pd(w + i);
        __m256d a = _mm256_mul_pd(wi, _mm256_cvtps_pd(_mm_loadu_ps(xa + i)));
        __m256d b = _mm256_mul_pd(wi, _mm256_cvtps_pd(_mm_loadu_ps(xb + i)));
        __m256d lo = _mm256_unpacklo_pd(a, b), hi = _mm256_unpackhi_pd(a, b);   // a0 b0 a2 b2 | a1 b1 a3 b3
        // Four 16-byte stores rather than two lane-crossing permutes and two 32-byte stores.
        _mm_storeu_pd(out + 2 * i, _mm256_castpd256_pd128(lo));
        _mm_storeu_pd(out + 2 * i + 2, _mm256_castpd256_pd128(hi));
        _mm_storeu_pd(out + 2 * i + 4, _mm256_extractf128_pd(lo, 1));
        _mm_storeu_pd(out + 2 * i + 6, _mm256_extractf128_pd(hi, 1));
    }
    for (; i < n; i++) {
        out[2 * i] = w[i] * (double)xa[i];
        out[2 * i + 1] = w[i] * (double)xb[i];
    }
}

AVX2 void dsp_separate_avx2(const double *z, ptrdiff_t n, ptrdiff_t bins, float *power, ptrdiff_t row, double floor) {
    const __m256d low = _mm256_set1_pd(floor);
    ptrdiff_t k = 1;
    for (; k + 2 <= bins; k += 2) {
        __m256d zk = _mm256_loadu_pd(z + 2 * k);                      // Z[k], Z[k+1]
        __m256d zr = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(z + 2 * (n - k))),
                                          _mm_loadu_pd(z + 2 * (n - k - 1)), 1);    // Z[n-k], Z[n-k-1]
        __m256d s = _mm256_add_pd(zk, zr), t = _mm256_sub_pd(zk, zr);
        __m256d s2 = _mm256_mul_pd(s, s), t2 = _mm256_mul_pd(t, t);
        __m256d pair = _mm256_add_pd(s2, _mm256_permute_pd(t2, 0x5)); // s.x^2 + t.y^2, s.y^2 + t.x^2
        pair = _mm256_andnot_pd(_mm256_cmp_pd(pair, low, _CMP_LT_OQ), pair);
        __m128 f = _mm256_cvtpd_ps(pair);
        _mm_storel_pi((__m64 *)(power + k * row), f);
        _mm_storeh_pi((__m64 *)(power + (k + 1) * row), f);
    }
    for (; k < bins; k++) {
        double a = z[2 * k], b = z[2 * k + 1], c = z[2 * (n - k)], d = z[2 * (n - k) + 1];
        double sx = a + c, sy = b + d, tx = a - c, ty = b - d;
        double u = sx * sx + ty * ty, v = sy * sy + tx * tx;
        power[k * row] = (float)(u < floor ? 0 : u);
        power[k * row + 1] = (float)(v < floor ? 0 : v);
    }
}

/// decibels() of FastLog.swift, eight lanes.
AVX2 static inline __m256 decibels8(__m256 x) {
    __m256i bits = _mm256_castps_si256(x);
    __m256i exponentField = _mm256_and_si256(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(0xff));
    __m256 m1 = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                    _mm256_set1_epi32(0x3f800000)));
    __m256 high = _mm256_cmp_ps(m1, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    __m256 m = _mm256_blendv_ps(m1, _mm256_mul_ps(m1, _mm256_set1_ps(0.5f)), high);
    __m256 e = _mm256_castsi256_ps(_mm256_or_si256(_mm256_set1_epi32(0x4b000000), exponentField));
    e = _mm256_sub_ps(_mm256_sub_ps(e, _mm256_set1_ps(8388608.0f)), _mm256_set1_ps(127.0f));
    e = _mm256_add_ps(e, _mm256_and_ps(high, _mm256_set1_ps(1.0f)));
    __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
    __m256 s = _mm256_div_ps(f, _mm256_add_ps(_mm256_set1_ps(2.0f), f));
    __m256 z = _mm256_mul_ps(s, s);
    __m256 p = _mm256_set1_ps(1.0f / 9);
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(1.0f / 7));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(1.0f / 5));
    p = _mm256_add_ps(_mm256_mul_ps(p, z), _mm256_set1_ps(1.0f / 3));
    __m256 twoS = _mm256_add_ps(s, s);
    __m256 lnM = _mm256_add_ps(twoS, _mm256_mul_ps(_mm256_mul_ps(twoS, z), p));
    return _mm256_add_ps(_mm256_mul_ps(e, _mm256_set1_ps(3.0107421875f)),
                         _mm256_add_ps(_mm256_mul_ps(e, _mm256_set1_ps(-4.4223086e-4f)),
                                       _mm256_mul_ps(lnM, _mm256_set1_ps(4.3429448f))));
}

/// max(v, amin) as the Swift code computes it (compare and select; v is never NaN).
AVX2 static inline __m256 clampLow(__m256 v, __m256 amin) {
    return _mm256_blendv_ps(v, amin, _mm256_cmp_ps(v, amin, _CMP_LT_OQ));
}

AVX2 float dsp_mel_db_avx2(const float *power, ptrdiff_t block, ptrdiff_t count, ptrdiff_t nMels,
                           const ptrdiff_t *start, const ptrdiff_t *offset, const float *weights, float *db,
                           ptrdiff_t dbRow, float amin) {
    const __m256 lo = _mm256_set1_ps(amin);
    __m256 peak = _mm256_set1_ps(-INFINITY);
    for (ptrdiff_t m = 0; m < nMels; m++) {
        const float *w = weights + offset[m];
        const ptrdiff_t taps = offset[m + 1] - offset[m];
        const float *band = power + start[m] * block;
        float *dst = db + m * dbRow;
        ptrdiff_t b = 0;
        for (; b + 32 <= count; b += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            const float *src = band + b;
            for (ptrdiff_t j = 0; j < taps; j++, src += block) {
                __m256 wj = _mm256_set1_ps(w[j]);
                a0 = _mm256_add_ps(a0, _mm256_mul_ps(wj, _mm256_loadu_ps(src)));
                a1 = _mm256_add_ps(a1, _mm256_mul_ps(wj, _mm256_loadu_ps(src + 8)));
                a2 = _mm256_add_ps(a2, _mm256_mul_ps(wj, _mm256_loadu_ps(src + 16)));
                a3 = _mm256_add_ps(a3, _mm256_mul_ps(wj, _mm256_loadu_ps(src + 24)));
            }
            a0 = decibels8(clampLow(a0, lo));
            a1 = decibels8(clampLow(a1, lo));
            a2 = decibels8(clampLow(a2, lo));
            a3 = decibels8(clampLow(a3, lo));
            peak = _mm256_max_ps(peak, _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
            _mm256_storeu_ps(dst + b, a0);
            _mm256_storeu_ps(dst + b + 8, a1);
            _mm256_storeu_ps(dst + b + 16, a2);
            _mm256_storeu_ps(dst + b + 24, a3);
        }
        for (; b < count; b += 8) {
            __m256 acc = _mm256_setzero_ps();
            const float *src = band + b;
            for (ptrdiff_t j = 0; j < taps; j++, src += block) {
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(src)));
            }
            acc = decibels8(clampLow(acc, lo));
            if (b + 8 <= count) {
                peak = _mm256_max_ps(peak, acc);
                _mm256_storeu_ps(dst + b, acc);
            } else {
                __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - b)), lane);
                peak = _mm256_max_ps(peak, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), acc, _mm256_castsi256_ps(valid)));
                _mm256_maskstore_ps(dst + b, valid, acc);
            }
        }
    }
    __m128 p4 = _mm_max_ps(_mm256_castps256_ps128(peak), _mm256_extractf128_ps(peak, 1));
    p4 = _mm_max_ps(p4, _mm_movehl_ps(p4, p4));
    p4 = _mm_max_ss(p4, _mm_shuffle_ps(p4, p4, 1));
    return _mm_cvtss_f32(p4);
}

/// sum over i < length of row[i] * vector[i] (16 lanes as four vectors), in order.
AVX2 static inline void dctCoefficient(const double *row, const double *vector, ptrdiff_t length, __m256d acc[4]) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (ptrdiff_t i = 0; i < length; i++) {
        __m256d c = _mm256_broadcast_sd(row + i);
        const double *v = vector + 16 * i;
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(c, _mm256_loadu_pd(v)));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(c, _mm256_loadu_pd(v + 4)));
        a2 = _mm256_add_pd(a2, _mm256_mul_pd(c, _mm256_loadu_pd(v + 8)));
        a3 = _mm256_add_pd(a3, _mm256_mul_pd(c, _mm256_loadu_pd(v + 12)));
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}

AVX2 static inline void dctStore(float *dst, const __m256d acc[4], ptrdiff_t lanes) {
    __m128 f[4] = {_mm256_cvtpd_ps(acc[0]), _mm256_cvtpd_ps(acc[1]), _mm256_cvtpd_ps(acc[2]), _mm256_cvtpd_ps(acc[3])};
    if (lanes == 16) {
        for (int q = 0; q < 4; q++) _mm_storeu_ps(dst + 4 * q, f[q]);
    } else {
        float tmp[16];
        for (int q = 0; q < 4; q++) _mm_storeu_ps(tmp + 4 * q, f[q]);
        for (ptrdiff_t j = 0; j < lanes; j++) dst[j] = tmp[j];
    }
}

AVX2 void dsp_dct_avx2(const float *db, ptrdiff_t frames, ptrdiff_t kept, float floor, const double *basis, ptrdiff_t nMels,
                       const ptrdiff_t *plan, ptrdiff_t folds, double *scratch, float *out, ptrdiff_t columns) {
    double *values = scratch, *diffs = scratch + 16 * nMels;
    const __m256 low = _mm256_set1_ps(floor);
    for (ptrdiff_t t = 0; t < kept; t += 16) {
        const ptrdiff_t lanes = kept - t < 16 ? kept - t : 16;
        for (ptrdiff_t i = 0; i < nMels; i++) {
            const float *src = db + i * frames + t;
            __m256 v0, v1;
            if (lanes == 16) {
                v0 = _mm256_loadu_ps(src);
                v1 = _mm256_loadu_ps(src + 8);
            } else {
                float tmp[16] = {0};
                for (ptrdiff_t j = 0; j < lanes; j++) tmp[j] = src[j];
                v0 = _mm256_loadu_ps(tmp);
                v1 = _mm256_loadu_ps(tmp + 8);
            }
            v0 = clampLow(v0, low);
            v1 = clampLow(v1, low);
            double *dst = values + 16 * i;
            _mm256_storeu_pd(dst, _mm256_cvtps_pd(_mm256_castps256_ps128(v0)));
            _mm256_storeu_pd(dst + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1)));
            _mm256_storeu_pd(dst + 8, _mm256_cvtps_pd(_mm256_castps256_ps128(v1)));
            _mm256_storeu_pd(dst + 12, _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1)));
        }
        const ptrdiff_t *step = plan;
        __m256d acc[4];
        for (ptrdiff_t f = 0; f < folds; f++) {
            const ptrdiff_t length = step[0], count = step[1], half = length / 2;
            for (ptrdiff_t i = 0; i < half; i++) {
                double *a = values + 16 * i, *b = values + 16 * (length - 1 - i), *d = diffs + 16 * i;
                for (int q = 0; q < 16; q += 4) {
                    __m256d va = _mm256_loadu_pd(a + q), vb = _mm256_loadu_pd(b + q);
                    _mm256_storeu_pd(a + q, _mm256_add_pd(va, vb));
                    _mm256_storeu_pd(d + q, _mm256_sub_pd(va, vb));
                }
            }
            for (ptrdiff_t c = 0; c < count; c++) {
                const ptrdiff_t k = step[2 + c];
                dctCoefficient(basis + k * nMels, diffs, half, acc);
                dctStore(out + k * columns + t, acc, lanes);
            }
            step += 2 + count;
        }
        const ptrdiff_t length = step[0], count = step[1];
        for (ptrdiff_t c = 0; c < count; c++) {
            const ptrdiff_t k = step[2 + c];
            dctCoefficient(basis + k * nMels, values, length, acc);
            dctStore(out + k * columns + t, acc, lanes);
        }
    }
}

#else

int dsp_cpu_has_avx2(void) { return 0; }
void dsp_window_pair_avx2(const float *xa, const float *xb, const double *w, double *out, ptrdiff_t n) {}
void dsp_separate_avx2(const double *z, ptrdiff_t n, ptrdiff_t bins, float *power, ptrdiff_t row, double floor) {}
float dsp_mel_db_avx2(const float *power, ptrdiff_t block, ptrdiff_t count, ptrdiff_t nMels, const ptrdiff_t *start,
                      const ptrdiff_t *offset, const float *weights, float *db, ptrdiff_t dbRow, float amin) {
    return -__builtin_inff();
}
void dsp_dct_avx2(const float *db, ptrdiff_t frames, ptrdiff_t kept, float floor, const double *basis, ptrdiff_t nMels,
                  const ptrdiff_t *plan, ptrdiff_t folds, double *scratch, float *out, ptrdiff_t columns) {}

#endif
