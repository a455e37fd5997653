// The skinny matmul micro-kernels, compiled once per instruction set by matmul.c, which defines
// SFX (name suffix), TGT (target attribute) and NQ (queries per register tile).
//
// y[q, o] = sum_k x[q, k] w[o, k]. A tile is NO = 4 weight rows by up to NQ queries, each pair
// accumulated in one vector register along k and summed horizontally at the end. The tile loop
// runs the query blocks innermost, so the 4 weight rows (<= 4 * in * 4 bytes) come from DRAM once
// and from L1/L2 for the other query blocks: every weight byte is streamed once per pass.

#define ZK_CAT_(a, b) a##_##b
#define ZK_CAT(a, b) ZK_CAT_(a, b)
#define FN(name) ZK_CAT(name, SFX)

TGT static inline float FN(hsum)(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

// Software prefetch into L2 of the next tile's rows (4 rows ahead, same column), once per cache
// line, spread evenly over the query blocks: block b of nb prefetches the lines with index % nb == b.
// (Issuing them all from the first block left DRAM idle while the later blocks computed: at 8 rows,
// 13.3 -> 10.8 ms per f32 GPT-B pass of matrix products, both threads.) The hardware prefetcher alone keeps too few lines in flight for
// one core to stream at full speed, and falls behind entirely once several query blocks make a tile
// compute-heavy. Measured single-threaded on the GPT-B matrices (ms per pass, f32 / f16):
// no prefetch 25.6 / 20.4 at 1 row, 43 / 33 at 8 rows; L1 prefetch 4 rows ahead 28 / 18 and 38 / 27;
// L2 prefetch 4 rows ahead 19.7 / 9.4 and 27 / 21 (6 or 8 rows ahead: no better).
#ifndef ZK_PF_DIST
#define ZK_PF_DIST (4 * (size_t)in * sizeof(*w))
#endif
#ifndef ZK_PF_HINT
#define ZK_PF_HINT _MM_HINT_T1
#endif
#define ZK_PF_MASK 63     // once per cache line

// WF16: weights are IEEE halves widened with F16C as they are loaded.
#define ZK_TILE(NAME, WTYPE, LOADW, SCALARW)                                                         \
TGT __attribute__((always_inline)) static inline void NAME(                                        \
    const float *restrict x, int ldx, const WTYPE *restrict w, int in, float *restrict y, int ldy,    \
    const int no, const int nq, const int qb, const int nqb) {                                                      \
    __m256 acc[4][NQ];                                                                               \
    for (int o = 0; o < no; o++) for (int q = 0; q < nq; q++) acc[o][q] = _mm256_setzero_ps();      \
    int k = 0;                                                                                       \
    for (; k + 8 <= in; k += 8) {                                                                    \
        __m256 wv[4];                                                                                \
        if ((k & (ZK_PF_MASK / sizeof(WTYPE))) == 0 && (k * sizeof(WTYPE) / 64) % nqb == qb)         \
            for (int o = 0; o < no; o++)                                                             \
                _mm_prefetch((const char *)(w + (size_t)o * in + k) + ZK_PF_DIST, ZK_PF_HINT);       \
        for (int o = 0; o < no; o++) wv[o] = LOADW(w + (size_t)o * in + k);                          \
        for (int q = 0; q < nq; q++) {                                                               \
            __m256 xv = _mm256_loadu_ps(x + (size_t)q * ldx + k);                                    \
            for (int o = 0; o < no; o++) acc[o][q] = _mm256_fmadd_ps(wv[o], xv, acc[o][q]);          \
        }                                                                                            \
    }                                                                                                \
    for (int o = 0; o < no; o++)                                                                     \
        for (int q = 0; q < nq; q++) {                                                               \
            float s = FN(hsum)(acc[o][q]);                                                           \
            for (int kk = k; kk < in; kk++)                                                          \
                s += SCALARW(w[(size_t)o * in + kk]) * x[(size_t)q * ldx + kk];                      \
            y[(size_t)q * ldy + o] = s;                                                              \
        }                                                                                            \
}

#define ZK_LOAD_F32(p) _mm256_loadu_ps(p)
#define ZK_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define ZK_ID(v) (v)
#define ZK_H2F(v) zk_half_to_float(v)

ZK_TILE(FN(tile_f32), float, ZK_LOAD_F32, ZK_ID)
ZK_TILE(FN(tile_f16), uint16_t, ZK_LOAD_F16, ZK_H2F)

// One switch per tile shape so every tile is compiled with constant bounds (all in registers).
#define ZK_CASES(TILE)                                                                               \
    switch (no * 16 + nq) {                                                                          \
    ZK_CASE_ROW(TILE, 1) ZK_CASE_ROW(TILE, 2) ZK_CASE_ROW(TILE, 3) ZK_CASE_ROW(TILE, 4)              \
    default: break;                                                                                  \
    }
#if NQ == 2
#define ZK_CASE_ROW(TILE, NO) ZK_C(TILE, NO, 1) ZK_C(TILE, NO, 2)
#elif NQ == 4
#define ZK_CASE_ROW(TILE, NO) ZK_C(TILE, NO, 1) ZK_C(TILE, NO, 2) ZK_C(TILE, NO, 3) ZK_C(TILE, NO, 4)
#endif
#define ZK_C(TILE, NO, NQV) case NO * 16 + NQV: TILE(x, in, wo, in, yo, out, NO, NQV, q / NQ, (rows + NQ - 1) / NQ); break;

TGT static void FN(range_f32)(const float *x, int rows, const float *w, int out, int in, float *y,
                              int o0, int o1) {
    for (int o = o0; o < o1; o += 4) {
        int no = o1 - o < 4 ? o1 - o : 4;
        const float *wo = w + (size_t)o * in;
        for (int q = 0; q < rows; q += NQ) {
            int nq = rows - q < NQ ? rows - q : NQ;
            const float *xq = x + (size_t)q * in;
            float *yo = y + (size_t)q * out + o;
            { const float *x = xq; ZK_CASES(FN(tile_f32)) }
        }
    }
}

// f16 weights are widened in the register tile itself, once per query block. (Widening each 4-row
// block into an f32 scratch once and running the f32 tiles over it measured slower: 26 vs 20 ms
// per GPT-B pass at 8 rows, single-threaded.)
TGT static void FN(range_f16)(const float *x, int rows, const uint16_t *w, int out, int in, float *y,
                              int o0, int o1) {
    for (int o = o0; o < o1; o += 4) {
        int no = o1 - o < 4 ? o1 - o : 4;
        const uint16_t *wo = w + (size_t)o * in;
        for (int q = 0; q < rows; q += NQ) {
            int nq = rows - q < NQ ? rows - q : NQ;
            const float *xq = x + (size_t)q * in;
            float *yo = y + (size_t)q * out + o;
            { const float *x = xq; ZK_CASES(FN(tile_f16)) }
        }
    }
}

// int8 weights (Q8_0-like): row o holds `in` int8 values and ceil(in / 32) f32 scales, one per group of 32
// along k. Each vector of 8 (AVX-512: 16) weights is sign-extended, converted and multiplied by its group's scale as it
// loads (the product q * s is the dequantized weight, rounded once, exactly as zk_dequantize_i8
// computes it), then used like an f32 vector for every query of the block. Scales are broadcast once
// per group; the scale rows are prefetched with the weight rows (one line of scales covers 512 weights).
// Prefetch 8 rows ahead: the same ~6 KB ahead as f16 at 4 rows of 768 (4 rows ahead, 3 KB, measured
// 9.7 ms per single-threaded GPT-B pass of matrix products at 1 row; 8 rows 8.9; 16 rows 8.8).
#ifndef ZK_I8_PF_ROWS
#define ZK_I8_PF_ROWS 8
#endif
#ifndef ZK_I8_PF_HINT
#define ZK_I8_PF_HINT _MM_HINT_T1
#endif
TGT __attribute__((always_inline)) static inline void FN(tile_i8)(
    const float *restrict x, int ldx, const int8_t *restrict w, const float *restrict sc, int in, int ng,
    float *restrict y, int ldy, const int no, const int nq, const int qb, const int nqb) {
    __m256 acc[4][NQ];
    for (int o = 0; o < no; o++) for (int q = 0; q < nq; q++) acc[o][q] = _mm256_setzero_ps();
    int k = 0;
    while (k + 8 <= in) {   // one group of 32 (the last may be shorter) per turn
        const int g = k >> 5;
        const int kend = k + 32 < in ? k + 32 : in;
        __m256 sv[4];
        for (int o = 0; o < no; o++) sv[o] = _mm256_set1_ps(sc[(size_t)o * ng + g]);
        if ((g & 15) == 0 && (g >> 4) % nqb == qb)
            for (int o = 0; o < no; o++)
                _mm_prefetch((const char *)(sc + (size_t)(o + ZK_I8_PF_ROWS) * ng + g), ZK_I8_PF_HINT);
        for (; k + 8 <= kend; k += 8) {
            __m256 wv[4];
            if ((k & 63) == 0 && (k / 64) % nqb == qb)
                for (int o = 0; o < no; o++)
                    _mm_prefetch((const char *)(w + (size_t)o * in + k) + ZK_I8_PF_ROWS * (size_t)in, ZK_I8_PF_HINT);
            for (int o = 0; o < no; o++) {
                __m256i qi = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w + (size_t)o * in + k)));
                wv[o] = _mm256_mul_ps(_mm256_cvtepi32_ps(qi), sv[o]);
            }
            for (int q = 0; q < nq; q++) {
                __m256 xv = _mm256_loadu_ps(x + (size_t)q * ldx + k);
                for (int o = 0; o < no; o++) acc[o][q] = _mm256_fmadd_ps(wv[o], xv, acc[o][q]);
            }
        }
    }   // k stops at the first group that ends short of 8 more weights (only the last one can)
    for (int o = 0; o < no; o++)
        for (int q = 0; q < nq; q++) {
            float s = FN(hsum)(acc[o][q]);
            for (int kk = k; kk < in; kk++)
                s += (float)w[(size_t)o * in + kk] * sc[(size_t)o * ng + (kk >> 5)] * x[(size_t)q * ldx + kk];
            y[(size_t)q * ldy + o] = s;
        }
}

