// Attention over a KV cache and the row-wise vector ops, with a vector exp.
#include "ckernels.h"
#include "internal.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX __attribute__((target("avx2,fma")))

// e^x, Cephes-style: x = n ln2 + r, e^r by a degree-5 polynomial, 2^n through the exponent bits.
// About 2 ulp; inputs below -87.3 (including -inf) give exactly 0.
AVX static inline __m256 exp256(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3f);
    __m256 zero_mask = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127));
    __m256 pow2n = _mm256_castsi256_ps(_mm256_slli_epi32(n, 23));
    return _mm256_andnot_ps(zero_mask, _mm256_mul_ps(y, pow2n));
}

AVX static inline float hsum256(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

AVX static inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

AVX static inline float dot_avx(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// p[i] = e^(p[i] - m) over n values; returns their sum.
AVX static float exp_shift_sum_avx(float *p, int n, float m) {
    __m256 mv = _mm256_set1_ps(m), sum = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(p + i), mv));
        _mm256_storeu_ps(p + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    float s = hsum256(sum);
    for (; i < n; i++) { float e = p[i] - m < -87.3f ? 0 : expf(p[i] - m); p[i] = e; s += e; }
    return s;
}

AVX static float max_avx(const float *p, int n) {
    __m256 mv = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(p + i));
    float m = hmax256(mv);
    for (; i < n; i++) if (p[i] > m) m = p[i];
    return m;
}

AVX static void scale_avx(float *p, int n, float s) {
    __m256 sv = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(p + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), sv));
    for (; i < n; i++) p[i] *= s;
}

// out[0..<hd] = sum_p w[p] v[p*stride ...], skipping zero weights (masked slots).
AVX static void weighted_sum_avx(const float *w, const float *v, int count, int stride, int hd, float *out) {
    int c = 0;
    for (; c + 32 <= hd; c += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int p = 0; p < count; p++) {
            if (w[p] == 0) continue;
            __m256 wv = _mm256_set1_ps(w[p]);
            const float *vp = v + (size_t)p * stride + c;
            a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(vp), a0);
            a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(vp + 8), a1);
            a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(vp + 16), a2);
            a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(vp + 24), a3);
        }
        _mm256_storeu_ps(out + c, a0); _mm256_storeu_ps(out + c + 8, a1);
        _mm256_storeu_ps(out + c + 16, a2); _mm256_storeu_ps(out + c + 24, a3);
    }
    for (; c + 8 <= hd; c += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int p = 0; p < count; p++)
            if (w[p] != 0) a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[p]), _mm256_loadu_ps(v + (size_t)p * stride + c), a0);
        _mm256_storeu_ps(out + c, a0);
    }
    for (; c < hd; c++) {
        float a = 0;
        for (int p = 0; p < count; p++) a += w[p] * v[(size_t)p * stride + c];
        out[c] = a;
    }
}
#endif

