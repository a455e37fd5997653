// The AVX-512 transforms of winograd.c: 16 tiles of one tile row per vector. A chunk's tiles may
// span tile rows, so each vector covers a run of up to 16 tiles within one row; masked loads and
// stores keep every access inside the padded plane (reads) and the image (writes).
#include "ckernels.h"
#include "internal.h"
#include "winograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

// The first n lanes (none for n <= 0).
static inline __mmask16 first_lanes(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

// ---- F(2x2, 3x3) ------------------------------------------------------------------------------

// Columns 2i .. 2i + 3 of a row, for up to 16 tiles: the even and odd elements of the row at offsets
// 0 and 2, split by two permutes each (masked loads touch nothing past the last tile's window).
TGT512 static void input_f2(const zk_wg_ctx *a, int n0, int nt, float *v) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int wp = a->width + 2, rows = a->height + 2, tp = a->tp, in = a->in;
    size_t plane = zk_conv_plane(a->height, a->width), step = (size_t)in * tp;
    for (int s = 0; s < nt;) {
        int n = n0 + s, ty = n / a->tw, tx = n - ty * a->tw;
        int k = a->tw - tx < nt - s ? a->tw - tx : nt - s;
        if (k > 16) k = 16;
        __mmask16 mlo = first_lanes(2 * k), mhi = first_lanes(2 * k - 16), mk = first_lanes(k);
        int live = rows - 2 * ty < 4 ? rows - 2 * ty : 4;     // 3 at the bottom of an odd height
        // (the last column, at most padded column W + 2, is the next row's zero border or the slack)
        const float *x0 = a->xp + (size_t)(2 * ty) * wp + 2 * tx;
        for (int c = 0; c < in; c++) {
            const float *xc = x0 + (size_t)c * plane;
            // The window two channels ahead: the planes are far apart, one DRAM stream per row.
            if (c + 2 < in)
                for (int r = 0; r < live; r++) _mm_prefetch((const char *)(xc + 2 * plane + r * wp), _MM_HINT_T0);
            __m512 d[4][4];
            for (int r = 0; r < 4; r++) {
                if (r < live) {
                    const float *rp = xc + (size_t)r * wp;
                    __m512 l0 = _mm512_maskz_loadu_ps(mlo, rp), h0 = _mm512_maskz_loadu_ps(mhi, rp + 16);
                    __m512 l2 = _mm512_maskz_loadu_ps(mlo, rp + 2), h2 = _mm512_maskz_loadu_ps(mhi, rp + 18);
                    d[r][0] = _mm512_permutex2var_ps(l0, even, h0); d[r][1] = _mm512_permutex2var_ps(l0, odd, h0);
                    d[r][2] = _mm512_permutex2var_ps(l2, even, h2); d[r][3] = _mm512_permutex2var_ps(l2, odd, h2);
                } else for (int q = 0; q < 4; q++) d[r][q] = _mm512_setzero_ps();
            }
            for (int q = 0; q < 4; q++) {            // B^T d, in place: rows 0..3 of column q
                __m512 r0 = _mm512_sub_ps(d[0][q], d[2][q]), r1 = _mm512_add_ps(d[1][q], d[2][q]);
                __m512 r2 = _mm512_sub_ps(d[2][q], d[1][q]), r3 = _mm512_sub_ps(d[1][q], d[3][q]);
                d[0][q] = r0; d[1][q] = r1; d[2][q] = r2; d[3][q] = r3;
            }
            float *vc = v + (size_t)c * tp + s;
            for (int r = 0; r < 4; r++) {            // (B^T d) B
                float *vr = vc + (size_t)(r * 4) * step;
                _mm512_mask_storeu_ps(vr, mk, _mm512_sub_ps(d[r][0], d[r][2]));
                _mm512_mask_storeu_ps(vr + step, mk, _mm512_add_ps(d[r][1], d[r][2]));
                _mm512_mask_storeu_ps(vr + 2 * step, mk, _mm512_sub_ps(d[r][2], d[r][1]));
                _mm512_mask_storeu_ps(vr + 3 * step, mk, _mm512_sub_ps(d[r][1], d[r][3]));
            }
        }
        s += k;
    }
}

