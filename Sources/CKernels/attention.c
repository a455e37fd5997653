// Attention of a batch of query tokens over their own sequences' KV caches: one call per layer.
//
// A cache layer is [kvHead][position][headDim] (f32 or IEEE half), so one head's keys and values
// are contiguous runs that the hardware prefetcher streams (a raster [position][kvHead][headDim]
// layout read 256-byte pieces 3 KB apart). Scores take 8 positions at a time: 8 independent dot
// products, reduced together into one vector of 8 scores (no horizontal sum per position). Keys
// transposed to [headDim][position] measured slower: 64 short strided streams per head, and a
// scattered write per dimension when a token is stored.
// Each query brings its sequence's cache, its last position and the filled flags: ragged batches
// need no mask matrix. The (query, head) pairs are split over the pool in one dispatch per layer.
#include "ckernels.h"
#include "internal.h"
#include "simd_math.h"

#if defined(__x86_64__)
#define AVXH __attribute__((target("avx2,fma,f16c")))

// Sums each of 8 vectors into one lane: [sum a0, sum a1, ..., sum a7].
AVXH static inline __m256 sum8(const __m256 a[8]) {
    __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// s[p] = q . K[p] for p < n, K rows of hd values back to back: 8 positions a block, one
// accumulator each (8 independent FMA chains), then one reduction for the block.
#define ZK_SCORES(NAME, KTYPE, LOAD, SCALAR)                                                         \
AVXH static void NAME(const float *q, const KTYPE *k, int hd, int n, float *s) {                  \
    const int hv = hd & ~7;                                                                        \
    int p = 0;                                                                                     \
    for (; p + 8 <= n; p += 8) {                                                                   \
        __m256 a[8];                                                                               \
        for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();                                    \
        for (int i = 0; i < hv; i += 8) {                                                          \
            __m256 qv = _mm256_loadu_ps(q + i);                                                    \
            for (int j = 0; j < 8; j++) a[j] = _mm256_fmadd_ps(qv, LOAD(k + (size_t)(p + j) * hd + i), a[j]); \
        }                                                                                          \
        __m256 r = sum8(a);                                                                        \
        if (hv < hd) {                                                                             \
            float tail[8];                                                                         \
            for (int j = 0; j < 8; j++) {                                                          \
                float t = 0;                                                                       \
                for (int i = hv; i < hd; i++) t += q[i] * SCALAR(k[(size_t)(p + j) * hd + i]);    \
                tail[j] = t;                                                                       \
            }                                                                                      \
            r = _mm256_add_ps(r, _mm256_loadu_ps(tail));                                           \
        }                                                                                          \
        _mm256_storeu_ps(s + p, r);                                                                \
    }                                                                                              \
    for (; p < n; p++) {              /* the last < 8 positions: one vector dot each */            \
        const KTYPE *kp = k + (size_t)p * hd;                                                      \
        __m256 a0 = _mm256_setzero_ps();                                                           \
        for (int i = 0; i < hv; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LOAD(kp + i), a0); \
        float d = hsum256(a0);                                                                     \
        for (int i = hv; i < hd; i++) d += q[i] * SCALAR(kp[i]);                                   \
        s[p] = d;                                                                                  \
    }                                                                                              \
}

// out[0..<hd] = sum_p w[p] v[p], rows of hd values back to back; zero weights (masked slots) skipped.
#define ZK_WSUM(NAME, VTYPE, LOAD, SCALAR)                                                           \
AVXH static void NAME(const float *w, const VTYPE *v, int count, int hd, float *out) {             \
    int c = 0;                                                                                     \
    for (; c + 64 <= hd; c += 64) {   /* 64 dims in registers: w[p] read once per position */      \
        __m256 a[8];                                                                               \
        for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();                                    \
        for (int p = 0; p < count; p++) {                                                          \
            if (w[p] == 0) continue;                                                               \
            __m256 wv = _mm256_set1_ps(w[p]);                                                      \
            const VTYPE *vp = v + (size_t)p * hd + c;                                              \
            for (int j = 0; j < 8; j++) a[j] = _mm256_fmadd_ps(wv, LOAD(vp + 8 * j), a[j]);        \
        }                                                                                          \
        for (int j = 0; j < 8; j++) _mm256_storeu_ps(out + c + 8 * j, a[j]);                       \
    }                                                                                              \
    for (; c + 32 <= hd; c += 32) {                                                                \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                \
        for (int p = 0; p < count; p++) {                                                          \
            if (w[p] == 0) continue;                                                               \
            __m256 wv = _mm256_set1_ps(w[p]);                                                      \
            const VTYPE *vp = v + (size_t)p * hd + c;                                              \
            a0 = _mm256_fmadd_ps(wv, LOAD(vp), a0);                                                \
            a1 = _mm256_fmadd_ps(wv, LOAD(vp + 8), a1);                                            \
            a2 = _mm256_fmadd_ps(wv, LOAD(vp + 16), a2);                                           \
            a3 = _mm256_fmadd_ps(wv, LOAD(vp + 24), a3);                                           \
        }                                                                                          \
        _mm256_storeu_ps(out + c, a0); _mm256_storeu_ps(out + c + 8, a1);                          \
        _mm256_storeu_ps(out + c + 16, a2); _mm256_storeu_ps(out + c + 24, a3);                    \
    }                                                                                              \
    for (; c + 8 <= hd; c += 8) {                                                                  \
        __m256 a0 = _mm256_setzero_ps();                                                           \
        for (int p = 0; p < count; p++)                                                            \
            if (w[p] != 0) a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[p]), LOAD(v + (size_t)p * hd + c), a0); \
        _mm256_storeu_ps(out + c, a0);                                                             \
    }                                                                                              \
    for (; c < hd; c++) {                                                                          \
        float a = 0;                                                                               \
        for (int p = 0; p < count; p++) a += w[p] * SCALAR(v[(size_t)p * hd + c]);                 \
        out[c] = a;                                                                                \
    }                                                                                              \
}
#define ZK_LOAD32(p) _mm256_loadu_ps(p)
#define ZK_LOAD16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define ZK_SAME(x) (x)
ZK_WSUM(weighted_sum_f32_avx, float, ZK_LOAD32, ZK_SAME)
ZK_WSUM(weighted_sum_f16_avx, uint16_t, ZK_LOAD16, zk_half_to_float)
ZK_SCORES(scores_f32_avx, float, ZK_LOAD32, ZK_SAME)
ZK_SCORES(scores_f16_avx, uint16_t, ZK_LOAD16, zk_half_to_float)

