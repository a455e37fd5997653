// The vectorised Winograd transforms of winograd.c, written once for any vector width: included by
// winograd_avx2.c (8 tiles per ymm vector) and winograd_avx512.c (16 per zmm), which define first
//   WTGT            the target attribute,            WSFX  the suffix of the exported names,
//   WV, WL          the vector type and its lanes,
//   WADD WSUB WFMADD WFNMADD WSET1 WZERO WLOADU WSTOREA   the arithmetic, loads and aligned stores,
// and the pieces that differ by instruction set (how a row is read into tile order and how results
// are cut to the image), each static inline:
//   wg_run f2_run(int k), f4_run(int k, int lim)  what a run of k tiles needs (masks) to read a row;
//   f2_load_row(run, rp, d[4]), f4_load_row(run, rp, d[6])  a padded row -> window column j of each tile;
//   store_run(run, p, v)            V[..][s ..< s + k] = lanes 0 ..< k of v;
//   f2_store_row(yo, so, at, cols, e, f)   output row from the tiles' two columns (e, f);
//   f4_store_row(yo, so, at, cols, row, s) output row from the tiles' four columns (row + q * 2 WL + s).
//
// Tile numbering and runs: a chunk's tiles may span tile rows, so each vector covers a run of up to
// WL tiles within one tile row. All arithmetic below is in the same order for both widths, so the two
// instruction sets give bit-identical outputs.

#define WG_CAT_(a, b) a##_##b
#define WG_CAT(a, b) WG_CAT_(a, b)
// Inlined into each caller, so the tile side m is a constant there and each branch on it vanishes.
#define WG_SPECIALIZE static inline __attribute__((always_inline))

// B^T on one 4-vector (F(2x2)): points 0, +-1, infinity.
WTGT static inline void bt4(WV d0, WV d1, WV d2, WV d3, WV *v) {
    v[0] = WSUB(d0, d2); v[1] = WADD(d1, d2); v[2] = WSUB(d2, d1); v[3] = WSUB(d1, d3);
}

// A^T on one 4-vector (F(2x2)).
WTGT static inline void at4(WV m0, WV m1, WV m2, WV m3, WV *y) {
    y[0] = WADD(WADD(m0, m1), m2);
    y[1] = WSUB(WSUB(m1, m2), m3);
}

// B^T (and B, applied to a row) on one 6-vector (F(4x4)), for points 0, +-1, +-2, infinity.
WTGT static inline void bt6(WV d0, WV d1, WV d2, WV d3, WV d4, WV d5, WV *v) {
    const WV two = WSET1(2), four = WSET1(4), five = WSET1(5);
    WV a = WSUB(d4, d2), b = WSUB(d1, d3);
    v[0] = WFMADD(four, d0, WFNMADD(five, d2, d4));          // 4 d0 - 5 d2 + d4
    v[1] = WFNMADD(four, WADD(d1, d2), WADD(d3, d4));         // d3 + d4 - 4 (d1 + d2)
    v[2] = WFNMADD(four, WSUB(d2, d1), WSUB(d4, d3));         // d4 - d3 - 4 (d2 - d1)
    v[3] = WFNMADD(two, b, a);                                // d4 - d2 - 2 (d1 - d3)
    v[4] = WFMADD(two, b, a);                                 // d4 - d2 + 2 (d1 - d3)
    v[5] = WFMADD(four, d1, WFNMADD(five, d3, d5));          // 4 d1 - 5 d3 + d5
}

// A^T on one 6-vector (F(4x4)).
WTGT static inline void at6(WV m0, WV m1, WV m2, WV m3, WV m4, WV m5, WV *y) {
    WV s12 = WADD(m1, m2), d12 = WSUB(m1, m2);
    WV s34 = WADD(m3, m4), d34 = WSUB(m3, m4);
    y[0] = WADD(WADD(m0, s12), s34);
    y[1] = WFMADD(WSET1(2), d34, d12);
    y[2] = WFMADD(WSET1(4), s34, s12);
    y[3] = WADD(WFMADD(WSET1(8), d34, d12), m5);
}

// The run of tiles starting at chunk column s: tile row ty, first tile column tx, and its length k
// (to the end of the tile row, the chunk, or one vector).
#define WG_RUN(n0, s, limit, ty, tx, k)                                                     \
    int n = (n0) + (s), ty = n / a->tw, tx = n - ty * a->tw;                                \
    int k = a->tw - tx < (limit) - (s) ? a->tw - tx : (limit) - (s);                        \
    if (k > WL) k = WL

// ---- the two passes, for tile side m = 2 or 4 (a compile-time constant in each caller) ---------

