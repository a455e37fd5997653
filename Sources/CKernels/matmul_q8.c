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

int zk_q8_quantize_rows(const float *x, int rows, int in, zk_q8_rows *out) {
    const int kp = (in + 63) & ~63, k4 = kp / 4;
    const size_t nq = (size_t)rows * kp, n4 = (size_t)rows * k4;
    const size_t need = 2 * nq + n4 * (sizeof(float) + sizeof(int32_t));
    if (need > q8_cap) {
        free(q8_buf);
        q8_buf = aligned_alloc(64, (need + 63) & ~(size_t)63);
        q8_cap = q8_buf ? need : 0;
        if (!q8_buf) return -1;
    }
    int8_t *q = (int8_t *)q8_buf, *qa = q + nq;     // nq is a multiple of 64: the float arrays stay aligned
    float *s4 = (float *)(qa + nq);
    int32_t *c4 = (int32_t *)(s4 + n4);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * in;
        int8_t *qr = q + (size_t)r * kp, *ar = qa + (size_t)r * kp;
        float *sr = s4 + (size_t)r * k4;
        int32_t *cr = c4 + (size_t)r * k4;
        for (int g = 0; g < kp / 32; g++) {
            const int k0 = g * 32, k1 = k0 + 32 < in ? k0 + 32 : (in > k0 ? in : k0);
            float m = 0;
            int bad = 0;
            for (int k = k0; k < k1; k++) {
                float v = fabsf(xr[k]);
                if (!(v <= 3.0e38f)) bad = 1;   // NaN or infinite: the products must not hide it
                else if (v > m) m = v;
            }
            const float s = bad ? NAN : m / 127.0f;
            for (int k = k0; k < k0 + 32; k++) {
                float v = k < k1 && !bad && s > 0 ? roundf(xr[k] / s) : 0.0f;   // nearest, ties away from zero
                if (v > 127) v = 127;
                if (v < -127) v = -127;
                qr[k] = (int8_t)v;
                ar[k] = (int8_t)(v < 0 ? -v : v);
            }
            for (int j = 0; j < 8; j++) {
                const int8_t *l = qr + k0 + 4 * j;
                sr[g * 8 + j] = s;
                cr[g * 8 + j] = -128 * ((int32_t)l[0] + l[1] + l[2] + l[3]);
            }
        }
    }
    *out = (zk_q8_rows){ q, qa, s4, c4, kp };
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
int zk_q8_fake_quantize(const float *x, int rows, int in, float *out) {
    zk_q8_rows a;
    if (zk_q8_quantize_rows(x, rows, in, &a) != 0) return -1;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < in; k++)
            out[(size_t)r * in + k] = (float)a.q[(size_t)r * a.kp + k] * a.s4[(size_t)r * (a.kp / 4) + k / 4];
    return 0;
}
