// The AVX2 transforms of winograd.c: 8 tiles of one tile row per vector, the structure of
// winograd_avx512.c on 256-bit registers. A chunk's tiles may span tile rows, so each vector covers
// a run of up to 8 tiles within one row. AVX2 has no cheap masked loads: rows are read with plain
// loads (the zk_conv_plane slack keeps them inside the plane) and cut with an AND mask where the
// window passes the padded row's end; stores of V and y are masked to the run.
#include "ckernels.h"
#include "internal.h"
#include "winograd.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT2 __attribute__((target("avx2,fma")))

// All-ones in the first n lanes (none for n <= 0).
TGT2 static inline __m256i first_lanes8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// V[pos][c][s ..< s + k] = vec (lanes 0 ..< k): a plain store for a full run (it stays inside
// the chunk's tp columns), a masked one otherwise (it would spill into the next channel's row).
TGT2 static inline void store_run(float *p, int k, __m256i mk, __m256 v) {
    if (k == 8) _mm256_storeu_ps(p, v); else _mm256_maskstore_ps(p, mk, v);
}

// ---- F(2x2, 3x3) ------------------------------------------------------------------------------

// Columns 2i .. 2i + 3 of a row for 8 tiles: the even and odd elements of the row at offsets 0 and
// 2 (shufps picks them per 128-bit lane, vpermpd puts the lanes in tile order). Reads stop at most
// at padded column W + 2: the next row's zero border or the slack, so no cut is needed.
TGT2 static void input_f2(const zk_wg_ctx *a, int n0, int nt, float *v) {
    int wp = a->width + 2, rows = a->height + 2, tp = a->tp, in = a->in;
    size_t plane = zk_conv_plane(a->height, a->width), step = (size_t)in * tp;
    for (int s = 0; s < nt;) {
        int n = n0 + s, ty = n / a->tw, tx = n - ty * a->tw;
        int k = a->tw - tx < nt - s ? a->tw - tx : nt - s;
        if (k > 8) k = 8;
        __m256i mk = first_lanes8(k);
        int live = rows - 2 * ty < 4 ? rows - 2 * ty : 4;     // 3 at the bottom of an odd height
        const float *x0 = a->xp + (size_t)(2 * ty) * wp + 2 * tx;
        for (int c = 0; c < in; c++) {
            const float *xc = x0 + (size_t)c * plane;
            if (c + 2 < in)       // the window two channels ahead: the planes are far apart
                for (int r = 0; r < live; r++) _mm_prefetch((const char *)(xc + 2 * plane + r * wp), _MM_HINT_T0);
            __m256 d[4][4];
            for (int r = 0; r < 4; r++) {
                if (r < live) {
                    const float *rp = xc + (size_t)r * wp;
                    __m256 l0 = _mm256_loadu_ps(rp), h0 = _mm256_loadu_ps(rp + 8);
                    __m256 l2 = _mm256_loadu_ps(rp + 2), h2 = _mm256_loadu_ps(rp + 10);
                    d[r][0] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l0, h0, 0x88)), 0xd8));
                    d[r][1] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l0, h0, 0xdd)), 0xd8));
                    d[r][2] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l2, h2, 0x88)), 0xd8));
                    d[r][3] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(l2, h2, 0xdd)), 0xd8));
                } else for (int q = 0; q < 4; q++) d[r][q] = _mm256_setzero_ps();
            }
            for (int q = 0; q < 4; q++) {            // B^T d, in place: rows 0..3 of column q
                __m256 r0 = _mm256_sub_ps(d[0][q], d[2][q]), r1 = _mm256_add_ps(d[1][q], d[2][q]);
                __m256 r2 = _mm256_sub_ps(d[2][q], d[1][q]), r3 = _mm256_sub_ps(d[1][q], d[3][q]);
                d[0][q] = r0; d[1][q] = r1; d[2][q] = r2; d[3][q] = r3;
            }
            float *vc = v + (size_t)c * tp + s;
            for (int r = 0; r < 4; r++) {            // (B^T d) B
                float *vr = vc + (size_t)(r * 4) * step;
                store_run(vr, k, mk, _mm256_sub_ps(d[r][0], d[r][2]));
                store_run(vr + step, k, mk, _mm256_add_ps(d[r][1], d[r][2]));
                store_run(vr + 2 * step, k, mk, _mm256_sub_ps(d[r][2], d[r][1]));
                store_run(vr + 3 * step, k, mk, _mm256_sub_ps(d[r][1], d[r][3]));
            }
        }
        s += k;
    }
}

