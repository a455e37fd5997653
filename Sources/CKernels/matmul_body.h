// The skinny matmul micro-kernels, compiled once per instruction set by matmul.c, which defines
// SFX (name suffix), TGT (target attribute) and NREG (vector registers: 16 for AVX2, 32 for AVX-512VL).
//
// y[q, o] = sum_k x[q, k] w[o, k]. A tile is up to 4 weight rows by up to 8 queries, each pair
// accumulated in one vector register along k and summed horizontally at the end. The tile loop
// runs the query blocks innermost, so a band of 6 or 12 weight rows comes from DRAM once and from
// L1/L2 for the other query blocks: every weight byte is streamed once per pass.

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

// The tiles are written once over VW-wide vectors: 8 (ymm) for AVX2, 16 (zmm) for AVX-512, whose
// two 512-bit FMA ports double the arithmetic rate that 8 queries need (single core, in L2: ymm ~100,
// zmm ~190 GFLOP/s peak) and halve the loads and int8/f16 conversions per weight.
#if VW == 16
#define VT __m512
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VLOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define VHSUM(v) _mm512_reduce_add_ps(v)
#else
#define VT __m256
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VLOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define VHSUM(v) FN(hsum)(v)
#endif

// Software prefetch into L2 of the tile ZK_PF_ROWS rows ahead, once per cache line, spread
// evenly over the query blocks: block b of nb prefetches the lines with index % nb == b. A tile's rows
// lie back to back, so the tile ahead is one contiguous block; it is prefetched in address order (the
// no lines after the no x k bytes a tile has consumed), not row by row at the tile's own column: same
// lines, but one ascending stream where there were no interleaved ones 768+ bytes apart. On a Zen 3
// core that alone took a one-query product with 768 inputs and 50-100 MB of weights from 23.6 to 30.5 GB/s
// at int8, 25.7 to 31.2 at f16 and 28.9 to 30.6 at f32 (2 threads; the streaming read reaches ~33 GB/s
// there). (Issuing
// them all from the first block left DRAM idle while the later blocks computed.) The hardware
// prefetcher alone keeps too few lines in flight for one core to stream at full speed, stops at page
// boundaries, and falls behind entirely once several queries make a tile compute-heavy. Distances
// are the same ~12 KB ahead at in = 768 for every storage: f32 4 rows, f16 8, int8 16. (Single
// thread, GPT-B pass at one query, on a shared VM: 3 KB ahead was clearly slower, 1.3-1.5x the
// streaming-read time against 1.1-1.2; 6 KB ahead slower for f16 and int8 by up to ~10%, within the
// noise for f32; 24 KB no better.)
#ifndef ZK_PF_ROWS_F32
#define ZK_PF_ROWS_F32 4
#endif
#ifndef ZK_PF_ROWS_F16
#define ZK_PF_ROWS_F16 8
#endif
#ifndef ZK_PF_ROWS_I8
#define ZK_PF_ROWS_I8 16
#endif
#ifndef ZK_PF_HINT
#define ZK_PF_HINT _MM_HINT_T1
#endif
// Rows ahead for a one-query tile of NO rows: as far past a taller tile's end as past a 2-query tile's
// (NO2 rows), the lead ZK_RANGE gives a single query.
#define ZK_ONE_PF_ROWS(PF_ROWS, NO, NO2) ((PF_ROWS) + (NO) - ((NO) < (NO2) ? (NO) : (NO2)))

