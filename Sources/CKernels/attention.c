// Attention of a batch of query tokens over their own sequences' KV caches: one call per layer.
//
// A cache layer is [kvHead][position][headDim] (f32 or IEEE half), so one head's keys are one
// contiguous run that the hardware prefetcher streams, instead of 256-byte pieces 3 KB apart.
// Each query brings its sequence's cache, its last position and the filled flags: ragged batches
// need no mask matrix. The (query, head) pairs are split over the pool in one dispatch per layer.
#include "ckernels.h"
#include "internal.h"
#include "simd_math.h"

#if defined(__x86_64__)
#define AVXH __attribute__((target("avx2,fma,f16c")))

AVXH static inline float dot_f16_avx(const float *q, const uint16_t *k, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i))), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8))), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i))), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += q[i] * zk_half_to_float(k[i]);
    return s;
}

// out[0..<hd] = sum_p w[p] v[p], rows of hd values back to back; zero weights (masked slots) skipped.
#define ZK_WSUM(NAME, VTYPE, LOAD, SCALAR)                                                           \
AVXH static void NAME(const float *w, const VTYPE *v, int count, int hd, float *out) {             \
    int c = 0;                                                                                     \
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

AVXH static void store_f16_avx(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = zk_float_to_half(src[i]);
}
#endif

static inline int vec(void) { return zk_level() >= ZK_ISA_AVX2; }

static float dot_f16_scalar(const float *q, const uint16_t *k, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * zk_half_to_float(k[i]);
    return s;
}

typedef struct {
    const zk_attn_query *qs;
    int heads, kvHeads, hd, positions, f16, mask, pairs;
    float *scores;
} batch_ctx;

// One head of one query: scores into s (last + 1 floats), softmax, weighted sum of the values.
static void attend(const batch_ctx *b, const zk_attn_query *a, int h, float *s) {
    const int hd = b->hd, n = a->last + 1, kvh = h / (b->heads / b->kvHeads);
    const size_t head_base = (size_t)kvh * b->positions * hd;
    const float *qh = a->q + (size_t)h * hd;
    float *oh = a->out + (size_t)h * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const int v = vec();
    const float *k32 = b->f16 ? NULL : (const float *)a->keys + head_base;
    const uint16_t *k16 = b->f16 ? (const uint16_t *)a->keys + head_base : NULL;
    float m = -INFINITY;
    int used = 0;
    for (int p = 0; p < n; p++) {
        if (b->mask && a->filled && !a->filled[p]) { s[p] = -INFINITY; continue; }
        float d;
#if defined(__x86_64__)
        if (v) d = k16 ? dot_f16_avx(qh, k16 + (size_t)p * hd, hd) : dot_avx(qh, k32 + (size_t)p * hd, hd);
        else
#endif
        d = k16 ? dot_f16_scalar(qh, k16 + (size_t)p * hd, hd) : dot_scalar(qh, k32 + (size_t)p * hd, hd);
        s[p] = d * scale;
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
    for (int i = i0; i < i1; i++) attend(b, &b->qs[i / b->heads], i % b->heads, s);
}

void zk_attention_batch(const zk_attn_query *qs, int count, int heads, int kvHeads, int headDim,
                        int positions, int f16, int mask, float *scores, int scoreRows) {
    zk_runtime_init();
    if (count <= 0) return;
    batch_ctx b = { qs, heads, kvHeads, headDim, positions, f16, mask, count * heads, scores };
    long work = 0;
    for (int i = 0; i < count; i++) work += (long)(qs[i].last + 1) * heads * headDim;
    int chunks = b.pairs < scoreRows ? b.pairs : scoreRows;
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