// y[at ..< at + cols] = r (+ skip), cols <= 8.
TGT2 static inline void store_cols(float *yo, const float *so, size_t at, int cols, __m256 r) {
    if (cols >= 8) {
        if (so) r = _mm256_add_ps(r, _mm256_loadu_ps(so + at));
        _mm256_storeu_ps(yo + at, r);
    } else if (cols > 0) {
        __m256i m = first_lanes8(cols);
        if (so) r = _mm256_add_ps(r, _mm256_maskload_ps(so + at, m));
        _mm256_maskstore_ps(yo + at, m, r);
    }
}

// A^T M A for 8 tiles at a time into yb (rows y00, y01, y10, y11), then per run of tiles in one
// tile row: interleave the two columns of each output row and store with bias and skip.
TGT2 static void output_f2(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    int tp = a->tp, w = a->width, h = a->height, jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8;
    size_t hw = (size_t)h * w, pstep = (size_t)8 * tp;
    float yb[4][16] __attribute__((aligned(32)));
    memset(yb, 0, sizeof yb);                      // lanes 8..15: only read by shifted loads, never stored
    for (int j = 0; j < jn; j++) {
        int o = b * 8 + j;
        __m256 bias = _mm256_set1_ps(a->bias ? a->bias[o] : 0);
        float *yo = a->y + (size_t)o * hw;
        const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
        for (int v0 = 0; v0 < nt; v0 += 8) {
            const float *mj = m + (size_t)j * tp + v0;
            __m256 s0[4], s1[4];
            for (int q = 0; q < 4; q++) {            // A^T M
                __m256 m0 = _mm256_loadu_ps(mj + q * pstep), m1 = _mm256_loadu_ps(mj + (4 + q) * pstep);
                __m256 m2 = _mm256_loadu_ps(mj + (8 + q) * pstep), m3 = _mm256_loadu_ps(mj + (12 + q) * pstep);
                s0[q] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                s1[q] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
            }
            _mm256_store_ps(yb[0], _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]), bias));
            _mm256_store_ps(yb[1], _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]), bias));
            _mm256_store_ps(yb[2], _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]), bias));
            _mm256_store_ps(yb[3], _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]), bias));
            int cnt = nt - v0 < 8 ? nt - v0 : 8;
            for (int s = 0; s < cnt;) {
                int n = n0 + v0 + s, ty = n / a->tw, tx = n - ty * a->tw;
                int k = a->tw - tx < cnt - s ? a->tw - tx : cnt - s;
                int cols = 2 * k < w - 2 * tx ? 2 * k : w - 2 * tx;
                for (int dy = 0; dy < 2 && 2 * ty + dy < h; dy++) {
                    __m256 e = _mm256_loadu_ps(yb[2 * dy] + s), f = _mm256_loadu_ps(yb[2 * dy + 1] + s);
                    __m256 ul = _mm256_unpacklo_ps(e, f), uh = _mm256_unpackhi_ps(e, f);
                    size_t at = (size_t)(2 * ty + dy) * w + 2 * tx;
                    store_cols(yo, so, at, cols, _mm256_permute2f128_ps(ul, uh, 0x20));
                    store_cols(yo, so, at + 8, cols - 8, _mm256_permute2f128_ps(ul, uh, 0x31));
                }
                s += k;
            }
        }
    }
}

// ---- F(4x4, 3x3) ------------------------------------------------------------------------------

// B^T (and B, applied to a row) on one 6-vector, for points 0, +-1, +-2, infinity.
TGT2 static inline void bt6(__m256 d0, __m256 d1, __m256 d2, __m256 d3, __m256 d4, __m256 d5, __m256 *v) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), five = _mm256_set1_ps(5);
    __m256 a = _mm256_sub_ps(d4, d2), b = _mm256_sub_ps(d1, d3);
    v[0] = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));          // 4 d0 - 5 d2 + d4
    v[1] = _mm256_fnmadd_ps(four, _mm256_add_ps(d1, d2), _mm256_add_ps(d3, d4)); // d3 + d4 - 4 (d1 + d2)
    v[2] = _mm256_fnmadd_ps(four, _mm256_sub_ps(d2, d1), _mm256_sub_ps(d4, d3)); // d4 - d3 - 4 (d2 - d1)
    v[3] = _mm256_fnmadd_ps(two, b, a);                                          // d4 - d2 - 2 (d1 - d3)
    v[4] = _mm256_fmadd_ps(two, b, a);                                           // d4 - d2 + 2 (d1 - d3)
    v[5] = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));          // 4 d1 - 5 d3 + d5
}

// A^T on one 6-vector.
TGT2 static inline void at6(__m256 m0, __m256 m1, __m256 m2, __m256 m3, __m256 m4, __m256 m5, __m256 *y) {
    __m256 s12 = _mm256_add_ps(m1, m2), d12 = _mm256_sub_ps(m1, m2);
    __m256 s34 = _mm256_add_ps(m3, m4), d34 = _mm256_sub_ps(m3, m4);
    y[0] = _mm256_add_ps(_mm256_add_ps(m0, s12), s34);
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2), d34, d12);
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4), s34, s12);
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8), d34, d12), m5);
}