// Tiles: NO weight rows by nq queries, one accumulator register per pair. Every weight vector is
// loaded (and widened) once per query block and used for all its queries. How many rows and queries
// fit depends on the register file. AVX-512 (32 registers): query blocks of up to 8, 4 rows up to 6
// queries (24 accumulators), 3 rows for 7..8, in bands of 12 rows. AVX2 (16): blocks of up to 6
// (8 queries run as 4 + 4), 3 rows up to 4 queries (12 accumulators + 3 weights + x), 2 rows for
// 5..6, in bands of 6. A block of 8 on AVX2 fits only as 1 row x 8 (8 accumulator chains: too few to
// hide the FMA latency) and measured slower than 4 + 4. Each band is walked by every query block in
// turn, so it comes from DRAM once and from L1/L2 for the other blocks. In L2, single core, GFLOP/s at
// 8 queries f32 / f16 / int8 (peak: ymm ~100, zmm ~190): AVX2 1 x 8 tiles 42 / 50 / 50, 2 x 4 in
// bands of 4 60 / 65 / 54, 3 x 4 in bands of 12 76 / 68 / 54; AVX-512 2 x 8 in bands of 4
// 87 / 112 / 103, 3 x 8 in bands of 12 113 / 120 / 102. In a whole GPT-B pass (single thread, x the
// streaming-read time, 1 / 8 queries) the AVX2 bands of 6 beat those of 12: f32 1.09 / 1.8 against
// 1.2 / 2.05, f16 1.22 / 2.45 against 1.4 / 2.8, int8 1.4 / 4.3 against 1.8 / 5.5 (a band of 12 rows
// of 2048 floats no longer fits L1 for the second query block).
#ifndef ZK_NO
#if NREG == 16
#define ZK_NO(nq) ((nq) <= 4 ? 3 : 2)
#else
#define ZK_NO(nq) ((nq) <= 6 ? 4 : 3)
#endif
#define ZK_NO_LOCAL
#endif
// f16 at one query: one accumulator per weight row, so 3 (AVX2) or 4 rows were too few multiply-add
// chains to hide the FMA latency, and the product was compute-bound where memory is fast. In L3, 2
// threads of a Zen 5, AVX2: 65-81 GB/s of weights with 3 rows, 100-115 with 6, against ~75 GB/s that
// its memory streams at best (f32 is not compute-bound there, int8 measured the same with 6 rows).
// So those tiles are a band tall: 6 rows on either ISA. A row's sums run in the same order in any
// tile, so its result does not change with the tile (SkinnyMatmulTests).
#ifndef ZK_NO_ONE
#define ZK_NO_ONE 6
#endif
#define ZK_NO_MAX 6
#define ZK_NO_F16(nq) ((nq) == 1 ? ZK_NO_ONE : ZK_NO(nq))
#ifndef ZK_BAND
#define ZK_BAND (NREG == 16 ? 6 : 12)
#define ZK_BAND_LOCAL
#endif
#ifndef ZK_QMAX
#define ZK_QMAX (NREG == 16 ? 6 : 8)
#define ZK_QMAX_LOCAL
#endif

// The 8 sums of a[0..8) at once (lane q = sum of a[q]), by a tree of horizontal adds: 11 operations
// instead of 8 separate reductions of ~6. A tile ends with one per weight row (unused queries are
// zero vectors, folded away), which at in = 768 was a fifth of the tile's work done one by one.
TGT static inline __m256 FN(hsum8)(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6,
                                   __m256 a7) {
    __m256 t0 = _mm256_hadd_ps(a0, a1), t1 = _mm256_hadd_ps(a2, a3), t2 = _mm256_hadd_ps(a4, a5),
           t3 = _mm256_hadd_ps(a6, a7);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);   // [s0 s1 s2 s3 | s0 s1 s2 s3] lo/hi halves
    __m256 lo = _mm256_permute2f128_ps(u0, u1, 0x20), hi = _mm256_permute2f128_ps(u0, u1, 0x31);
    return _mm256_add_ps(lo, hi);
}
#if VW == 16
#define ZK_HALVE(v) _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
#else
#define ZK_HALVE(v) (v)
#endif

// Sums acc[o][0..nq) horizontally, adds the scalar tail k..in of each dot product (only an input
// width that is not a multiple of VW has one), stores y.
#define ZK_FINISH(SCALARW)                                                                           \
    for (int o = 0; o < no; o++) {                                                                   \
        __m256 h[8];                                                                                 \
        for (int q = 0; q < 8; q++) h[q] = q < nq ? ZK_HALVE(acc[o][q]) : _mm256_setzero_ps();       \
        float s[8];                                                                                  \
        _mm256_storeu_ps(s, FN(hsum8)(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]));              \
        if (k < in)                                                                                  \
            for (int q = 0; q < nq; q++)                                                             \
                for (int kk = k; kk < in; kk++) s[q] += SCALARW(o, kk) * x[(size_t)q * ldx + kk];    \
        for (int q = 0; q < nq; q++) y[(size_t)q * ldy + o] = s[q];                                  \
    }

