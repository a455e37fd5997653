// The activation side of the int8 products (matmul_q8_tile.h): each query row quantized per group of
// 32 exactly as zk_quantize_i8 quantizes a weight row, and the scalar product the vector tiles match.
#include "ckernels.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Grows to the largest call seen, never shrinks: steady-state passes allocate nothing. Per thread,
// because workers' engines may run products at the same time on different threads.
static _Thread_local unsigned char *q8_buf;
static _Thread_local size_t q8_cap;

// One group of 32 (k0 ..< k1 of row x; k1 - k0 < 32 for a short last group, 0 past `in`): its scale, its
// values q = rint(x * 127 / max|x|) (nearest even, as the vector quantizer rounds), |q|, and per lane of four
// -128 x the lane's sum. Both quantizers multiply by the same inverse, so they give the same bytes.
static void quantize_group_scalar(const float *x, int k0, int k1, int8_t *q, int8_t *qa, float *s4, int32_t *c4) {
    float m = 0;
    int bad = 0;
    for (int k = k0; k < k1; k++) {
        float v = fabsf(x[k]);
        if (!(v <= 3.0e38f)) bad = 1;   // NaN or infinite: the products must not hide it
        else if (v > m) m = v;
    }
    const float s = bad ? NAN : m / 127.0f, inv = !bad && m > 0 ? 127.0f / m : 0.0f;
    for (int i = 0; i < 32; i++) {
        float v = k0 + i < k1 ? rintf(x[k0 + i] * inv) : 0.0f;
        if (v > 127) v = 127;
        if (v < -127) v = -127;
        q[i] = (int8_t)v;
        qa[i] = (int8_t)(v < 0 ? -v : v);
    }
    for (int j = 0; j < 8; j++) {
        s4[j] = s;
        c4[j] = -128 * ((int32_t)q[4 * j] + q[4 * j + 1] + q[4 * j + 2] + q[4 * j + 3]);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
// A whole group with AVX2 (quantizing a row cost as much as the product's own arithmetic at 16 rows in cache
// when it divided and rounded one value at a time).
__attribute__((target("avx2,fma"))) static void quantize_group_avx2(const float *x, int8_t *q, int8_t *qa, float *s4,
                                                                     int32_t *c4) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4], m = _mm256_setzero_ps();
    int unordered = 0;
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        unordered |= _mm256_movemask_ps(_mm256_cmp_ps(v[i], v[i], _CMP_UNORD_Q));
        m = _mm256_max_ps(m, _mm256_and_ps(v[i], absmask));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float mx = _mm_cvtss_f32(h);
    if (unordered || !(mx <= 3.0e38f)) { quantize_group_scalar(x, 0, 32, q, qa, s4, c4); return; }
    const float s = mx / 127.0f, inv = mx > 0 ? 127.0f / mx : 0.0f;
    const __m256 iv = _mm256_set1_ps(inv);
    const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
    __m256i n[4];
    for (int i = 0; i < 4; i++)   // cvtps rounds to nearest even, like rintf
        n[i] = _mm256_max_epi32(nlim, _mm256_min_epi32(lim, _mm256_cvtps_epi32(_mm256_mul_ps(v[i], iv))));
    // int32 -> int16 -> int8 packs interleave the 128-bit halves; the permute puts the 32 bytes back in order.
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, b);
    _mm256_storeu_si256((__m256i *)qa, _mm256_abs_epi8(b));
    const __m256i lanes = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), b), _mm256_set1_epi16(1));
    _mm256_storeu_si256((__m256i *)c4, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(lanes, 7)));
    _mm256_storeu_ps(s4, _mm256_set1_ps(s));
}
#endif

int zk_q8_quantize_rows(const float *x, int rows, int in, zk_q8_rows *out) {
    const int kp = (in + 63) & ~63, k4 = kp / 4, kg = kp / 32;
    const size_t nq = (size_t)rows * kp, n4 = (size_t)rows * k4, n1 = (size_t)rows * kg;
    const size_t need = 2 * nq + n4 * (sizeof(float) + sizeof(int32_t)) + n1 * sizeof(float);
    if (need > q8_cap) {
        free(q8_buf);
        q8_buf = aligned_alloc(64, (need + 63) & ~(size_t)63);
        q8_cap = q8_buf ? need : 0;
        if (!q8_buf) return -1;
    }
    int8_t *q = (int8_t *)q8_buf, *qa = q + nq;     // nq is a multiple of 64: the float arrays stay aligned
    float *s4 = (float *)(qa + nq);
    int32_t *c4 = (int32_t *)(s4 + n4);
    float *s1 = (float *)(c4 + n4);
    const int vector = vec();
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * in;
        for (int g = 0; g < kg; g++) {
            const int k0 = g * 32, k1 = k0 + 32 < in ? k0 + 32 : (in > k0 ? in : k0);
            int8_t *qg = q + (size_t)r * kp + k0, *ag = qa + (size_t)r * kp + k0;
            float *sg = s4 + (size_t)r * k4 + g * 8;
            int32_t *cg = c4 + (size_t)r * k4 + g * 8;
#if defined(__x86_64__)
            if (vector && k1 - k0 == 32) quantize_group_avx2(xr + k0, qg, ag, sg, cg);
            else
#endif
                quantize_group_scalar(xr, k0, k1, qg, ag, sg, cg);
            s1[(size_t)r * kg + g] = sg[0];
        }
    }
    *out = (zk_q8_rows){ q, qa, s4, s1, c4, kp };
    return 0;
}

// The same sums as the tiles, one output at a time: each group's integer sum, times both scales.
void zk_q8_range_scalar(const zk_q8_rows *a, int rows, const int8_t *w, const float *sc, int out, int in, float *y,
                        int o0, int o1) {
    const int ng = (in + 31) / 32;
    for (int o = o0; o < o1; o++) {
        const int8_t *wr = w + (size_t)o * in;
        for (int q = 0; q < rows; q++) {
            const int8_t *xr = a->q + (size_t)q * a->kp;
            const float *sx = a->s4 + (size_t)q * (a->kp / 4);
            float s = 0;
            for (int g = 0; g < ng; g++) {
                const int k1 = (g + 1) * 32 < in ? (g + 1) * 32 : in;
                int32_t sum = 0;
                for (int k = g * 32; k < k1; k++) sum += (int32_t)wr[k] * xr[k];
                s += (float)sum * sx[g * 8] * sc[(size_t)o * ng + g];
            }
            y[(size_t)q * out + o] = s;
        }
    }
}

// x as the int8 products see it: each value rounded to its group's step (the BLAS path and the tests).
void zk_q8_dequantize_rows(const zk_q8_rows *a, int rows, int in, float *out) {
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < in; k++)
            out[(size_t)r * in + k] = (float)a->q[(size_t)r * a->kp + k] * a->s4[(size_t)r * (a->kp / 4) + k / 4];
}

int zk_q8_fake_quantize(const float *x, int rows, int in, float *out) {
    zk_runtime_init();
    zk_q8_rows a;
    if (zk_q8_quantize_rows(x, rows, in, &a) != 0) return -1;
    zk_q8_dequantize_rows(&a, rows, in, out);
    return 0;
}