static float dot_scalar(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float exp_shift_sum_scalar(float *p, int n, float m) {
    float s = 0;
    for (int i = 0; i < n; i++) { float e = p[i] == -INFINITY ? 0 : expf(p[i] - m); p[i] = e; s += e; }
    return s;
}

static inline int vec(void) { return zk_level() >= ZK_ISA_AVX2; }

// ---- attention -------------------------------------------------------------------------------

typedef struct {
    const float *q, *keys, *values; int last; const uint8_t *filled; int mask, heads, kvHeads, hd;
    float *out, *scores;
} attn_ctx;

static void attn_heads(const attn_ctx *a, int h0, int h1) {
    const int hd = a->hd, n = a->last + 1, group = a->heads / a->kvHeads;
    const size_t stride = (size_t)a->kvHeads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const int v = vec();
    for (int h = h0; h < h1; h++) {
        const float *qh = a->q + (size_t)h * hd;
        const int kvh = h / group;
        float *s = a->scores + (size_t)h * n, *oh = a->out + (size_t)h * hd;
        float m = -INFINITY;
        int used = 0;
        for (int p = 0; p < n; p++) {
            if (a->mask && a->filled && !a->filled[p]) { s[p] = -INFINITY; continue; }
            const float *k = a->keys + p * stride + (size_t)kvh * hd;
#if defined(__x86_64__)
            float d = (v ? dot_avx(qh, k, hd) : dot_scalar(qh, k, hd)) * scale;
#else
            float d = dot_scalar(qh, k, hd) * scale;
#endif
            s[p] = d;
            if (d > m) m = d;
            used++;
        }
        if (used == 0) { for (int i = 0; i < hd; i++) oh[i] = 0; continue; }
        const float *vbase = a->values + (size_t)kvh * hd;
#if defined(__x86_64__)
        if (v) {
            float inv = 1.0f / exp_shift_sum_avx(s, n, m);
            scale_avx(s, n, inv);
            weighted_sum_avx(s, vbase, n, (int)stride, hd, oh);
            continue;
        }
#endif
        float inv = 1.0f / exp_shift_sum_scalar(s, n, m);
        for (int i = 0; i < hd; i++) oh[i] = 0;
        for (int p = 0; p < n; p++) {
            if (s[p] == 0) continue;
            float w = s[p] * inv;
            const float *vp = vbase + p * stride;
            for (int i = 0; i < hd; i++) oh[i] += w * vp[i];
        }
    }
}

static void attn_part(void *c, int part, int parts) {
    const attn_ctx *a = c;
    attn_heads(a, a->heads * part / parts, a->heads * (part + 1) / parts);
}

void zk_attention(const float *q, const float *keys, const float *values, int last,
                  const uint8_t *filled, int mask, int heads, int kvHeads, int headDim,
                  float *out, float *scores) {
    zk_runtime_init();
    attn_ctx a = { q, keys, values, last, filled, mask, heads, kvHeads, headDim, out, scores };
    // Splitting over heads pays off once the cache is long enough to dwarf a wake-up.
    long work = (long)heads * (last + 1) * headDim;
    zk_parallel(work >= 65536 ? heads : 1, attn_part, &a);
}

// ---- vector ops ------------------------------------------------------------------------------

void zk_rmsnorm(const float *x, int rows, int width, const float *weight, float eps, float *y) {
    zk_runtime_init();
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * width;
        float *yr = y + (size_t)r * width;
        float ss;
#if defined(__x86_64__)
        if (vec()) ss = dot_avx(xr, xr, width); else
#endif
        ss = dot_scalar(xr, xr, width);
        float inv = 1.0f / sqrtf(ss / (float)width + eps);
        for (int i = 0; i < width; i++) yr[i] = xr[i] * inv * weight[i];
    }
}

#if defined(__x86_64__)
AVX static void silu_gate_avx(float *a, const float *b, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(a + i);
        __m256 e = exp256(_mm256_sub_ps(zero, v));
        _mm256_storeu_ps(a + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), _mm256_loadu_ps(b + i)));
    }
    for (; i < n; i++) a[i] = a[i] / (1 + expf(-a[i])) * b[i];
}

AVX static void exp_avx(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp256(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = x[i] < -87.3f ? 0 : expf(x[i]);
}
#endif

void zk_silu_gate(float *a, const float *b, size_t n) {
    zk_runtime_init();
#if defined(__x86_64__)
    if (vec()) { silu_gate_avx(a, b, n); return; }
#endif
    for (size_t i = 0; i < n; i++) a[i] = a[i] / (1 + expf(-a[i])) * b[i];
}

void zk_add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void zk_softmax(float *p, int n) {
    zk_runtime_init();
    if (n <= 0) return;
#if defined(__x86_64__)
    if (vec()) {
        float m = max_avx(p, n);
        scale_avx(p, n, 1.0f / exp_shift_sum_avx(p, n, m));
        return;
    }
#endif
    float m = -INFINITY;
    for (int i = 0; i < n; i++) if (p[i] > m) m = p[i];
    float inv = 1.0f / exp_shift_sum_scalar(p, n, m);
    for (int i = 0; i < n; i++) p[i] *= inv;
}

void zk_exp(const float *x, float *y, size_t n) {
    zk_runtime_init();
#if defined(__x86_64__)
    if (vec()) { exp_avx(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
