#include "CGEMMKernels.h"

#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

// Packed layouts (uint16 bfloat16 bit patterns):
//   A [m, k]: strip s of 16 rows, chunk c of 32 columns -> TILES·512 elements at (s·chunks + c)·TILES·512: the
//             tiles of parts 1, 2 and 3 (16 rows x 32, row-major). Strips past m and columns past k are zero.
//   W [n, k]: strip s of 16 rows of W (16 output columns), chunk c of 32 k -> the same, each tile in AMX's pair
//             layout: tile row t holds, for output column j, W[16s + j][32c + 2t] and W[16s + j][32c + 2t + 1].
// The run keeps a 32x32 block of C in tiles 0-3 (2 A tiles 4-5, 2 W tiles 6-7) and walks K in blocks of
// KB chunks so that the A block stays in L1 while it meets NC columns of W that stay in L2.

enum { KB = 8, NC = 512, TILES = 3, CHUNK = TILES * 512 };

#define GEMM_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))

static ptrdiff_t chunks_of(ptrdiff_t k) { return (k + 31) / 32; }
static ptrdiff_t a_strips(ptrdiff_t m) { return ((m + 31) / 32) * 2; }

size_t gemm_amx_packed_w_count(ptrdiff_t n, ptrdiff_t k) { return (size_t)(n / 16) * (size_t)chunks_of(k) * CHUNK; }
size_t gemm_amx_packed_a_count(ptrdiff_t m, ptrdiff_t k) { return (size_t)a_strips(m) * (size_t)chunks_of(k) * CHUNK; }
size_t gemm_amx_scratch_count(void) { return 32 * NC; }

// ---- availability ----

static int amx_state = -1;
static const char *amx_reason = "";
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void) {
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    if (a < 7) { amx_state = 0; amx_reason = "the CPU reports no leaf 7 features"; return; }
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    int avx512 = (b >> 16 & 1) && (b >> 30 & 1) && (b >> 31 & 1);   // F, BW, VL
    int amx_bf16 = d >> 22 & 1, amx_tile = d >> 24 & 1;
    unsigned a1, b1, c1, d1;
    __asm__ volatile("cpuid" : "=a"(a1), "=b"(b1), "=c"(c1), "=d"(d1) : "a"(7), "c"(1));
    int avx512_bf16 = a1 >> 5 & 1;
    if (!(avx512 && amx_bf16 && amx_tile && avx512_bf16)) {
        amx_state = 0; amx_reason = "the CPU has no AMX-BF16 (Intel Sapphire Rapids or later has it)"; return;
    }
    // The OS must save AVX-512 and tile state (XCR0 bits 5-7 and 17-18) before any of it is used.
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6 || (lo & 0x60000) != 0x60000) {
        amx_state = 0; amx_reason = "the OS does not enable AVX-512 and AMX tile state (XCR0)"; return;
    }
    // ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18): Linux 5.16+ hands out the tile data per process.
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
        amx_state = 0; amx_reason = "Linux refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)"; return;
    }
    amx_state = 1;
}

int gemm_amx_available(void) {
    pthread_once(&amx_once, amx_probe);
    return amx_state;
}

const char *gemm_amx_unavailable_reason(void) {
    pthread_once(&amx_once, amx_probe);
    return amx_reason;
}

int gemm_under_hypervisor(void) {
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    return (int)(c >> 31 & 1);
}

// ---- packing ----

GEMM_TARGET static inline __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// x = p1 + p2 + p3 + r with each part bfloat16 rounded to nearest even from what the earlier parts left (those
// differences are exact in float32); |r| <= 2^-24 |x| about, float32's own rounding.
GEMM_TARGET static inline void split16(__m512 x, __m256i part[3]) {
    for (int i = 0; i < 3; i++) {
        __m256i p = (__m256i)_mm512_cvtneps_pbh(x);
        part[i] = p;
        x = _mm512_sub_ps(x, widen(p));
    }
}

GEMM_TARGET static inline __m512 load_masked(const float *p, ptrdiff_t count) {
    if (count >= 16) return _mm512_loadu_ps(p);
    if (count <= 0) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1), p);
}