// The prefetch of the tile ahead for the vector at column k, when k starts a cache line of this query
// block's share (see ZK_PF_ROWS above).
#define ZK_PREFETCH_LINE(WTYPE, k)                                                                   \
    if (((k) & (63 / sizeof(WTYPE))) == 0 && ((k) * sizeof(WTYPE) / 64) % nqb == qb)                \
        for (int o = 0; o < no; o++)                                                                 \
            _mm_prefetch((const char *)(w + pf + (size_t)no * (k) + o * (64 / sizeof(WTYPE))), ZK_PF_HINT);

#define ZK_TILE(NAME, WTYPE, LOADW, SCALARW)                                                         \
TGT __attribute__((always_inline)) static inline void NAME(                                        \
    const float *restrict x, int ldx, const WTYPE *restrict w, int in, float *restrict y, int ldy,    \
    const int no, const int nq, const size_t pf, const int qb, const int nqb) {                      \
    VT acc[ZK_NO_MAX][8];                                                                        \
    for (int o = 0; o < no; o++) for (int q = 0; q < nq; q++) acc[o][q] = VZERO();      \
    int k = 0;                                                                                       \
    for (; k + VW <= in; k += VW) {                                                                    \
        VT wv[ZK_NO_MAX];                                                                        \
        ZK_PREFETCH_LINE(WTYPE, k)                                                                   \
        for (int o = 0; o < no; o++) wv[o] = LOADW(w + (size_t)o * in + k);                          \
        for (int q = 0; q < nq; q++) {                                                               \
            VT xv = VLOAD(x + (size_t)q * ldx + k);                                    \
            for (int o = 0; o < no; o++) acc[o][q] = VFMA(wv[o], xv, acc[o][q]);          \
        }                                                                                            \
    }                                                                                                \
    ZK_FINISH(SCALARW)                                                                               \
}

#define ZK_LOAD_F32(p) VLOAD(p)
#define ZK_LOAD_F16(p) VLOAD_F16(p)
#define ZK_W_F32(o, kk) (w[(size_t)(o) * in + (kk)])
#define ZK_W_F16(o, kk) zk_half_to_float(w[(size_t)(o) * in + (kk)])

#ifndef ZK_Q8_ONLY   // the AVX-VNNI instantiation (matmul.c) needs only the int8 tiles
ZK_TILE(FN(tile_f32), float, ZK_LOAD_F32, ZK_W_F32)
ZK_TILE(FN(tile_f16), uint16_t, ZK_LOAD_F16, ZK_W_F16)
#endif

#include "matmul_q8_tile.h"

// One switch per tile shape so every tile is compiled with constant bounds (all in registers);
// shapes taller than ZK_NO allows for their query count are never dispatched (and compile away).
#define ZK_CASES(CALL, NOF)                                                                          \
    switch (no * 16 + nq) {                                                                          \
    ZK_CASE_ROW(CALL, NOF, 1) ZK_CASE_ROW(CALL, NOF, 2) ZK_CASE_ROW(CALL, NOF, 3)                    \
    ZK_CASE_ROW(CALL, NOF, 4) ZK_CASE_ROW(CALL, NOF, 5) ZK_CASE_ROW(CALL, NOF, 6)                    \
    default: break;                                                                                  \
    }
#define ZK_CASE_ROW(CALL, NOF, NO) ZK_C(CALL, NOF, NO, 1) ZK_C(CALL, NOF, NO, 2) ZK_C(CALL, NOF, NO, 3) \
    ZK_C(CALL, NOF, NO, 4) ZK_C(CALL, NOF, NO, 5) ZK_C(CALL, NOF, NO, 6) ZK_C(CALL, NOF, NO, 7)         \
    ZK_C(CALL, NOF, NO, 8)
#define ZK_C(CALL, NOF, NO, NQV) case NO * 16 + NQV: if (NO <= NOF(NQV)) CALL(NO, NQV); break;