#if NQ == 4 && !defined(ZK_I8_YMM)
// AVX-512: the same tile on 512-bit registers, 16 weights a step (Zen 4 runs them as two 256-bit halves:
// the same arithmetic in half the instructions). Single-threaded GPT-B matrix products, ms per pass,
// ymm / zmm: 8.35 / 7.06 at 1 row, 13.2 / 12.4 at 4, 23.8 / 21.4 at 8 (in L2: 2.0 / 1.8 at 1 row).
// -DZK_I8_YMM keeps the ymm tile. A one-query tile sums each group unscaled and scales the sum once
// (no multiply per weight vector: 7.4 -> 7.0 ms at 1 row, single-threaded; several queries share the
// multiply, and the group sums would cost registers).
TGT __attribute__((always_inline)) static inline void FN(tile_i8z)(
    const float *restrict x, int ldx, const int8_t *restrict w, const float *restrict sc, int in, int ng,
    float *restrict y, int ldy, const int no, const int nq, const int qb, const int nqb) {
    __m512 acc[4][NQ];
    for (int o = 0; o < no; o++) for (int q = 0; q < nq; q++) acc[o][q] = _mm512_setzero_ps();
    int k = 0;
    while (k + 16 <= in) {   // one group of 32 (the last may be shorter) per turn
        const int g = k >> 5;
        const int kend = k + 32 < in ? k + 32 : in;
        __m512 sv[4], ga[4];
        for (int o = 0; o < no; o++) { sv[o] = _mm512_set1_ps(sc[(size_t)o * ng + g]); ga[o] = _mm512_setzero_ps(); }
        if ((g & 15) == 0 && (g >> 4) % nqb == qb)
            for (int o = 0; o < no; o++)
                _mm_prefetch((const char *)(sc + (size_t)(o + ZK_I8_PF_ROWS) * ng + g), ZK_I8_PF_HINT);
        for (; k + 16 <= kend; k += 16) {
            __m512 wv[4];
            if ((k & 63) == 0 && (k / 64) % nqb == qb)
                for (int o = 0; o < no; o++)
                    _mm_prefetch((const char *)(w + (size_t)o * in + k) + ZK_I8_PF_ROWS * (size_t)in, ZK_I8_PF_HINT);
            for (int o = 0; o < no; o++) {
                __m512i qi = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(w + (size_t)o * in + k)));
                wv[o] = nq == 1 ? _mm512_cvtepi32_ps(qi) : _mm512_mul_ps(_mm512_cvtepi32_ps(qi), sv[o]);
            }
            if (nq == 1) {
                __m512 xv = _mm512_loadu_ps(x + k);
                for (int o = 0; o < no; o++) ga[o] = _mm512_fmadd_ps(wv[o], xv, ga[o]);
            } else {
                for (int q = 0; q < nq; q++) {
                    __m512 xv = _mm512_loadu_ps(x + (size_t)q * ldx + k);
                    for (int o = 0; o < no; o++) acc[o][q] = _mm512_fmadd_ps(wv[o], xv, acc[o][q]);
                }
            }
        }
        if (nq == 1) for (int o = 0; o < no; o++) acc[o][0] = _mm512_fmadd_ps(ga[o], sv[o], acc[o][0]);
    }   // k stops at the first group that ends short of 16 more weights (only the last one can)
    for (int o = 0; o < no; o++)
        for (int q = 0; q < nq; q++) {
            float s = _mm512_reduce_add_ps(acc[o][q]);
            for (int kk = k; kk < in; kk++)
                s += (float)w[(size_t)o * in + kk] * sc[(size_t)o * ng + (kk >> 5)] * x[(size_t)q * ldx + kk];
            y[(size_t)q * ldy + o] = s;
        }
}
#define ZK_I8_TILE FN(tile_i8z)
#else
#define ZK_I8_TILE FN(tile_i8)
#endif