GEMM_TARGET void gemm_amx_pack_a(const float *a, ptrdiff_t m, ptrdiff_t k, ptrdiff_t lda, uint16_t *packed,
                                 ptrdiff_t row0, ptrdiff_t row1) {
    ptrdiff_t chunks = chunks_of(k), end = row1 >= m ? a_strips(m) * 16 : row1;
    for (ptrdiff_t r = row0; r < end; r++) {
        ptrdiff_t s = r / 16, t = r % 16;
        const float *src = a + r * lda;
        for (ptrdiff_t c = 0; c < chunks; c++) {
            uint16_t *tile = packed + (s * chunks + c) * CHUNK + t * 32;
            __m256i p0[3], p1[3];
            if (r < m) {
                ptrdiff_t left = k - c * 32;
                split16(load_masked(src + c * 32, left), p0);
                split16(load_masked(src + c * 32 + 16, left - 16), p1);
            } else {
                for (int i = 0; i < 3; i++) p0[i] = p1[i] = _mm256_setzero_si256();
            }
            for (int i = 0; i < TILES; i++) {
                _mm256_storeu_si256((__m256i *)(tile + i * 512), p0[i]);
                _mm256_storeu_si256((__m256i *)(tile + i * 512 + 16), p1[i]);
            }
        }
    }
}

GEMM_TARGET void gemm_amx_pack_w(const float *w, ptrdiff_t n, ptrdiff_t k, ptrdiff_t ldw, uint16_t *packed,
                                 ptrdiff_t row0, ptrdiff_t row1) {
    ptrdiff_t chunks = chunks_of(k);
    // Dword t of a row's 32 converted values (the pair 2t, 2t+1) goes to tile row t, dword column j.
    const __m512i rows = _mm512_set_epi32(15 * 16, 14 * 16, 13 * 16, 12 * 16, 11 * 16, 10 * 16, 9 * 16, 8 * 16,
                                          7 * 16, 6 * 16, 5 * 16, 4 * 16, 3 * 16, 2 * 16, 16, 0);
    for (ptrdiff_t r = row0; r < row1 && r < n; r++) {
        ptrdiff_t s = r / 16, j = r % 16;
        const float *src = w + r * ldw;
        for (ptrdiff_t c = 0; c < chunks; c++) {
            uint16_t *tile = packed + (s * chunks + c) * CHUNK;
            ptrdiff_t left = k - c * 32;
            __m256i p0[3], p1[3];
            split16(load_masked(src + c * 32, left), p0);
            split16(load_masked(src + c * 32 + 16, left - 16), p1);
            for (int i = 0; i < TILES; i++) {
                __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(p0[i]), p1[i], 1);
                _mm512_i32scatter_epi32((int *)(tile + i * 512) + j, rows, both, 4);
            }
        }
    }
}

// ---- the product ----

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

GEMM_TARGET static void configure_tiles(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) { cfg.colsb[i] = 64; cfg.rows[i] = 16; }
    _tile_loadconfig(&cfg);
}

#define DP4() do { _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7); } while (0)
#define LOAD_A(p0, p1) do { _tile_loadd(4, p0, 64); _tile_loadd(5, p1, 64); } while (0)
#define LOAD_W(p0, p1) do { _tile_loadd(6, p0, 64); _tile_loadd(7, p1, 64); } while (0)

// C block (tiles 0-3) += A rows [32mb, +32) · W columns [32nb, +32)ᵀ over chunks [c0, c1): the six part products
// a_i·w_j with i + j <= 4 (1-based), every term down to 2^-16 of the leading one; the next terms are below
// float32's rounding.
GEMM_TARGET static inline void block(const uint16_t *a, const uint16_t *w, ptrdiff_t chunks, ptrdiff_t mb,
                                     ptrdiff_t nb, ptrdiff_t c0, ptrdiff_t c1) {
    const uint16_t *a0 = a + (2 * mb * chunks) * CHUNK, *a1 = a0 + chunks * CHUNK;
    const uint16_t *w0 = w + (2 * nb * chunks) * CHUNK, *w1 = w0 + chunks * CHUNK;
    for (ptrdiff_t c = c0; c < c1; c++) {
        const uint16_t *pa0 = a0 + c * CHUNK, *pa1 = a1 + c * CHUNK, *pw0 = w0 + c * CHUNK, *pw1 = w1 + c * CHUNK;
        LOAD_A(pa0, pa1);
        LOAD_W(pw0, pw1); DP4();                       // a1·w1
        LOAD_W(pw0 + 512, pw1 + 512); DP4();           // a1·w2
        LOAD_W(pw0 + 1024, pw1 + 1024); DP4();         // a1·w3
        LOAD_A(pa0 + 512, pa1 + 512);
        LOAD_W(pw0 + 512, pw1 + 512); DP4();           // a2·w2
        LOAD_W(pw0, pw1); DP4();                       // a2·w1
        LOAD_A(pa0 + 1024, pa1 + 1024); DP4();         // a3·w1
    }
}