// Column j (0..3) of 8 tiles is element 4i + j of the row: an 8 x 4 transpose of the row's first
// 32 elements (vperm2f128 pairs tiles i and i + 4 in one register, then the 4 x 4 transpose per
// 128-bit lane); columns 4 and 5 are columns 0 and 1 shifted by a tile, with elements 32 and 33.
TGT2 static void input_f4(const zk_wg_ctx *a, int n0, int nt, float *v) {
    const __m256i up1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int wp = a->width + 2, rows = a->height + 2, tp = a->tp, in = a->in;
    size_t plane = zk_conv_plane(a->height, a->width), step = (size_t)in * tp;
    for (int s = 0; s < nt;) {
        int n = n0 + s, ty = n / a->tw, tx = n - ty * a->tw;
        int k = a->tw - tx < nt - s ? a->tw - tx : nt - s;
        if (k > 8) k = 8;
        __m256i mk = first_lanes8(k);
        // Elements of the row the run reads, cut at the padded row's end: past it are the next row's
        // pixels, which only feed dropped outputs but would add their rounding to the kept ones.
        int lim = 4 * k + 2 < wp - 4 * tx ? 4 * k + 2 : wp - 4 * tx;
        __m256 cut[4];
        for (int q = 0; q < 4; q++)
            cut[q] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(lim - 8 * q), iota));
        int full = lim >= 32, live = rows - 4 * ty < 6 ? rows - 4 * ty : 6;
        const float *x0 = a->xp + (size_t)(4 * ty) * wp + 4 * tx;
        for (int c = 0; c < in; c++) {
            const float *xc = x0 + (size_t)c * plane;
            if (c + 2 < in)       // the window two channels ahead: one DRAM stream per row
                for (int r = 0; r < live; r++)
                    for (int e = 0; e < lim; e += 16) _mm_prefetch((const char *)(xc + 2 * plane + r * wp + e), _MM_HINT_T0);
            __m256 d[6][6];
            for (int r = 0; r < 6; r++) {
                if (r >= live) { for (int q = 0; q < 6; q++) d[r][q] = _mm256_setzero_ps(); continue; }
                const float *rp = xc + (size_t)r * wp;
                __m256 l[4];
                for (int q = 0; q < 4; q++) {
                    l[q] = _mm256_loadu_ps(rp + 8 * q);
                    if (!full) l[q] = _mm256_and_ps(l[q], cut[q]);
                }
                float e32 = lim > 32 ? rp[32] : 0, e33 = lim > 33 ? rp[33] : 0;
                __m256 p0 = _mm256_permute2f128_ps(l[0], l[2], 0x20), p1 = _mm256_permute2f128_ps(l[0], l[2], 0x31);
                __m256 p2 = _mm256_permute2f128_ps(l[1], l[3], 0x20), p3 = _mm256_permute2f128_ps(l[1], l[3], 0x31);
                // p0 = [t0 | t4], p1 = [t1 | t5], p2 = [t2 | t6], p3 = [t3 | t7]: transpose per lane.
                __m256 u0 = _mm256_unpacklo_ps(p0, p1), u1 = _mm256_unpackhi_ps(p0, p1);
                __m256 u2 = _mm256_unpacklo_ps(p2, p3), u3 = _mm256_unpackhi_ps(p2, p3);
                d[r][0] = _mm256_shuffle_ps(u0, u2, 0x44); d[r][1] = _mm256_shuffle_ps(u0, u2, 0xee);
                d[r][2] = _mm256_shuffle_ps(u1, u3, 0x44); d[r][3] = _mm256_shuffle_ps(u1, u3, 0xee);
                d[r][4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[r][0], up1), _mm256_set1_ps(e32), 0x80);
                d[r][5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[r][1], up1), _mm256_set1_ps(e33), 0x80);
            }
            for (int q = 0; q < 6; q++) {            // B^T d, column q
                __m256 t[6];
                bt6(d[0][q], d[1][q], d[2][q], d[3][q], d[4][q], d[5][q], t);
                for (int r = 0; r < 6; r++) d[r][q] = t[r];
            }
            float *vc = v + (size_t)c * tp + s;
            for (int r = 0; r < 6; r++) {            // (B^T d) B, row r
                __m256 t[6];
                bt6(d[r][0], d[r][1], d[r][2], d[r][3], d[r][4], d[r][5], t);
                for (int q = 0; q < 6; q++) store_run(vc + (size_t)(r * 6 + q) * step, k, mk, t[q]);
            }
        }
        s += k;
    }
}

