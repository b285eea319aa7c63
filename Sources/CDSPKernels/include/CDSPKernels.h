#ifndef CDSPKERNELS_H
#define CDSPKERNELS_H

#include <stddef.h>

// AVX2 versions of the DSP module's inner loops (Sources/DSP/Internals/LogMelEngine.swift), for CPUs that have
// AVX2; the Swift loops are the portable path. Every kernel performs the same IEEE operations in the same order
// per value as its Swift counterpart (no FMA contraction, no reassociation), so both paths give bit-identical
// results. Call them only when dsp_cpu_has_avx2() returns 1.

/// 1 when the CPU (and OS) support AVX2, else 0.
int dsp_cpu_has_avx2(void);

/// out[2i] = w[i] * xa[i], out[2i+1] = w[i] * xb[i] for i < n (two windowed frames as one complex signal).
void dsp_window_pair_avx2(const float *xa, const float *xb, const double *w, double *out, ptrdiff_t n);

/// Separates the spectrum z (n complex values, interleaved) of a + i b into 4|A[k]|^2, 4|B[k]|^2 for
/// k in 1..<bins, stored as a float pair at power + k * row (bin 0 is left to the caller). Values below floor
/// (compared in double) are stored as 0.
void dsp_separate_avx2(const double *z, ptrdiff_t n, ptrdiff_t bins, float *power, ptrdiff_t row, double floor);

/// Mel product and decibels for frames b < count of a bin-major power block (power[k * block + b]):
/// for band m, v = sum over j of weights[offset[m] + j] * power[(start[m] + j) * block + b], in order, then
/// db[m * dbRow + b] = decibels(max(amin, v)). Works in groups of 8 frames: the power columns from count up to
/// the next multiple of 8 (at most block) are read and must hold finite values; nothing is written for them.
/// Returns the largest decibel value written (-inf if none).
float dsp_mel_db_avx2(const float *power, ptrdiff_t block, ptrdiff_t count, ptrdiff_t nMels, const ptrdiff_t *start,
                      const ptrdiff_t *offset, const float *weights, float *db, ptrdiff_t dbRow, float amin);

/// The folded DCT of FoldedDCT.apply (Sources/DSP/MFCC.swift) for frames [0, kept) of a band-major dB matrix
/// (db[m * frames + t], clamped to max(v, floor) on load), into out[k * columns + t]. `plan` lists, for each of
/// `folds` folds, its length, the number of coefficients summed from its differences and those coefficients,
/// then the final length, count and coefficients. `basis` is nMFCC x nMels; `scratch` holds 24 * nMels doubles.
void dsp_dct_avx2(const float *db, ptrdiff_t frames, ptrdiff_t kept, float floor, const double *basis, ptrdiff_t nMels,
                  const ptrdiff_t *plan, ptrdiff_t folds, double *scratch, float *out, ptrdiff_t columns);

#endif