// A^T M A for 16 tiles at a time into yb (rows y00, y01, y10, y11), then per run of tiles in one
// tile row: interleave the two columns of each output row and store with bias and skip.
TGT512 static void output_f2(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    int tp = a->tp, w = a->width, h = a->height, jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8;
    size_t hw = (size_t)h * w, pstep = (size_t)8 * tp;
    float yb[4][32] __attribute__((aligned(64)));
    memset(yb, 0, sizeof yb);                      // lanes 16..31: only read by shifted loads, never stored
    for (int j = 0; j < jn; j++) {
        int o = b * 8 + j;
        __m512 bias = _mm512_set1_ps(a->bias ? a->bias[o] : 0);
        float *yo = a->y + (size_t)o * hw;
        const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
        for (int v0 = 0; v0 < nt; v0 += 16) {
            const float *mj = m + (size_t)j * tp + v0;
            __m512 s0[4], s1[4];
            for (int q = 0; q < 4; q++) {            // A^T M
                __m512 m0 = _mm512_loadu_ps(mj + q * pstep), m1 = _mm512_loadu_ps(mj + (4 + q) * pstep);
                __m512 m2 = _mm512_loadu_ps(mj + (8 + q) * pstep), m3 = _mm512_loadu_ps(mj + (12 + q) * pstep);
                s0[q] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                s1[q] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            _mm512_store_ps(yb[0], _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]), bias));
            _mm512_store_ps(yb[1], _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]), bias));
            _mm512_store_ps(yb[2], _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]), bias));
            _mm512_store_ps(yb[3], _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]), bias));
            int cnt = nt - v0 < 16 ? nt - v0 : 16;
            for (int s = 0; s < cnt;) {
                int n = n0 + v0 + s, ty = n / a->tw, tx = n - ty * a->tw;
                int k = a->tw - tx < cnt - s ? a->tw - tx : cnt - s;
                int cols = 2 * k < w - 2 * tx ? 2 * k : w - 2 * tx;
                __mmask16 mlo = first_lanes(cols), mhi = first_lanes(cols - 16);
                for (int dy = 0; dy < 2 && 2 * ty + dy < h; dy++) {
                    __m512 e = _mm512_loadu_ps(yb[2 * dy] + s), f = _mm512_loadu_ps(yb[2 * dy + 1] + s);
                    __m512 rlo = _mm512_permutex2var_ps(e, lo, f), rhi = _mm512_permutex2var_ps(e, hi, f);
                    size_t at = (size_t)(2 * ty + dy) * w + 2 * tx;
                    if (so) {
                        rlo = _mm512_add_ps(rlo, _mm512_maskz_loadu_ps(mlo, so + at));
                        rhi = _mm512_add_ps(rhi, _mm512_maskz_loadu_ps(mhi, so + at + 16));
                    }
                    _mm512_mask_storeu_ps(yo + at, mlo, rlo);
                    _mm512_mask_storeu_ps(yo + at + 16, mhi, rhi);
                }
                s += k;
            }
        }
    }
}

// ---- F(4x4, 3x3) ------------------------------------------------------------------------------

// B^T (and B, applied to a row) on one 6-vector, for points 0, +-1, +-2, infinity.
TGT512 static inline void bt6(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 d4, __m512 d5, __m512 *v) {
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4), five = _mm512_set1_ps(5);
    __m512 a = _mm512_sub_ps(d4, d2), b = _mm512_sub_ps(d1, d3);
    v[0] = _mm512_fmadd_ps(four, d0, _mm512_fnmadd_ps(five, d2, d4));          // 4 d0 - 5 d2 + d4
    v[1] = _mm512_fnmadd_ps(four, _mm512_add_ps(d1, d2), _mm512_add_ps(d3, d4)); // d3 + d4 - 4 (d1 + d2)
    v[2] = _mm512_fnmadd_ps(four, _mm512_sub_ps(d2, d1), _mm512_sub_ps(d4, d3)); // d4 - d3 - 4 (d2 - d1)
    v[3] = _mm512_fnmadd_ps(two, b, a);                                          // d4 - d2 - 2 (d1 - d3)
    v[4] = _mm512_fmadd_ps(two, b, a);                                           // d4 - d2 + 2 (d1 - d3)
    v[5] = _mm512_fmadd_ps(four, d1, _mm512_fnmadd_ps(five, d3, d5));          // 4 d1 - 5 d3 + d5
}

// A^T on one 6-vector.
TGT512 static inline void at6(__m512 m0, __m512 m1, __m512 m2, __m512 m3, __m512 m4, __m512 m5, __m512 *y) {
    __m512 s12 = _mm512_add_ps(m1, m2), d12 = _mm512_sub_ps(m1, m2);
    __m512 s34 = _mm512_add_ps(m3, m4), d34 = _mm512_sub_ps(m3, m4);
    y[0] = _mm512_add_ps(_mm512_add_ps(m0, s12), s34);
    y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2), d34, d12);
    y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4), s34, s12);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8), d34, d12), m5);
}

