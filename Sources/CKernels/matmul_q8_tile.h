// The int8 tile: int8 weights times int8 activations (llama.cpp's Q8_0 x Q8_0), included by
// matmul_body.h once per instruction set (FN, VW, NREG, hsum8 and ZK_HALVE come from there).
//
// A weight row holds `in` int8 values and one f32 scale per group of 32 (zk_quantize_i8); each query
// row was quantized the same way when the product started (zk_q8_quantize_rows, matmul_q8.c). A
// group's dot product is then an exact integer sum, scaled once by the product of the two scales:
//     y[q, o] = sum_g sw[o, g] sx[q, g] sum_{k in g} qw[o, k] qx[q, k].
// Why: the previous tile widened every weight to f32 (sign-extend, convert, scale) before its
// multiply-add, three vector operations per 8 or 16 weights, which kept the one-query pass of GPT-B at
// ~1.5x (AVX2) / ~1.2x (AVX-512) the time its 110 MB take to stream. Integer products take 32
// weights (AVX2) or 64 (AVX-512 VNNI) per instruction. Every row count runs this same arithmetic, so a
// row's result never depends on the rows beside it (SkinnyMatmulTests).
//
// AVX2, a group per 256-bit vector: vpmaddubsw multiplies unsigned by signed bytes, so the weights take
// the sign of the activation (vpsignb) and meet |x| (precomputed): |x| * (w sgn x) = w x, pair sums
// <= 2 * 127 * 127 fit int16 (both sides are quantized to -127...127); vpmaddwd then sums pairs to
// int32 lanes of four products each.
// AVX-512 VNNI, two groups per 512-bit vector: vpdpbusd sums four unsigned x signed byte products into
// each int32 lane without saturation. The weights are made unsigned by flipping their top bit
// (w + 128), and the accumulator starts at -128 x the sum of each lane's four activations, so the lane
// ends at the exact sum of w x. Lanes 0-7 belong to the first group, 8-15 to the second.
// AVX-VNNI (the AVX2 level on Zen 5 and on Intel since Alder Lake; matmul.c compiles this file a third time
// with ZK_AVX_VNNI): the AVX-512 way on 256-bit vectors, one group per vector: vpdpbusd from the offset
// -128 x the lane's activations, over w + 128 and x. Its int32 lanes hold the same four exact products as
// maddubs + madd's, so the sums are bit-identical to plain AVX2's; one instruction where those are two, and
// the top-bit flip is made once per weight vector where vpsignb is made per query (2-core Zen 5, 384 x 768
// in L2, one thread: 4 queries 1.4x, 8 queries 1.2x plain AVX2; one query within the noise).
// A last group shorter than 32 (an input width that is not a multiple of 32) is read through a
// zero-padded copy (AVX2) or a masked load (AVX-512): never past the row; the activations are zero there.

#if VW == 16
#define ZK_Q8_TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
// Accumulators + per row the weights and their scales: 4 x 4 = 16 + 8, 3 x 6 = 18 + 6, 2 x 8 = 16 + 4.
#define ZK_Q8_NO(nq) ((nq) <= 4 ? 4 : (nq) <= 6 ? 3 : 2)
#else
#define ZK_Q8_TGT TGT
// 16 registers: accumulators + a weight vector per row + |x|, x, the int16 ones and three temporaries.
#define ZK_Q8_NO(nq) ((nq) <= 2 ? 3 : (nq) <= 4 ? 2 : 1)
// One group's four-product int32 lanes: a weight vector as loaded made ready for every query (ZK_Q8_W),
// then per query from its values xq, magnitudes xa and VNNI offsets c4 (ZK_Q8_DOT).
#ifdef ZK_AVX_VNNI
#define ZK_Q8_W(wv) _mm256_xor_si256(wv, _mm256_set1_epi8((char)0x80))
#define ZK_Q8_DOT(wv, xq, xa, c4) ((void)(xa), _mm256_dpbusd_avx_epi32(c4, wv, xq))
#else
#define ZK_Q8_W(wv) (wv)
#define ZK_Q8_DOT(wv, xq, xa, c4) \
    ((void)(c4), _mm256_madd_epi16(_mm256_maddubs_epi16(xa, _mm256_sign_epi8(wv, xq)), _mm256_set1_epi16(1)))
