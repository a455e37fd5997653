// The row-wise vector ops of the transformer (norms, SwiGLU gate, softmax, residual add).
#include "ckernels.h"
#include "internal.h"

#include <math.h>

#include "simd_math.h"


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
AVX static void silu_gate_avx(float *out, const float *a, const float *b, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(a + i);
        __m256 e = exp256(_mm256_sub_ps(zero, v));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), _mm256_loadu_ps(b + i)));
    }
    for (; i < n; i++) out[i] = a[i] / (1 + expf(-a[i])) * b[i];
}

AVX static void exp_avx(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp256(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = x[i] < -87.3f ? 0 : expf(x[i]);
}
#endif

void zk_silu_gate(float *out, const float *a, const float *b, size_t n) {
    zk_runtime_init();
#if defined(__x86_64__)
    if (vec()) { silu_gate_avx(out, a, b, n); return; }
#endif
    for (size_t i = 0; i < n; i++) out[i] = a[i] / (1 + expf(-a[i])) * b[i];
}

#if defined(__x86_64__)
// Pairs (a, b) at even/odd lanes, table (c, s) likewise: even lanes a c - b s, odd lanes b c + a s.
AVX static void rope_avx(float *x, const float *t, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), cs = _mm256_loadu_ps(t + i);
        __m256 swapped = _mm256_permute_ps(v, 0xb1);                       // (b, a) pairs
        __m256 c = _mm256_moveldup_ps(cs), s = _mm256_movehdup_ps(cs);
        _mm256_storeu_ps(x + i, _mm256_fmaddsub_ps(v, c, _mm256_mul_ps(swapped, s)));
    }
    for (; i + 2 <= n; i += 2) {
        float a = x[i], b = x[i + 1], c = t[i], s = t[i + 1];
        x[i] = a * c - b * s;
        x[i + 1] = b * c + a * s;
    }
}
#endif

void zk_rope(float *x, int heads, int headDim, const float *table) {
    zk_runtime_init();
    for (int h = 0; h < heads; h++) {
        float *v = x + (size_t)h * headDim;
#if defined(__x86_64__)
        if (vec()) { rope_avx(v, table, headDim); continue; }
#endif
        for (int i = 0; i + 2 <= headDim; i += 2) {
            float a = v[i], b = v[i + 1], c = table[i], s = table[i + 1];
            v[i] = a * c - b * s;
            v[i + 1] = b * c + a * s;
        }
    }
}

void zk_add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void zk_softmax(float *p, int n) {
    zk_runtime_init();
    if (n <= 0) return;
    float m = -INFINITY;
#if defined(__x86_64__)
    if (vec()) m = max_avx(p, n); else
#endif
    for (int i = 0; i < n; i++) if (p[i] > m) m = p[i];
    if (m == -INFINITY) {                     // everything filtered out: uniform, not NaN
        for (int i = 0; i < n; i++) p[i] = 1.0f / (float)n;
        return;
    }
#if defined(__x86_64__)
    if (vec()) { scale_avx(p, n, 1.0f / exp_shift_sum_avx(p, n, m)); return; }
#endif
    float inv = 1.0f / exp_shift_sum_scalar(p, n, m);
    for (int i = 0; i < n; i++) p[i] *= inv;
}

void zk_exp(const float *x, float *y, size_t n) {
    zk_runtime_init();
#if defined(__x86_64__)
    if (vec()) { exp_avx(x, y, n); return; }
#endif
    // Below -87.3 the vector path flushes to 0 (no subnormals); the scalar fallback gives the same.
    for (size_t i = 0; i < n; i++) y[i] = x[i] < -87.3f ? 0 : expf(x[i]);
}