// Column j (0..3) of 16 tiles is element 4i + j of the row: two permutes over 32 elements each, one
// blend; columns 4 and 5 are columns 0 and 1 shifted by a tile, with the row's elements 64 and 65.
TGT512 static void input_f4(const zk_wg_ctx *a, int n0, int nt, float *v) {
    __m512i idx[4];
    for (int j = 0; j < 4; j++)
        idx[j] = _mm512_setr_epi32(j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j, 24 + j, 28 + j,
                                   j, 4 + j, 8 + j, 12 + j, 16 + j, 20 + j, 24 + j, 28 + j);
    int wp = a->width + 2, rows = a->height + 2, tp = a->tp, in = a->in;
    size_t plane = zk_conv_plane(a->height, a->width), step = (size_t)in * tp;
    for (int s = 0; s < nt;) {
        int n = n0 + s, ty = n / a->tw, tx = n - ty * a->tw;
        int k = a->tw - tx < nt - s ? a->tw - tx : nt - s;
        if (k > 16) k = 16;
        // Elements of the row the run reads, cut at the padded row's end: past it are the next row's
        // pixels, which only feed dropped outputs but would add their rounding to the kept ones.
        int lim = 4 * k + 2 < wp - 4 * tx ? 4 * k + 2 : wp - 4 * tx;
        __mmask16 mq[5], mk = first_lanes(k);
        for (int q = 0; q < 5; q++) mq[q] = first_lanes(lim - 16 * q);
        int live = rows - 4 * ty < 6 ? rows - 4 * ty : 6;
        const float *x0 = a->xp + (size_t)(4 * ty) * wp + 4 * tx;
        for (int c = 0; c < in; c++) {
            const float *xc = x0 + (size_t)c * plane;
            if (c + 2 < in)       // the window two channels ahead: one DRAM stream per row
                for (int r = 0; r < live; r++)
                    for (int e = 0; e < lim; e += 16) _mm_prefetch((const char *)(xc + 2 * plane + r * wp + e), _MM_HINT_T0);
            __m512 d[6][6];
            for (int r = 0; r < 6; r++) {
                if (r >= live) { for (int q = 0; q < 6; q++) d[r][q] = _mm512_setzero_ps(); continue; }
                const float *rp = xc + (size_t)r * wp;
                __m512 l0 = _mm512_maskz_loadu_ps(mq[0], rp), l1 = _mm512_maskz_loadu_ps(mq[1], rp + 16);
                __m512 l2 = _mm512_maskz_loadu_ps(mq[2], rp + 32), l3 = _mm512_maskz_loadu_ps(mq[3], rp + 48);
                __m512i l4 = _mm512_castps_si512(_mm512_maskz_loadu_ps(mq[4], rp + 64));
                for (int j = 0; j < 4; j++)
                    d[r][j] = _mm512_mask_blend_ps(0xff00, _mm512_permutex2var_ps(l0, idx[j], l1),
                                                   _mm512_permutex2var_ps(l2, idx[j], l3));
                d[r][4] = _mm512_castsi512_ps(_mm512_alignr_epi32(l4, _mm512_castps_si512(d[r][0]), 1));
                d[r][5] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_alignr_epi32(l4, l4, 1), _mm512_castps_si512(d[r][1]), 1));
            }
            for (int q = 0; q < 6; q++) {            // B^T d, column q
                __m512 t[6];
                bt6(d[0][q], d[1][q], d[2][q], d[3][q], d[4][q], d[5][q], t);
                for (int r = 0; r < 6; r++) d[r][q] = t[r];
            }
            float *vc = v + (size_t)c * tp + s;
            for (int r = 0; r < 6; r++) {            // (B^T d) B, row r
                __m512 t[6];
                bt6(d[r][0], d[r][1], d[r][2], d[r][3], d[r][4], d[r][5], t);
                for (int q = 0; q < 6; q++) _mm512_mask_storeu_ps(vc + (size_t)(r * 6 + q) * step, mk, t[q]);
            }
        }
        s += k;
    }
}