AVXH static void store_f16_avx(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = zk_float_to_half(src[i]);
}
#endif


static void scores_scalar(const float *q, const void *k, int f16, int hd, int n, float *s) {
    for (int p = 0; p < n; p++) {
        float d = 0;
        for (int i = 0; i < hd; i++) {
            size_t at = (size_t)p * hd + i;
            d += q[i] * (f16 ? zk_half_to_float(((const uint16_t *)k)[at]) : ((const float *)k)[at]);
        }
        s[p] = d;
    }
}

typedef struct {
    const zk_attn_query *qs;
    int count, heads, kvHeads, hd, positions, f16, mask, pairs;
    float *scores;              // [chunk][positions]
} batch_ctx;

// Asks for a (query, head) pair's keys and values, positions 0...last, ahead of their use. A pass streams
// ~100 MB of weights between one layer's attention and the next pass's, so the cache comes from DRAM,
// where the scores loop's one sequential stream per head waited on each line: one query over GPT-B's
// half-filled cache (12 heads, 129 positions, f16), 2 threads of a Zen 5, median of 10 runs 30 us a layer
// with the cache evicted (6-10 us in cache); asking for all of a head's lines first, 25 us (keys into L2
// too instead of L1: 26).
static void prefetch_pair(const batch_ctx *b, const zk_attn_query *a, int h) {
#if defined(__x86_64__)
    const int hd = b->hd, n = a->last + 1, kvh = h / (b->heads / b->kvHeads);
    const size_t es = b->f16 ? 2 : 4, base = (size_t)kvh * b->positions * hd * es, bytes = (size_t)n * hd * es;
    const char *k = (const char *)a->keys + base, *v = (const char *)a->values + base;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(k + o, _MM_HINT_T0);
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(v + o, _MM_HINT_T1);   // needed after the softmax
#else
    (void)b, (void)a, (void)h;
#endif
}