#endif
#endif

// The one-query loops' end: each row's vector of sums reduced as tile_q8 reduces it with one query.
ZK_Q8_TGT __attribute__((always_inline)) static inline void FN(q8_one_finish)(const VT *acc, int no, float *y) {
    const __m256 z = _mm256_setzero_ps();
    for (int o = 0; o < no; o++) {
        float s[8];
        _mm256_storeu_ps(s, FN(hsum8)(ZK_HALVE(acc[o]), z, z, z, z, z, z, z));
        y[o] = s[0];
    }
}

#if VW == 16
// AVX-512 VNNI, one query row: the general tile's operations for two groups a step (below), in a small
// function of its own as on AVX2, 4 weight rows a tile. Scales come a line at a time: the 16 groups' scales
// of a weight row in one register, each step's pair spread over the two halves by one permute (the general
// tile broadcasts two scalars and inserts one half into the other), the same values, so the same sums bit
// for bit. 2-core Zen 5, GB/s of weights: 384 x 768 in L2, one thread 36-46 -> 58-67; 12 MB in L3, two
// threads 76 -> 113 (6 rows a tile 119, 8 rows 103). From DRAM, GPT-B's 49 products back to back
// (x the read just before, median of 8 runs; tools/kernels/pass_rate.c): 6 rows a tile 1.45x against 1.30x
// for the general tile, 4 rows 1.31x, 1 row 1.12x: one_query_plan.c picks 1, 2 or these 4 by timing them.
#define ZK_Q8_ONE_NO 4
ZK_Q8_TGT __attribute__((always_inline)) static inline void FN(q8_one_body)(
    const zk_q8_rows *a, const int8_t *restrict w, const float *restrict sc, int in, int ng, float *restrict y,
    size_t pf, size_t pfs, const int no) {
    const int8_t *restrict xq = a->q;
    const int32_t *restrict c4 = a->c4;
    const float *restrict s4 = a->s4;
    const __m512i top = _mm512_set1_epi8((char)0x80), two = _mm512_set1_epi32(2);
    const __m512i pair0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512 acc[ZK_Q8_ONE_NO], sv[ZK_Q8_ONE_NO];
    __m512i idx = pair0;
    for (int o = 0; o < no; o++) acc[o] = _mm512_setzero_ps();
    for (int k = 0; k < in; k += 64) {
        const int g = k >> 5;
        if ((g & 15) == 0) {   // the next 16 groups' scales (zero past the last group, as the tile's s1)
            const __mmask16 m = ng - g >= 16 ? 0xffff : (__mmask16)((1u << (ng - g)) - 1);
            for (int o = 0; o < no; o++) {
                sv[o] = _mm512_maskz_loadu_ps(m, sc + (size_t)o * ng + g);
                _mm_prefetch((const char *)(sc + (size_t)o * ng + g + pfs), ZK_PF_HINT);
            }
            idx = pair0;
        }
        for (int o = 0; o < no; o++) _mm_prefetch((const char *)(w + pf + (size_t)no * k + 64 * o), ZK_PF_HINT);
        const int last = k + 64 > in;
        const __mmask64 m = last ? (1ULL << (in - k)) - 1 : ~0ULL;
        const __m512i xv = _mm512_loadu_si512(xq + k);
        const __m512i cv = _mm512_loadu_si512(c4 + k / 4);
        const __m512 s4v = _mm512_loadu_ps(s4 + k / 4);
        for (int o = 0; o < no; o++) {
            const int8_t *wr = w + (size_t)o * in + k;
            const __m512i wu = _mm512_xor_si512(last ? _mm512_maskz_loadu_epi8(m, wr) : _mm512_loadu_si512(wr), top);
            const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(cv, wu, xv)), s4v);
            acc[o] = _mm512_fmadd_ps(f, _mm512_permutexvar_ps(idx, sv[o]), acc[o]);
        }
        idx = _mm512_add_epi32(idx, two);
    }
    FN(q8_one_finish)(acc, no, y);
}
#else
// AVX2, one query row (a decode step of one image: the pass that streams every weight once). A small
// function of its own walks all the rows (q8_one_rows): inside the range function, beside the other tiles'
// cases, the compiler spilled this loop's pointers and each 3-row tile paid its set-up anew (2-core Zen 3,
// 384 x 768 weights in L2, one thread: 25.6 -> 32.6 GB/s). 6 rows a tile rather than 3 (2-core Zen 5, GB/s
// of weights: in L2 one thread 53 -> 60, 12 MB in L3 two threads 87 -> 97, one 50 MB matrix 55 -> 74; GPT-B's
// products back to back from DRAM (tools/kernels/pass_rate.c) within the noise of 3 rows, and 2 rows better
// there, so one_query_plan.c times 1, 2 and 6; 16 registers still hold 6: the scale products come from
// memory). Per group and weight row the same operations as the general loop in tile_q8, so a row's sums are
// bit-identical whatever rows share its call; only the scale products d = sx * sw are made for 8 groups by
// one vmulps (d8) and read back by a broadcast load. One query row is one query block, so it prefetches
// every line itself: no `%` by the block count (one a line cost ~5% in tile_q8).
#define ZK_Q8_ONE_NO 6
ZK_Q8_TGT __attribute__((always_inline)) static inline void FN(q8_one_body)(
    const zk_q8_rows *a, const int8_t *restrict w, const float *restrict sc, int in, int ng, float *restrict y,
    size_t pf, size_t pfs, const int no) {
    const int8_t *restrict xq = a->q, *restrict xa = a->qa;
    const int32_t *restrict c4 = a->c4;
    const float *restrict sx = a->s1;
    __m256 acc[ZK_Q8_ONE_NO];
    float d8[ZK_Q8_ONE_NO][8];
    for (int o = 0; o < no; o++) acc[o] = _mm256_setzero_ps();
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    // No scalar loops inside the group loop (the compiler turned them into a set of induction
    // variables that cost more than the products): the last 8 groups' scales come by masked loads, and
    // a group shorter than 32 runs after the loop.
    for (int g = 0; g < ng; g++) {
        const int k = 32 * g;
        if ((g & 7) == 0) {
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(ng - g), iota);
            const __m256 s8 = _mm256_maskload_ps(sx + g, m);
            for (int o = 0; o < no; o++)
                _mm256_storeu_ps(d8[o], _mm256_mul_ps(s8, _mm256_maskload_ps(sc + (size_t)o * ng + g, m)));
        }
        if ((g & 15) == 0)
            for (int o = 0; o < no; o++) _mm_prefetch((const char *)(sc + (size_t)o * ng + g + pfs), ZK_PF_HINT);
        if ((g & 1) == 0)   // a group is half a line: every other group
            for (int o = 0; o < no; o++) _mm_prefetch((const char *)(w + pf + (size_t)no * k + 64 * o), ZK_PF_HINT);
        const int tail = k + 32 > in;
        if (tail) break;
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + k));
        const __m256i av = _mm256_loadu_si256((const __m256i *)(xa + k));
        const __m256i cv = _mm256_loadu_si256((const __m256i *)(c4 + k / 4));
        for (int o = 0; o < no; o++) {
            const __m256i wv = ZK_Q8_W(_mm256_loadu_si256((const __m256i *)(w + (size_t)o * in + k)));
            const __m256i p = ZK_Q8_DOT(wv, xv, av, cv);
            acc[o] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(&d8[o][g & 7]), acc[o]);
        }
    }
    if (in % 32) {   // the short last group, through a zero-padded copy of each row's rest
        const int g = ng - 1, k = 32 * g;
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + k));
        const __m256i av = _mm256_loadu_si256((const __m256i *)(xa + k));
        const __m256i cv = _mm256_loadu_si256((const __m256i *)(c4 + k / 4));
        for (int o = 0; o < no; o++) {
            int8_t pad[32] = { 0 };
            memcpy(pad, w + (size_t)o * in + k, (size_t)(in - k));
            const __m256i wv = ZK_Q8_W(_mm256_loadu_si256((const __m256i *)pad));
            const __m256i p = ZK_Q8_DOT(wv, xv, av, cv);
            acc[o] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(&d8[o][g & 7]), acc[o]);
        }
    }
    FN(q8_one_finish)(acc, no, y);
}
#endif
// Rows o0 ..< o1 for one query row, in tiles of `height` rows: 1, 2, or 0 for ZK_Q8_ONE_NO (one_query_plan.c
// chooses; see ZK_ONE_ROWS in matmul_body.h). Each row's sums are its own, so the height changes no bit.
// Rows past the last whole tile (only at a matrix's end: mm_part splits in bands of 12) run one at a time.
ZK_Q8_TGT __attribute__((noinline)) static void FN(q8_one_rows)(const zk_q8_rows *a, const int8_t *w, const float *sc,
                                                                int in, float *y, int o0, int o1, int height) {
    const int ng = (in + 31) / 32;
    const int no = height == 1 || height == 2 ? height : ZK_Q8_ONE_NO;
    const size_t pfr = ZK_ONE_PF_ROWS(ZK_PF_ROWS_I8, no, ZK_Q8_NO(2)), pf = pfr * in, pfs = pfr * ng;
    int o = o0;
    // Each height its own loop, so the tile's row count is a constant inside it.
#define ZK_Q8_ONE_LOOP(NO)                                                                              \
    for (; o + (NO) <= o1; o += (NO))                                                                   \
        FN(q8_one_body)(a, w + (size_t)o * in, sc + (size_t)o * ng, in, ng, y + o, pf, pfs, (NO));
    if (no == 1) { ZK_Q8_ONE_LOOP(1) }
    else if (no == 2) { ZK_Q8_ONE_LOOP(2) }
    else { ZK_Q8_ONE_LOOP(ZK_Q8_ONE_NO) }
#undef ZK_Q8_ONE_LOOP
    for (; o < o1; o++)
        FN(q8_one_body)(a, w + (size_t)o * in, sc + (size_t)o * ng, in, ng, y + o, pf, pfs, 1);
}

