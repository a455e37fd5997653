// The AVX-512 pieces of the Winograd transforms (winograd_body.h): 16 tiles of one tile row per
// zmm vector. Masked loads and stores keep every access inside the padded plane (reads) and the
// image (writes).
#include "ckernels.h"
#include "internal.h"
#include "winograd.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define WTGT __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define WSFX avx512
#define WV __m512
#define WL 16
#define WADD _mm512_add_ps
#define WSUB _mm512_sub_ps
#define WFMADD _mm512_fmadd_ps
#define WFNMADD _mm512_fnmadd_ps
#define WSET1 _mm512_set1_ps
#define WZERO _mm512_setzero_ps
#define WLOADU _mm512_loadu_ps
#define WSTOREA _mm512_store_ps

// The first n lanes (none for n <= 0).
static inline __mmask16 first_lanes(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

// Load masks of a run of k tiles (lo/hi: the row's first and second 16 elements, q: F(4x4)'s five
// blocks of 16) and the store mask of its k lanes.
typedef struct { __mmask16 lo, hi, q[5], k; } wg_run;

// F(2x2): a run reads 2k elements at offsets 0 and 2 (the last one, at most padded column W + 2, is
// the next row's zero border or the slack).
static inline wg_run f2_run(int k) {
    wg_run r = { .lo = first_lanes(2 * k), .hi = first_lanes(2 * k - 16), .k = first_lanes(k) };
    return r;
}

// F(4x4): the lim elements the run reads (cut at the padded row's end).
static inline wg_run f4_run(int k, int lim) {
    wg_run r = { .k = first_lanes(k) };
    for (int q = 0; q < 5; q++) r.q[q] = first_lanes(lim - 16 * q);
    return r;
}

// Columns 2i .. 2i + 3 of the row: its even and odd elements at offsets 0 and 2, two permutes each.
WTGT static inline void f2_load_row(const wg_run *run, const float *rp, __m512 *d) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 l0 = _mm512_maskz_loadu_ps(run->lo, rp), h0 = _mm512_maskz_loadu_ps(run->hi, rp + 16);
    __m512 l2 = _mm512_maskz_loadu_ps(run->lo, rp + 2), h2 = _mm512_maskz_loadu_ps(run->hi, rp + 18);
    d[0] = _mm512_permutex2var_ps(l0, even, h0); d[1] = _mm512_permutex2var_ps(l0, odd, h0);
    d[2] = _mm512_permutex2var_ps(l2, even, h2); d[3] = _mm512_permutex2var_ps(l2, odd, h2);
}

// Column j (0..3) of 16 tiles is element 4i + j of the row: two permutes over 32 elements each, one
// blend; columns 4 and 5 are columns 0 and 1 shifted by a tile, with the row's elements 64 and 65.
WTGT static inline void f4_load_row(const wg_run *run, const float *rp, __m512 *d) {
    __m512 l0 = _mm512_maskz_loadu_ps(run->q[0], rp), l1 = _mm512_maskz_loadu_ps(run->q[1], rp + 16);
    __m512 l2 = _mm512_maskz_loadu_ps(run->q[2], rp + 32), l3 = _mm512_maskz_loadu_ps(run->q[3], rp + 48);
    __m512i l4 = _mm512_castps_si512(_mm512_maskz_loadu_ps(run->q[4], rp + 64));
    for (int j = 0; j < 4; j++) {
        __m512i idx = _mm512_setr_epi32(j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j, 24 + j, 28 + j,
                                        j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j, 24 + j, 28 + j);
        d[j] = _mm512_mask_blend_ps(0xff00, _mm512_permutex2var_ps(l0, idx, l1), _mm512_permutex2var_ps(l2, idx, l3));
    }
    d[4] = _mm512_castsi512_ps(_mm512_alignr_epi32(l4, _mm512_castps_si512(d[0]), 1));
    d[5] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_alignr_epi32(l4, l4, 1), _mm512_castps_si512(d[1]), 1));
}

WTGT static inline void store_run(const wg_run *run, float *p, __m512 v) { _mm512_mask_storeu_ps(p, run->k, v); }

// y[at ..< at + cols] = v (+ skip) for the 16 columns from 16 q on, masked to the image.
WTGT static inline void store_block(float *yo, const float *so, size_t at, int cols, int q, __m512 v) {
    __mmask16 mq = first_lanes(cols - 16 * q);
    if (!mq) return;
    if (so) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mq, so + at + 16 * q));
    _mm512_mask_storeu_ps(yo + at + 16 * q, mq, v);
}

// An output row of F(2x2) tiles: columns e (left) and f (right) interleaved.
WTGT static inline void f2_store_row(float *yo, const float *so, size_t at, int cols, const float *e, const float *f) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __m512 ev = _mm512_loadu_ps(e), fv = _mm512_loadu_ps(f);
    store_block(yo, so, at, cols, 0, _mm512_permutex2var_ps(ev, lo, fv));
    store_block(yo, so, at, cols, 1, _mm512_permutex2var_ps(ev, hi, fv));
}

// An output row of F(4x4) tiles: the 4 column vectors (row + 32 q + s) interleaved as pairs of
// floats, then pairs of pairs.
WTGT static inline void f4_store_row(float *yo, const float *so, size_t at, int cols, const float *row, int s) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i lo2 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), hi2 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    __m512 e0 = _mm512_loadu_ps(row + s), e1 = _mm512_loadu_ps(row + 32 + s);
    __m512 e2 = _mm512_loadu_ps(row + 64 + s), e3 = _mm512_loadu_ps(row + 96 + s);
    __m512d p01l = _mm512_castps_pd(_mm512_permutex2var_ps(e0, lo, e1));
    __m512d p01h = _mm512_castps_pd(_mm512_permutex2var_ps(e0, hi, e1));
    __m512d p23l = _mm512_castps_pd(_mm512_permutex2var_ps(e2, lo, e3));
    __m512d p23h = _mm512_castps_pd(_mm512_permutex2var_ps(e2, hi, e3));
    store_block(yo, so, at, cols, 0, _mm512_castpd_ps(_mm512_permutex2var_pd(p01l, lo2, p23l)));
    store_block(yo, so, at, cols, 1, _mm512_castpd_ps(_mm512_permutex2var_pd(p01l, hi2, p23l)));
    store_block(yo, so, at, cols, 2, _mm512_castpd_ps(_mm512_permutex2var_pd(p01h, lo2, p23h)));
    store_block(yo, so, at, cols, 3, _mm512_castpd_ps(_mm512_permutex2var_pd(p01h, hi2, p23h)));
}

#include "winograd_body.h"

#else
// Never called: the dispatch level is AVX-512 only on x86-64.
void zk_wg_input_avx512(const zk_wg_ctx *a, int n0, int nt, float *v) { (void)a; (void)n0; (void)nt; (void)v; abort(); }
void zk_wg_output_avx512(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    (void)a; (void)n0; (void)nt; (void)b; (void)m; abort();
}
#endif