#undef ZK_C
#define ZK_C(TILE, NO, NQV) case NO * 16 + NQV: TILE(x, in, wo, so, in, ng, yo, out, NO, NQV, q / NQ, (rows + NQ - 1) / NQ); break;

TGT static void FN(range_i8)(const float *x, int rows, const int8_t *w, const float *sc, int out, int in,
                             float *y, int o0, int o1) {
    const int ng = (in + 31) / 32;
    for (int o = o0; o < o1; o += 4) {
        int no = o1 - o < 4 ? o1 - o : 4;
        const int8_t *wo = w + (size_t)o * in;
        const float *so = sc + (size_t)o * ng;
        for (int q = 0; q < rows; q += NQ) {
            int nq = rows - q < NQ ? rows - q : NQ;
            const float *xq = x + (size_t)q * in;
            float *yo = y + (size_t)q * out + o;
            { const float *x = xq; ZK_CASES(ZK_I8_TILE) }
        }
    }
}

// Widens n halves to floats (the f16 BLAS path converts a block of weight rows at a time).
TGT __attribute__((unused)) static void FN(widen)(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, ZK_LOAD_F16(src + i));
    for (; i < n; i++) dst[i] = zk_half_to_float(src[i]);
}

#undef ZK_I8_TILE
#undef ZK_CASE_ROW
#undef ZK_C
#undef ZK_CASES
#undef ZK_TILE
#undef FN