// One head of one query: scores into s (last + 1 floats), softmax, weighted sum of the values.
static void attend(const batch_ctx *b, const zk_attn_query *a, int h, float *s) {
    const int hd = b->hd, n = a->last + 1, kvh = h / (b->heads / b->kvHeads);
    const size_t head_base = (size_t)kvh * b->positions * hd;
    const float *qh = a->q + (size_t)h * hd;
    float *oh = a->out + (size_t)h * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const int v = vec();
#if defined(__x86_64__)
    if (v && b->f16) scores_f16_avx(qh, (const uint16_t *)a->keys + head_base, hd, n, s);
    else if (v) scores_f32_avx(qh, (const float *)a->keys + head_base, hd, n, s);
    else
#endif
    scores_scalar(qh, b->f16 ? (const void *)((const uint16_t *)a->keys + head_base)
                             : (const void *)((const float *)a->keys + head_base), b->f16, hd, n, s);
    float m = -INFINITY;
    int used = 0;
    for (int p = 0; p < n; p++) {
        if (b->mask && a->filled && !a->filled[p]) { s[p] = -INFINITY; continue; }
        s[p] *= scale;
        if (s[p] > m) m = s[p];
        used++;
    }
    if (used == 0) { for (int i = 0; i < hd; i++) oh[i] = 0; return; }
#if defined(__x86_64__)
    if (v) {
        scale_avx(s, n, 1.0f / exp_shift_sum_avx(s, n, m));
        if (b->f16) weighted_sum_f16_avx(s, (const uint16_t *)a->values + head_base, n, hd, oh);
        else weighted_sum_f32_avx(s, (const float *)a->values + head_base, n, hd, oh);
        return;
    }
#endif
    float inv = 1.0f / exp_shift_sum_scalar(s, n, m);
    for (int i = 0; i < hd; i++) oh[i] = 0;
    for (int p = 0; p < n; p++) {
        if (s[p] == 0) continue;
        float w = s[p] * inv;
        for (int i = 0; i < hd; i++) {
            size_t at = head_base + (size_t)p * hd + i;
            oh[i] += w * (b->f16 ? zk_half_to_float(((const uint16_t *)a->values)[at]) : ((const float *)a->values)[at]);
        }
    }
}

static void batch_part(void *c, int part, int parts) {
    const batch_ctx *b = c;
    int i0 = (int)((long)b->pairs * part / parts), i1 = (int)((long)b->pairs * (part + 1) / parts);
    float *s = b->scores + (size_t)part * b->positions;      // one score row per chunk
    // Head-major order: a chunk runs one head for consecutive queries, so queries of the same image
    // (ZipAR rows) find that head's keys and values in cache after the first one read them.
    for (int i = i0; i < i1; i++) {
        const zk_attn_query *a = &b->qs[i % b->count];
        // Rows of one image share a cache: only the first of a run asks for its lines.
        if (i == i0 || a->keys != b->qs[(i - 1) % b->count].keys) prefetch_pair(b, a, i / b->count);
        attend(b, a, i / b->count, s);
    }
}

void zk_attention_batch(const zk_attn_query *qs, int count, int heads, int kvHeads, int headDim,
                        int positions, int f16, int mask, float *scores, int scoreRows) {
    zk_runtime_init();
    if (count <= 0) return;
    batch_ctx b = { qs, count, heads, kvHeads, headDim, positions, f16, mask, count * heads, scores };
    long work = 0;
    for (int i = 0; i < count; i++) work += (long)(qs[i].last + 1) * heads * headDim;
    // A chunk is one head for up to 16 queries: whoever runs it reads that head's cache once and
    // the other rows of the same image hit in cache (chunks of single pairs let both threads pull
    // the same head from DRAM at the same time).
    int per = count < 16 ? count : 16;
    int chunks = (b.pairs + per - 1) / per;
    if (chunks > scoreRows) chunks = scoreRows;
    // A wake-up of the pool costs a few microseconds: tiny batches run on the caller alone.
    zk_parallel(work < 65536 ? 1 : chunks, batch_part, &b);
}

void zk_kv_store(void *keys, void *values, int positions, int kvHeads, int headDim, int f16, int position,
                 const float *k, const float *v) {
    zk_runtime_init();
    for (int h = 0; h < kvHeads; h++) {
        size_t at = ((size_t)h * positions + position) * headDim;
        const float *kh = k + (size_t)h * headDim, *vh = v + (size_t)h * headDim;
        if (!f16) {
            for (int i = 0; i < headDim; i++) { ((float *)keys)[at + i] = kh[i]; ((float *)values)[at + i] = vh[i]; }
            continue;
        }
        uint16_t *kd = (uint16_t *)keys + at, *vd = (uint16_t *)values + at;
#if defined(__x86_64__)
        if (vec()) { store_f16_avx(kd, kh, headDim); store_f16_avx(vd, vh, headDim); continue; }
#endif
        for (int i = 0; i < headDim; i++) { kd[i] = zk_float_to_half(kh[i]); vd[i] = zk_float_to_half(vh[i]); }
    }
}