ZK_Q8_TGT __attribute__((always_inline)) static inline void FN(tile_q8)(
    const zk_q8_rows *restrict a, int q0, const int8_t *restrict w, const float *restrict sc, int in, int ng,
    float *restrict y, int ldy, const int no, const int nq, const size_t pf, const int qb, const int nqb) {
    const int kp = a->kp;
    const size_t pfs = (pf / in) * ng;   // the scale rows as many rows ahead
    VT acc[ZK_NO_MAX][8];
    for (int o = 0; o < no; o++) for (int q = 0; q < nq; q++) acc[o][q] = VZERO();
#if VW == 16
    const __m512i top = _mm512_set1_epi8((char)0x80);
    for (int k = 0; k < in; k += 64) {
        const int g = k >> 5;
        const int last = k + 64 > in;
        const __mmask64 m = last ? (in - k >= 64 ? ~0ULL : (1ULL << (in - k)) - 1) : ~0ULL;
        if ((g & 15) == 0 && (g >> 4) % nqb == qb)
            for (int o = 0; o < no; o++) _mm_prefetch((const char *)(sc + (size_t)o * ng + g + pfs), ZK_PF_HINT);
        if ((k / 64) % nqb == qb)
            for (int o = 0; o < no; o++) _mm_prefetch((const char *)(w + pf + (size_t)no * k + 64 * o), ZK_PF_HINT);
        __m512i wu[ZK_NO_MAX];
        __m512 sw[ZK_NO_MAX];
        for (int o = 0; o < no; o++) {
            const int8_t *wr = w + (size_t)o * in + k;
            wu[o] = _mm512_xor_si512(last ? _mm512_maskz_loadu_epi8(m, wr) : _mm512_loadu_si512(wr), top);
            const float *sr = sc + (size_t)o * ng + g;
            const float s1 = g + 1 < ng ? sr[1] : 0.0f;
            sw[o] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(sr[0])),
                                                        _mm256_castps_pd(_mm256_set1_ps(s1)), 1));
        }
        for (int q = 0; q < nq; q++) {
            const size_t r = (size_t)(q0 + q);
            const __m512i xq = _mm512_loadu_si512(a->q + r * kp + k);
            const __m512i c4 = _mm512_loadu_si512(a->c4 + r * (kp / 4) + k / 4);
            const __m512 s4 = _mm512_loadu_ps(a->s4 + r * (kp / 4) + k / 4);
            for (int o = 0; o < no; o++) {
                const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c4, wu[o], xq)), s4);
                acc[o][q] = _mm512_fmadd_ps(f, sw[o], acc[o][q]);
            }
        }
    }