GEMM_TARGET void gemm_amx_run(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint16_t *a, const uint16_t *w,
                              int accumulate, float *c, ptrdiff_t ldc, ptrdiff_t col0, ptrdiff_t col1,
                              float *scratch) {
    if (m <= 0 || col1 <= col0) return;
    configure_tiles();
    ptrdiff_t chunks = chunks_of(k), mblocks = (m + 31) / 32, full = m / 32, rem = m - full * 32;
    for (ptrdiff_t n0 = col0; n0 < col1; n0 += NC) {
        ptrdiff_t n1 = n0 + NC < col1 ? n0 + NC : col1;
        if (rem) {  // the last, partial row block accumulates in scratch [32, NC]
            for (ptrdiff_t r = 0; r < 32; r++) {
                float *row = scratch + r * NC;
                if (accumulate && r < rem) memcpy(row, c + (full * 32 + r) * ldc + n0, (size_t)(n1 - n0) * 4);
                else memset(row, 0, (size_t)(n1 - n0) * 4);
            }
        }
        for (ptrdiff_t c0 = 0; c0 < chunks; c0 += KB) {
            ptrdiff_t c1 = c0 + KB < chunks ? c0 + KB : chunks;
            for (ptrdiff_t mb = 0; mb < mblocks; mb++) {
                int edge = mb == full;
                for (ptrdiff_t nb = n0 / 32; nb < n1 / 32; nb++) {
                    float *dst = edge ? scratch + (nb * 32 - n0) : c + mb * 32 * ldc + nb * 32;
                    ptrdiff_t ld = (edge ? NC : ldc) * 4;
                    if (c0 == 0 && !accumulate && !edge) {
                        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
                    } else {
                        _tile_loadd(0, dst, ld);
                        _tile_loadd(1, dst + 16, ld);
                        _tile_loadd(2, (char *)dst + 16 * ld, ld);
                        _tile_loadd(3, (char *)dst + 16 * ld + 64, ld);
                    }
                    block(a, w, chunks, mb, nb, c0, c1);
                    _tile_stored(0, dst, ld);
                    _tile_stored(1, dst + 16, ld);
                    _tile_stored(2, (char *)dst + 16 * ld, ld);
                    _tile_stored(3, (char *)dst + 16 * ld + 64, ld);
                }
            }
        }
        if (rem) {
            for (ptrdiff_t r = 0; r < rem; r++)
                memcpy(c + (full * 32 + r) * ldc + n0, scratch + r * NC, (size_t)(n1 - n0) * 4);
        }
    }
    _tile_release();
}

#else  // not x86-64 Linux: never available; the callers use sgemm.

int gemm_amx_available(void) { return 0; }
const char *gemm_amx_unavailable_reason(void) { return "AMX needs x86-64 Linux"; }
int gemm_under_hypervisor(void) { return 0; }
size_t gemm_amx_packed_w_count(ptrdiff_t n, ptrdiff_t k) { (void)n; (void)k; return 0; }
size_t gemm_amx_packed_a_count(ptrdiff_t m, ptrdiff_t k) { (void)m; (void)k; return 0; }
size_t gemm_amx_scratch_count(void) { return 0; }
void gemm_amx_pack_w(const float *w, ptrdiff_t n, ptrdiff_t k, ptrdiff_t ldw, uint16_t *packed, ptrdiff_t row0,
                     ptrdiff_t row1) { (void)w; (void)n; (void)k; (void)ldw; (void)packed; (void)row0; (void)row1; }
void gemm_amx_pack_a(const float *a, ptrdiff_t m, ptrdiff_t k, ptrdiff_t lda, uint16_t *packed, ptrdiff_t row0,
                     ptrdiff_t row1) { (void)a; (void)m; (void)k; (void)lda; (void)packed; (void)row0; (void)row1; }
void gemm_amx_run(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint16_t *a, const uint16_t *w, int accumulate,
                  float *c, ptrdiff_t ldc, ptrdiff_t col0, ptrdiff_t col1, float *scratch) {
    (void)m; (void)n; (void)k; (void)a; (void)w; (void)accumulate; (void)c; (void)ldc; (void)col0; (void)col1;
    (void)scratch;
}

#endif