// V = B^T d B for tiles n0 ..< n0 + nt: window rows m ty ..< m ty + m + 2, same columns from m tx.
WTGT WG_SPECIALIZE void input_tiles(const zk_wg_ctx *a, int n0, int nt, float *v, const int m) {
    const int side = m + 2;
    int wp = a->width + 2, rows = a->height + 2, tp = a->tp, in = a->in;
    size_t plane = zk_conv_plane(a->height, a->width), step = (size_t)in * tp;
    for (int s = 0; s < nt;) {
        WG_RUN(n0, s, nt, ty, tx, k);
        // F(4x4): the elements of the row the run reads, cut at the padded row's end: past it are the
        // next row's pixels, which only feed dropped outputs but would add their rounding to the kept
        // ones. (F(2x2) reads at most to padded column W + 2: the next row's zero border or the slack.)
        int lim = 4 * k + 2 < wp - 4 * tx ? 4 * k + 2 : wp - 4 * tx;
        wg_run run = m == 2 ? f2_run(k) : f4_run(k, lim);
        int live = rows - m * ty < side ? rows - m * ty : side;   // fewer at the bottom of the plane
        int reach = m == 2 ? 1 : lim;                             // elements of a row to prefetch
        const float *x0 = a->xp + (size_t)(m * ty) * wp + m * tx;
        for (int c = 0; c < in; c++) {
            const float *xc = x0 + (size_t)c * plane;
            // The window two channels ahead: the planes are far apart, one DRAM stream per row.
            if (c + 2 < in)
                for (int r = 0; r < live; r++)
                    for (int e = 0; e < reach; e += 16) _mm_prefetch((const char *)(xc + 2 * plane + r * wp + e), _MM_HINT_T0);
            WV d[6][6];
            for (int r = 0; r < side; r++) {
                if (r >= live) { for (int q = 0; q < side; q++) d[r][q] = WZERO(); }
                else if (m == 2) f2_load_row(&run, xc + (size_t)r * wp, d[r]);
                else f4_load_row(&run, xc + (size_t)r * wp, d[r]);
            }
            for (int q = 0; q < side; q++) {         // B^T d, column q
                WV t[6];
                if (m == 2) bt4(d[0][q], d[1][q], d[2][q], d[3][q], t);
                else bt6(d[0][q], d[1][q], d[2][q], d[3][q], d[4][q], d[5][q], t);
                for (int r = 0; r < side; r++) d[r][q] = t[r];
            }
            float *vc = v + (size_t)c * tp + s;
            for (int r = 0; r < side; r++) {         // (B^T d) B, row r
                WV t[6];
                if (m == 2) bt4(d[r][0], d[r][1], d[r][2], d[r][3], t);
                else bt6(d[r][0], d[r][1], d[r][2], d[r][3], d[r][4], d[r][5], t);
                for (int q = 0; q < side; q++) store_run(&run, vc + (size_t)(r * side + q) * step, t[q]);
            }
        }
        s += k;
    }
}

// y = A^T M A + bias for WL tiles: M [(m+2)^2 positions, pstep apart][WL] -> yb[row * m + column].
WTGT WG_SPECIALIZE void inverse_tiles(const float *mj, size_t pstep, WV bias, float yb[16][2 * WL], const int m) {
    const int side = m + 2;
    WV t[4][6];
    for (int q = 0; q < side; q++) {                 // A^T M, column q
        WV y[4];
        if (m == 2) at4(WLOADU(mj + q * pstep), WLOADU(mj + (4 + q) * pstep),
                        WLOADU(mj + (8 + q) * pstep), WLOADU(mj + (12 + q) * pstep), y);
        else at6(WLOADU(mj + (size_t)q * pstep), WLOADU(mj + (size_t)(6 + q) * pstep),
                 WLOADU(mj + (size_t)(12 + q) * pstep), WLOADU(mj + (size_t)(18 + q) * pstep),
                 WLOADU(mj + (size_t)(24 + q) * pstep), WLOADU(mj + (size_t)(30 + q) * pstep), y);
        for (int r = 0; r < m; r++) t[r][q] = y[r];
    }
    for (int r = 0; r < m; r++) {                    // (A^T M) A, row r
        WV y[4];
        if (m == 2) at4(t[r][0], t[r][1], t[r][2], t[r][3], y);
        else at6(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], y);
        for (int q = 0; q < m; q++) WSTOREA(yb[r * m + q], WADD(y[q], bias));
    }
}

// The inverse transform of M [positions][8][tp] for output channels b*8 ..< b*8 + 8, WL tiles at a
// time into yb, then per run of tiles in one tile row: each output row is the tiles' m column vectors
// interleaved, stored with bias and skip.
WTGT WG_SPECIALIZE void output_tiles(const zk_wg_ctx *a, int n0, int nt, int b, const float *mt, const int m) {
    int tp = a->tp, w = a->width, h = a->height, jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8;
    size_t hw = (size_t)h * w, pstep = (size_t)8 * tp;
    float yb[16][2 * WL] __attribute__((aligned(64)));
    memset(yb, 0, sizeof yb);                      // lanes WL..: only read by shifted loads, never stored
    for (int j = 0; j < jn; j++) {
        int o = b * 8 + j;
        WV bias = WSET1(a->bias ? a->bias[o] : 0);
        float *yo = a->y + (size_t)o * hw;
        const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
        for (int v0 = 0; v0 < nt; v0 += WL) {
            inverse_tiles(mt + (size_t)j * tp + v0, pstep, bias, yb, m);
            int cnt = nt - v0 < WL ? nt - v0 : WL;
            for (int s = 0; s < cnt;) {
                WG_RUN(n0 + v0, s, cnt, ty, tx, k);
                int cols = m * k < w - m * tx ? m * k : w - m * tx;
                for (int dy = 0; dy < m && m * ty + dy < h; dy++) {
                    size_t at = (size_t)(m * ty + dy) * w + m * tx;
                    if (m == 2) f2_store_row(yo, so, at, cols, yb[2 * dy] + s, yb[2 * dy + 1] + s);
                    else f4_store_row(yo, so, at, cols, yb[dy * 4], s);
                }
                s += k;
            }
        }
    }
}

WTGT void WG_CAT(zk_wg_input, WSFX)(const zk_wg_ctx *a, int n0, int nt, float *v) {
    if (a->m == 2) input_tiles(a, n0, nt, v, 2); else input_tiles(a, n0, nt, v, 4);
}

WTGT void WG_CAT(zk_wg_output, WSFX)(const zk_wg_ctx *a, int n0, int nt, int b, const float *m) {
    if (a->m == 2) output_tiles(a, n0, nt, b, m, 2); else output_tiles(a, n0, nt, b, m, 4);
}

#undef WG_RUN
#undef WG_SPECIALIZE
#undef WG_CAT
#undef WG_CAT_