#else
    for (int k = 0; k < in; k += 32) {
        const int g = k >> 5;
        if ((g & 15) == 0 && (g >> 4) % nqb == qb)
            for (int o = 0; o < no; o++) _mm_prefetch((const char *)(sc + (size_t)o * ng + g + pfs), ZK_PF_HINT);
        if ((k & 63) == 0 && (k / 64) % nqb == qb)   // a group is half a line: every other group
            for (int o = 0; o < no; o++) _mm_prefetch((const char *)(w + pf + (size_t)no * k + 64 * o), ZK_PF_HINT);
        __m256i wv[ZK_NO_MAX];
        for (int o = 0; o < no; o++) {
            const int8_t *wr = w + (size_t)o * in + k;
            if (k + 32 <= in) wv[o] = _mm256_loadu_si256((const __m256i *)wr);
            else {
                int8_t pad[32] = { 0 };
                for (int i = 0; i < in - k; i++) pad[i] = wr[i];
                wv[o] = _mm256_loadu_si256((const __m256i *)pad);
            }
            wv[o] = ZK_Q8_W(wv[o]);
        }
        for (int q = 0; q < nq; q++) {
            const size_t r = (size_t)(q0 + q);
            const __m256i xq = _mm256_loadu_si256((const __m256i *)(a->q + r * kp + k));
            const __m256i xa = _mm256_loadu_si256((const __m256i *)(a->qa + r * kp + k));
            const __m256i c4 = _mm256_loadu_si256((const __m256i *)(a->c4 + r * (kp / 4) + k / 4));
            const __m256 sx = _mm256_broadcast_ss(a->s4 + r * (kp / 4) + k / 4);
            for (int o = 0; o < no; o++) {
                const __m256i p = ZK_Q8_DOT(wv[o], xq, xa, c4);
                const __m256 d = _mm256_mul_ps(sx, _mm256_broadcast_ss(sc + (size_t)o * ng + g));
                acc[o][q] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc[o][q]);
            }
        }
    }
#endif
    for (int o = 0; o < no; o++) {
        __m256 h[8];
        for (int q = 0; q < 8; q++) h[q] = q < nq ? ZK_HALVE(acc[o][q]) : _mm256_setzero_ps();
        float s[8];
        _mm256_storeu_ps(s, FN(hsum8)(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]));
        for (int q = 0; q < nq; q++) y[(size_t)q * ldy + o] = s[q];
    }
}
