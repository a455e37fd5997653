// The AVX2 pieces of the Winograd transforms (winograd_body.h): 8 tiles of one tile row per ymm
// vector. AVX2 has no cheap masked loads: rows are read with plain loads (the zk_conv_plane slack
// keeps them inside the plane) and cut with an AND mask where the window passes the padded row's
// end; stores of V and y are masked to the run.
#include "ckernels.h"
#include "internal.h"
#include "winograd.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define WTGT __attribute__((target("avx2,fma")))
#define WSFX avx2
#define WV __m256
#define WL 8
#define WADD _mm256_add_ps
#define WSUB _mm256_sub_ps
#define WFMADD _mm256_fmadd_ps
#define WFNMADD _mm256_fnmadd_ps
#define WSET1 _mm256_set1_ps
#define WZERO _mm256_setzero_ps
#define WLOADU _mm256_loadu_ps
#define WSTOREA _mm256_store_ps

// All-ones in the first n lanes (none for n <= 0).
WTGT static inline __m256i first_lanes8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// A run of k tiles: its store mask, and for F(4x4) the lim elements it reads (cut[q]: the lanes of
// elements 8q ..< 8q + 8 below lim; full: no cut needed).
typedef struct { int k, lim, full; __m256i mk; __m256 cut[4]; } wg_run;

// F(2x2): reads stop at most at padded column W + 2, the next row's zero border or the slack, so
// no cut is needed.
WTGT static inline wg_run f2_run(int k) {
    wg_run r = { .k = k, .mk = first_lanes8(k) };
    return r;
}

WTGT static inline wg_run f4_run(int k, int lim) {
    wg_run r = { .k = k, .lim = lim, .full = lim >= 32, .mk = first_lanes8(k) };
    for (int q = 0; q < 4; q++) r.cut[q] = _mm256_castsi256_ps(first_lanes8(lim - 8 * q));
    return r;
}

// Columns 2i .. 2i + 3 of the row for 8 tiles: the even and odd elements at offsets 0 and 2
// (shufps picks them per 128-bit lane, vpermpd puts the lanes in tile order).
WTGT static inline void f2_load_row(const wg_run *run, const float *rp, __m256 *d) {
    (void)run;
    __m256 l0 = _mm256_loadu_ps(rp), h0 = _mm256_loadu_ps(rp + 8);
    __m256 l2 = _mm256_loadu_ps(rp + 2), h2 = _mm256_loadu_ps(rp + 10);
    d[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l0, h0, 0x88)), 0xd8));
    d[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l0, h0, 0xdd)), 0xd8));
    d[2] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l2, h2, 0x88)), 0xd8));
    d[3] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l2, h2, 0xdd)), 0xd8));
}

// Column j (0..3) of 8 tiles is element 4i + j of the row: an 8 x 4 transpose of the row's first
// 32 elements (vperm2f128 pairs tiles i and i + 4 in one register, then the 4 x 4 transpose per
// 128-bit lane); columns 4 and 5 are columns 0 and 1 shifted by a tile, with elements 32 and 33.
WTGT static inline void f4_load_row(const wg_run *run, const float *rp, __m256 *d) {
    const __m256i up1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
    __m256 l[4];
    for (int q = 0; q < 4; q++) {
        l[q] = _mm256_loadu_ps(rp + 8 * q);
        if (!run->full) l[q] = _mm256_and_ps(l[q], run->cut[q]);
    }
    float e32 = run->lim > 32 ? rp[32] : 0, e33 = run->lim > 33 ? rp[33] : 0;
    __m256 p0 = _mm256_permute2f128_ps(l[0], l[2], 0x20), p1 = _mm256_permute2f128_ps(l[0], l[2], 0x31);
    __m256 p2 = _mm256_permute2f128_ps(l[1], l[3], 0x20), p3 = _mm256_permute2f128_ps(l[1], l[3], 0x31);
    // p0 = [t0 | t4], p1 = [t1 | t5], p2 = [t2 | t6], p3 = [t3 | t7]: transpose per lane.
    __m256 u0 = _mm256_unpacklo_ps(p0, p1), u1 = _mm256_unpackhi_ps(p0, p1);
    __m256 u2 = _mm256_unpacklo_ps(p2, p3), u3 = _mm256_unpackhi_ps(p2, p3);
    d[0] = _mm256_shuffle_ps(u0, u2, 0x44); d[1] = _mm256_shuffle_ps(u0, u2, 0xee);
    d[2] = _mm256_shuffle_ps(u1, u3, 0x44); d[3] = _mm256_shuffle_ps(u1, u3, 0xee);
    d[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], up1), _mm256_set1_ps(e32), 0x80);
    d[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], up1), _mm256_set1_ps(e33), 0x80);
}