// Walks rows o0..<o1 in bands of ZK_BAND; each band by every query block (<= ZK_QMAX queries, balanced:
// 9 rows run as 5 + 4) in tiles of NOF(nq) rows. TILE_CALL(NO, NQ) runs one tile at (oo, q0).
// With several query blocks the prefetch reaches at least the next band: a row of the current band
// is loaded by the first block before a later block's share of its prefetch would be issued. A
// one-query tile taller than the tiles of two queries starts its prefetch as much further ahead, so it
// keeps the same lead beyond the tile's end.
#define ZK_RANGE(TILE_CALL, PF_ROWS, NOF)                                                               \
    const int nqb = (rows + ZK_QMAX - 1) / ZK_QMAX;                                                  \
    const size_t pf = (size_t)(nqb > 1 && PF_ROWS < ZK_BAND ? ZK_BAND                                 \
                               : rows == 1 ? PF_ROWS + NOF(1) - NOF(2) : PF_ROWS) * in;              \
    for (int o = o0; o < o1; o += ZK_BAND) {                                                         \
        const int band = o1 - o < ZK_BAND ? o1 - o : ZK_BAND;                                        \
        for (int qb = 0; qb < nqb; qb++) {                                                           \
            const int q0 = rows * qb / nqb, nq = rows * (qb + 1) / nqb - q0;                         \
            const int step = NOF(nq);                                                                \
            for (int oo = o; oo < o + band; oo += step) {                                            \
                const int no = o + band - oo < step ? o + band - oo : step;                          \
                ZK_CASES(TILE_CALL, NOF)                                                             \
            }                                                                                        \
        }                                                                                            \
    }

// One query row (a decode step of one image, the pass that streams every weight once): the rows in tiles
// of NO rows, in a small function of their own. Inlined into the range function's switch of every tile
// shape, the same tiles kept their pointers on the stack and paid a call's set-up per 3-6 rows (one thread,
// weights in L2, GB/s of weights: 2-core Zen 3, AVX2: f32 43 -> 63, f16 38 -> 47, int8 26 -> 33; 2-core
// Zen 5, AVX-512: f32 77 -> 86, f16 56-66 -> 61-77; int8 runs matmul_q8_tile.h's loops).
// Each comes in three heights: 1 and 2 rows, and the tile height of one query in the general walk (NOF(1)).
// Taller tiles run faster in cache (more multiply-add chains), shorter ones stream better from DRAM (fewer
// rows read side by side): on a 2-core Zen 5, GPT-B's products at one query against the read, 1-row tiles
// 1.0x where the general tiles took 1.06-1.19x. Which wins depends on the machine, so one_query_plan.c
// times them at run time (zk_one_height). A row's sums are its own, so the height changes no bit. The
// prefetch keeps the lead ZK_RANGE gives a single query (ZK_ONE_PF_ROWS).
#define ZK_ONE_ROWS(NAME, TILE, WTYPE, NO, NOF, PF_ROWS)                                                 \
    TGT __attribute__((noinline)) static void NAME(const float *x, const WTYPE *w, int out, int in, float *y, \
                                                  int o0, int o1) {                                    \
        const size_t pf = (size_t)ZK_ONE_PF_ROWS(PF_ROWS, NO, NOF(2)) * in;                             \
        int o = o0;                                                                                     \
        for (; o + (NO) <= o1; o += (NO))                                                               \
            TILE(x, in, w + (size_t)o * in, in, y + o, out, (NO), 1, pf, 0, 1);                         \
        for (; o < o1; o++)   /* past the last whole tile: only at a matrix's end (parts are bands of 12) */ \
            TILE(x, in, w + (size_t)o * in, in, y + o, out, 1, 1, pf, 0, 1);                            \
    }
#ifndef ZK_Q8_ONLY
ZK_ONE_ROWS(FN(one_f32), FN(tile_f32), float, ZK_NO(1), ZK_NO, ZK_PF_ROWS_F32)
ZK_ONE_ROWS(FN(one_f32_1), FN(tile_f32), float, 1, ZK_NO, ZK_PF_ROWS_F32)
ZK_ONE_ROWS(FN(one_f32_2), FN(tile_f32), float, 2, ZK_NO, ZK_PF_ROWS_F32)
ZK_ONE_ROWS(FN(one_f16), FN(tile_f16), uint16_t, ZK_NO_F16(1), ZK_NO_F16, ZK_PF_ROWS_F16)
ZK_ONE_ROWS(FN(one_f16_1), FN(tile_f16), uint16_t, 1, ZK_NO_F16, ZK_PF_ROWS_F16)
ZK_ONE_ROWS(FN(one_f16_2), FN(tile_f16), uint16_t, 2, ZK_NO_F16, ZK_PF_ROWS_F16)
#endif
#undef ZK_ONE_ROWS
// One query row: the height one_query_plan.c chose for this storage (0: the general tile's).
#define ZK_ONE_QUERY(STORAGE, ONE, ONE_1, ONE_2, ARGS)                                                   \
    if (rows == 1) {                                                                                    \
        switch (zk_one_height[STORAGE]) {                                                               \
        case 1: ONE_1 ARGS; break;                                                                      \
        case 2: ONE_2 ARGS; break;                                                                      \
        default: ONE ARGS; break;                                                                       \
        }                                                                                               \
        return;                                                                                         \
    }