// A^T M A for 8 tiles into yb [4 rows x 4 columns][16], then per run of tiles in one tile row:
// each output row is the 4 column vectors transposed (8 x 4 -> 4 x 8, tile by tile).
TGT2 static void output_f4(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    int tp = a->tp, w = a->width, h = a->height, jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8;
    size_t hw = (size_t)h * w, pstep = (size_t)8 * tp;
    float yb[16][16] __attribute__((aligned(32)));
    memset(yb, 0, sizeof yb);                      // lanes 8..15: only read by shifted loads, never stored
    for (int j = 0; j < jn; j++) {
        int o = b * 8 + j;
        __m256 bias = _mm256_set1_ps(a->bias ? a->bias[o] : 0);
        float *yo = a->y + (size_t)o * hw;
        const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
        for (int v0 = 0; v0 < nt; v0 += 8) {
            const float *mj = m + (size_t)j * tp + v0;
            __m256 t[4][6];
            for (int q = 0; q < 6; q++) {            // A^T M, column q
                __m256 y[4];
                at6(_mm256_loadu_ps(mj + (size_t)q * pstep), _mm256_loadu_ps(mj + (size_t)(6 + q) * pstep),
                    _mm256_loadu_ps(mj + (size_t)(12 + q) * pstep), _mm256_loadu_ps(mj + (size_t)(18 + q) * pstep),
                    _mm256_loadu_ps(mj + (size_t)(24 + q) * pstep), _mm256_loadu_ps(mj + (size_t)(30 + q) * pstep), y);
                for (int r = 0; r < 4; r++) t[r][q] = y[r];
            }
            for (int r = 0; r < 4; r++) {            // (A^T M) A, row r
                __m256 y[4];
                at6(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], y);
                for (int q = 0; q < 4; q++) _mm256_store_ps(yb[r * 4 + q], _mm256_add_ps(y[q], bias));
            }
            int cnt = nt - v0 < 8 ? nt - v0 : 8;
            for (int s = 0; s < cnt;) {
                int n = n0 + v0 + s, ty = n / a->tw, tx = n - ty * a->tw;
                int k = a->tw - tx < cnt - s ? a->tw - tx : cnt - s;
                int cols = 4 * k < w - 4 * tx ? 4 * k : w - 4 * tx;
                for (int dy = 0; dy < 4 && 4 * ty + dy < h; dy++) {
                    const float *row = yb[dy * 4];
                    __m256 e0 = _mm256_loadu_ps(row + s), e1 = _mm256_loadu_ps(row + 16 + s);
                    __m256 e2 = _mm256_loadu_ps(row + 32 + s), e3 = _mm256_loadu_ps(row + 48 + s);
                    __m256 u0 = _mm256_unpacklo_ps(e0, e1), u1 = _mm256_unpackhi_ps(e0, e1);
                    __m256 u2 = _mm256_unpacklo_ps(e2, e3), u3 = _mm256_unpackhi_ps(e2, e3);
                    // [t0 | t4], [t1 | t5], [t2 | t6], [t3 | t7], each tile's 4 columns in order
                    __m256 q0 = _mm256_shuffle_ps(u0, u2, 0x44), q1 = _mm256_shuffle_ps(u0, u2, 0xee);
                    __m256 q2 = _mm256_shuffle_ps(u1, u3, 0x44), q3 = _mm256_shuffle_ps(u1, u3, 0xee);
                    size_t at = (size_t)(4 * ty + dy) * w + 4 * tx;
                    store_cols(yo, so, at, cols, _mm256_permute2f128_ps(q0, q1, 0x20));
                    store_cols(yo, so, at + 8, cols - 8, _mm256_permute2f128_ps(q2, q3, 0x20));
                    store_cols(yo, so, at + 16, cols - 16, _mm256_permute2f128_ps(q0, q1, 0x31));
                    store_cols(yo, so, at + 24, cols - 24, _mm256_permute2f128_ps(q2, q3, 0x31));
                }
                s += k;
            }
        }
    }
}

void zk_wg_input_avx2(const zk_wg_ctx *a, int n0, int nt, float *v) {
    if (a->m == 2) input_f2(a, n0, nt, v); else input_f4(a, n0, nt, v);
}

void zk_wg_output_avx2(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    if (a->m == 2) output_f2(a, n0, nt, b, m); else output_f4(a, n0, nt, b, m);
}

#else
// Never called: the dispatch level is AVX2 only on x86-64.
void zk_wg_input_avx2(const zk_wg_ctx *a, int n0, int nt, float *v) { (void)a; (void)n0; (void)nt; (void)v; abort(); }
void zk_wg_output_avx2(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    (void)a; (void)n0; (void)nt; (void)b; (void)m; abort();
}
#endif