// V[pos][c][s ..< s + k] = lanes 0 ..< k: a plain store for a full run (it stays inside the chunk's
// tp columns), a masked one otherwise (it would spill into the next channel's row).
WTGT static inline void store_run(const wg_run *run, float *p, __m256 v) {
    if (run->k == 8) _mm256_storeu_ps(p, v); else _mm256_maskstore_ps(p, run->mk, v);
}

// y[at ..< at + cols] = r (+ skip), cols <= 8.
WTGT static inline void store_cols(float *yo, const float *so, size_t at, int cols, __m256 r) {
    if (cols >= 8) {
        if (so) r = _mm256_add_ps(r, _mm256_loadu_ps(so + at));
        _mm256_storeu_ps(yo + at, r);
    } else if (cols > 0) {
        __m256i m = first_lanes8(cols);
        if (so) r = _mm256_add_ps(r, _mm256_maskload_ps(so + at, m));
        _mm256_maskstore_ps(yo + at, m, r);
    }
}

// An output row of F(2x2) tiles: columns e (left) and f (right) interleaved.
WTGT static inline void f2_store_row(float *yo, const float *so, size_t at, int cols, const float *e, const float *f) {
    __m256 ev = _mm256_loadu_ps(e), fv = _mm256_loadu_ps(f);
    __m256 ul = _mm256_unpacklo_ps(ev, fv), uh = _mm256_unpackhi_ps(ev, fv);
    store_cols(yo, so, at, cols, _mm256_permute2f128_ps(ul, uh, 0x20));
    store_cols(yo, so, at + 8, cols - 8, _mm256_permute2f128_ps(ul, uh, 0x31));
}

// An output row of F(4x4) tiles: the 4 column vectors (row + 16 q + s) transposed, 8 x 4 -> 4 x 8.
WTGT static inline void f4_store_row(float *yo, const float *so, size_t at, int cols, const float *row, int s) {
    __m256 e0 = _mm256_loadu_ps(row + s), e1 = _mm256_loadu_ps(row + 16 + s);
    __m256 e2 = _mm256_loadu_ps(row + 32 + s), e3 = _mm256_loadu_ps(row + 48 + s);
    __m256 u0 = _mm256_unpacklo_ps(e0, e1), u1 = _mm256_unpackhi_ps(e0, e1);
    __m256 u2 = _mm256_unpacklo_ps(e2, e3), u3 = _mm256_unpackhi_ps(e2, e3);
    // [t0 | t4], [t1 | t5], [t2 | t6], [t3 | t7], each tile's 4 columns in order
    __m256 q0 = _mm256_shuffle_ps(u0, u2, 0x44), q1 = _mm256_shuffle_ps(u0, u2, 0xee);
    __m256 q2 = _mm256_shuffle_ps(u1, u3, 0x44), q3 = _mm256_shuffle_ps(u1, u3, 0xee);
    store_cols(yo, so, at, cols, _mm256_permute2f128_ps(q0, q1, 0x20));
    store_cols(yo, so, at + 8, cols - 8, _mm256_permute2f128_ps(q2, q3, 0x20));
    store_cols(yo, so, at + 16, cols - 16, _mm256_permute2f128_ps(q0, q1, 0x31));
    store_cols(yo, so, at + 24, cols - 24, _mm256_permute2f128_ps(q2, q3, 0x31));
}

#include "winograd_body.h"

#else
// Never called: the dispatch level is AVX2 only on x86-64.
void zk_wg_input_avx2(const zk_wg_ctx *a, int n0, int nt, float *v) { (void)a; (void)n0; (void)nt; (void)v; abort(); }
void zk_wg_output_avx2(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    (void)a; (void)n0; (void)nt; (void)b; (void)m; abort();
}
#endif