#ifndef ZK_Q8_ONLY
TGT static void FN(range_f32)(const float *x, int rows, const float *w, int out, int in, float *y,
                              int o0, int o1) {
    ZK_ONE_QUERY(ZK_ONE_F32, FN(one_f32), FN(one_f32_1), FN(one_f32_2), (x, w, out, in, y, o0, o1))
#define ZK_CALL(NO, NQ) FN(tile_f32)(x + (size_t)q0 * in, in, w + (size_t)oo * in, in, y + (size_t)q0 * out + oo, out, NO, NQ, pf, qb, nqb)
    ZK_RANGE(ZK_CALL, ZK_PF_ROWS_F32, ZK_NO)
#undef ZK_CALL
}

// f16 weights are widened in the register tile itself, once per query block. (Widening each 4-row
// block into an f32 scratch once and running the f32 tiles over it measured slower: 26 vs 20 ms
// per GPT-B pass at 8 rows, single-threaded.)
TGT static void FN(range_f16)(const float *x, int rows, const uint16_t *w, int out, int in, float *y,
                              int o0, int o1) {
    ZK_ONE_QUERY(ZK_ONE_F16, FN(one_f16), FN(one_f16_1), FN(one_f16_2), (x, w, out, in, y, o0, o1))
#define ZK_CALL(NO, NQ) FN(tile_f16)(x + (size_t)q0 * in, in, w + (size_t)oo * in, in, y + (size_t)q0 * out + oo, out, NO, NQ, pf, qb, nqb)
    ZK_RANGE(ZK_CALL, ZK_PF_ROWS_F16, ZK_NO_F16)
#undef ZK_CALL
}
#endif

// int8: walked like the others, in the tile heights of ZK_Q8_NO (matmul_q8_tile.h).
ZK_Q8_TGT static void FN(range_q8)(const zk_q8_rows *a, int rows, const int8_t *w, const float *sc, int out, int in,
                                   float *y, int o0, int o1) {
    const int ng = (in + 31) / 32;
    if (rows == 1) { FN(q8_one_rows)(a, w, sc, in, y, o0, o1, zk_one_height[ZK_ONE_I8]); return; }   // matmul_q8_tile.h
#define ZK_CALL(NO, NQ) FN(tile_q8)(a, q0, w + (size_t)oo * in, sc + (size_t)oo * ng, in, ng, y + (size_t)q0 * out + oo, out, NO, NQ, pf, qb, nqb)
    ZK_RANGE(ZK_CALL, ZK_PF_ROWS_I8, ZK_Q8_NO)
#undef ZK_CALL
}

#ifndef ZK_Q8_ONLY
// Widens n halves to floats (the f16 BLAS path converts a block of weight rows at a time).
TGT __attribute__((unused)) static void FN(widen)(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = zk_half_to_float(src[i]);
}
#endif

#ifdef ZK_NO_LOCAL
#undef ZK_NO
#undef ZK_NO_LOCAL
#endif
#undef ZK_NO_MAX
#undef ZK_NO_F16
#ifdef ZK_BAND_LOCAL
#undef ZK_BAND
#undef ZK_BAND_LOCAL
#endif
#ifdef ZK_QMAX_LOCAL
#undef ZK_QMAX
#undef ZK_QMAX_LOCAL
#endif
#undef ZK_RANGE
#undef ZK_ONE_QUERY
#undef ZK_FINISH
#undef ZK_HALVE
#undef VT
#undef VZERO
#undef VLOAD
#undef VFMA
#undef VLOAD_F16
#undef VHSUM
#undef ZK_PREFETCH_LINE
#undef ZK_ONE_PF_ROWS
#undef ZK_CASE_ROW
#undef ZK_C
#undef ZK_CASES
#undef ZK_TILE
#undef ZK_Q8_NO
#undef ZK_Q8_TGT
#undef ZK_Q8_ONE_NO
#undef ZK_Q8_W
#undef ZK_Q8_DOT
#undef FN