// A^T M A for 16 tiles into yb [4 rows x 4 columns][32], then per run of tiles in one tile row:
// each output row is the 4 column vectors interleaved (pairs of floats, then pairs of pairs).
TGT512 static void output_f4(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i lo2 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), hi2 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    int tp = a->tp, w = a->width, h = a->height, jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8;
    size_t hw = (size_t)h * w, pstep = (size_t)8 * tp;
    float yb[16][32] __attribute__((aligned(64)));
    memset(yb, 0, sizeof yb);                      // lanes 16..31: only read by shifted loads, never stored
    for (int j = 0; j < jn; j++) {
        int o = b * 8 + j;
        __m512 bias = _mm512_set1_ps(a->bias ? a->bias[o] : 0);
        float *yo = a->y + (size_t)o * hw;
        const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
        for (int v0 = 0; v0 < nt; v0 += 16) {
            const float *mj = m + (size_t)j * tp + v0;
            __m512 t[4][6];
            for (int q = 0; q < 6; q++) {            // A^T M, column q
                __m512 y[4];
                at6(_mm512_loadu_ps(mj + (size_t)q * pstep), _mm512_loadu_ps(mj + (size_t)(6 + q) * pstep),
                    _mm512_loadu_ps(mj + (size_t)(12 + q) * pstep), _mm512_loadu_ps(mj + (size_t)(18 + q) * pstep),
                    _mm512_loadu_ps(mj + (size_t)(24 + q) * pstep), _mm512_loadu_ps(mj + (size_t)(30 + q) * pstep), y);
                for (int r = 0; r < 4; r++) t[r][q] = y[r];
            }
            for (int r = 0; r < 4; r++) {            // (A^T M) A, row r
                __m512 y[4];
                at6(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], y);
                for (int q = 0; q < 4; q++) _mm512_store_ps(yb[r * 4 + q], _mm512_add_ps(y[q], bias));
            }
            int cnt = nt - v0 < 16 ? nt - v0 : 16;
            for (int s = 0; s < cnt;) {
                int n = n0 + v0 + s, ty = n / a->tw, tx = n - ty * a->tw;
                int k = a->tw - tx < cnt - s ? a->tw - tx : cnt - s;
                int cols = 4 * k < w - 4 * tx ? 4 * k : w - 4 * tx;
                __mmask16 mq[4];
                for (int q = 0; q < 4; q++) mq[q] = first_lanes(cols - 16 * q);
                for (int dy = 0; dy < 4 && 4 * ty + dy < h; dy++) {
                    const float *row = yb[dy * 4];
                    __m512 e0 = _mm512_loadu_ps(row + s), e1 = _mm512_loadu_ps(row + 32 + s);
                    __m512 e2 = _mm512_loadu_ps(row + 64 + s), e3 = _mm512_loadu_ps(row + 96 + s);
                    __m512d p01l = _mm512_castps_pd(_mm512_permutex2var_ps(e0, lo, e1));
                    __m512d p01h = _mm512_castps_pd(_mm512_permutex2var_ps(e0, hi, e1));
                    __m512d p23l = _mm512_castps_pd(_mm512_permutex2var_ps(e2, lo, e3));
                    __m512d p23h = _mm512_castps_pd(_mm512_permutex2var_ps(e2, hi, e3));
                    __m512 out[4] = { _mm512_castpd_ps(_mm512_permutex2var_pd(p01l, lo2, p23l)),
                                      _mm512_castpd_ps(_mm512_permutex2var_pd(p01l, hi2, p23l)),
                                      _mm512_castpd_ps(_mm512_permutex2var_pd(p01h, lo2, p23h)),
                                      _mm512_castpd_ps(_mm512_permutex2var_pd(p01h, hi2, p23h)) };
                    size_t at = (size_t)(4 * ty + dy) * w + 4 * tx;
                    for (int q = 0; q < 4; q++) {
                        if (!mq[q]) break;
                        __m512 r = so ? _mm512_add_ps(out[q], _mm512_maskz_loadu_ps(mq[q], so + at + 16 * q)) : out[q];
                        _mm512_mask_storeu_ps(yo + at + 16 * q, mq[q], r);
                    }
                }
                s += k;
            }
        }
    }
}

void zk_wg_input_avx512(const zk_wg_ctx *a, int n0, int nt, float *v) {
    if (a->m == 2) input_f2(a, n0, nt, v); else input_f4(a, n0, nt, v);
}

void zk_wg_output_avx512(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    if (a->m == 2) output_f2(a, n0, nt, b, m); else output_f4(a, n0, nt, b, m);
}

#else
// Never called: the dispatch level is AVX-512 only on x86-64.
void zk_wg_input_avx512(const zk_wg_ctx *a, int n0, int nt, float *v) { (void)a; (void)n0; (void)nt; (void)v; abort(); }
void zk_wg_output_avx512(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    (void)a; (void)n0; (void)nt; (void)b; (void)m; abort();
}
#endif
