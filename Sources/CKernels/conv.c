// The VQ decoder's image ops: direct 3x3 / 1x1 convolution, GroupNorm (+ swish), padding and
// nearest 2x upsampling, on channel-major activations, split over the pool. No im2col: a 3x3
// convolution reads its (zero-padded) input in place, nine shifted loads per input channel.
//
// Padded layout: channel c of a padded activation is a plane of (H + 2) x (W + 2) floats (a zero
// border of one pixel) followed by ZK_CONV_SLACK zeros; zk_conv_plane gives the plane's stride. The
// convolution computes output position q = oy * (W + 2) + ox for ox in 0 ..< W + 2 (the two extra
// columns are thrown away): every tap is then the same contiguous vector shifted by
// ky * (W + 2) + kx, whatever the image width, and a tile of 24 positions may span rows.
#include "ckernels.h"
#include "internal.h"
#include "simd_math.h"
#include "winograd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ZK_CONV_TP 24      // positions per register tile, AVX2 and scalar (3 vectors of 8)
#define ZK_CONV_TP512 48   // AVX-512: 3 vectors of 16
#define ZK_CONV_SLACK 64   // zeros after each padded plane: the last tile reads up to TP + 2 past it

#if defined(__x86_64__)
#define SFX avx2
#define TGT __attribute__((target("avx2,fma")))
#define NO 4
#include "conv_body.h"
#undef SFX
#undef TGT
#undef NO

#define TGT512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
// AVX-512: 8 output channels x 48 positions in 24 zmm accumulators; per input channel and tap
// 3 loads and 8 broadcasts for 24 FMAs of 16 lanes (half the instructions per FLOP of ymm code).
#define ZK_CONV_TILE512(NAME, TAPS)                                                                  \
TGT512 static void NAME(const float *restrict x, size_t plane, int channels, const int *restrict offs, \
                        const float *restrict w, float *restrict tmp) {                               \
    __m512 acc[8][3];                                                                                \
    for (int j = 0; j < 8; j++) for (int v = 0; v < 3; v++) acc[j][v] = _mm512_setzero_ps();        \
    int off[TAPS];                                                                                   \
    for (int t = 0; t < TAPS; t++) off[t] = offs[t];                                                 \
    for (int c = 0; c < channels; c++) {                                                             \
        const float *xc = x + (size_t)c * plane;                                                     \
        const float *wc = w + (size_t)c * TAPS * 8;                                                  \
        for (int t = 0; t < TAPS; t++) {                                                             \
            const float *xt = xc + off[t];                                                           \
            __m512 x0 = _mm512_loadu_ps(xt), x1 = _mm512_loadu_ps(xt + 16), x2 = _mm512_loadu_ps(xt + 32); \
            for (int j = 0; j < 8; j++) {                                                            \
                __m512 b = _mm512_set1_ps(wc[t * 8 + j]);                                            \
                acc[j][0] = _mm512_fmadd_ps(b, x0, acc[j][0]);                                       \
                acc[j][1] = _mm512_fmadd_ps(b, x1, acc[j][1]);                                       \
                acc[j][2] = _mm512_fmadd_ps(b, x2, acc[j][2]);                                       \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    for (int j = 0; j < 8; j++)                                                                      \
        for (int v = 0; v < 3; v++) _mm512_storeu_ps(tmp + j * ZK_CONV_TP512 + v * 16, acc[j][v]);  \
}
ZK_CONV_TILE512(conv_tile9_avx512, 9)
ZK_CONV_TILE512(conv_tile1_avx512, 1)

TGT512 static void conv_block_avx512(const float *x, size_t plane, int channels, const int *offs, int taps,
                                     const float *w, float *tmp) {
    if (taps == 9) conv_tile9_avx512(x, plane, channels, offs, w, tmp);
    else conv_tile1_avx512(x, plane, channels, offs, w, tmp);
}
#endif

static void conv_block_scalar(const float *x, size_t plane, int channels, const int *offs, int taps,
                              const float *w, float *tmp) {
    for (int j = 0; j < 8; j++) {
        float acc[ZK_CONV_TP] = { 0 };
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < taps; t++) {
                const float *xt = x + (size_t)c * plane + offs[t];
                float wv = w[((size_t)c * taps + t) * 8 + j];
                for (int i = 0; i < ZK_CONV_TP; i++) acc[i] += wv * xt[i];
            }
        memcpy(tmp + j * ZK_CONV_TP, acc, sizeof acc);
    }
}

// The 1x1 register tile over `channels` rows of `stride` floats, for Winograd's per-position
// products (winograd.c): tmp [8][tp] = w [channels][8]^T x [channels][tp], tp = zk_conv_tile_width.
void zk_conv_gemm_block(int level, const float *x, size_t stride, int channels, const float *w, float *tmp) {
    static const int zero[1] = { 0 };
    switch (level) {
#if defined(__x86_64__)
    case ZK_ISA_AVX512: conv_tile1_avx512(x, stride, channels, zero, w, tmp); break;
    case ZK_ISA_AVX2: conv_block_avx2(x, stride, channels, zero, 1, w, tmp); break;
#endif
    default: conv_block_scalar(x, stride, channels, zero, 1, w, tmp);
    }
}

int zk_conv_tile_width(int level) { return level == ZK_ISA_AVX512 ? ZK_CONV_TP512 : ZK_CONV_TP; }

size_t zk_conv_plane(int height, int width) {
    size_t p = (size_t)(height + 2) * (width + 2) + ZK_CONV_SLACK;
    return (p + 15) & ~(size_t)15;
}

size_t zk_conv_packed_count(int out, int in, int kernel) {
    return (size_t)((out + 7) / 8) * in * kernel * kernel * 8;
}

void zk_conv_pack(const float *w, int out, int in, int kernel, float *packed) {
    int taps = kernel * kernel, blocks = (out + 7) / 8;
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < in; c++)
            for (int t = 0; t < taps; t++)
                for (int j = 0; j < 8; j++) {
                    int o = b * 8 + j;
                    packed[(((size_t)b * in + c) * taps + t) * 8 + j] = o < out ? w[((size_t)o * in + c) * taps + t] : 0;
                }
}

// ---- padding / upsampling ----------------------------------------------------------------------

typedef struct { const float *x; int channels, height, width, up; float *xp; } pad_ctx;

static void pad_part(void *p, int part, int parts) {
    const pad_ctx *a = p;
    int c0 = (int)((long)a->channels * part / parts), c1 = (int)((long)a->channels * (part + 1) / parts);
    int oh = a->height * a->up, ow = a->width * a->up, wp = ow + 2;
    size_t plane = zk_conv_plane(oh, ow);
    for (int c = c0; c < c1; c++) {
        float *dst = a->xp + (size_t)c * plane;
        const float *src = a->x + (size_t)c * a->height * a->width;
        memset(dst, 0, (size_t)wp * sizeof(float));
        for (int y = 0; y < oh; y++) {
            float *row = dst + (size_t)(y + 1) * wp;
            const float *s = src + (size_t)(y / a->up) * a->width;
            row[0] = 0; row[ow + 1] = 0;
            if (a->up == 1) memcpy(row + 1, s, (size_t)ow * sizeof(float));
            else for (int x = 0; x < a->width; x++) { row[1 + 2 * x] = s[x]; row[2 + 2 * x] = s[x]; }
        }
        memset(dst + (size_t)(oh + 1) * wp, 0, (plane - (size_t)(oh + 1) * wp) * sizeof(float));
    }
}

void zk_conv_pad(const float *x, int channels, int height, int width, int up, float *xp) {
    zk_runtime_init();
    pad_ctx a = { x, channels, height, width, up == 2 ? 2 : 1, xp };
    int parts = channels < 4 * zk_threads() ? channels : 4 * zk_threads();
    zk_parallel((size_t)channels * height * width < 65536 ? 1 : parts, pad_part, &a);
}

// ---- GroupNorm (+ swish) ------------------------------------------------------------------------

typedef struct {
    const float *x; int channels, height, width, groups; float eps; const float *gamma, *beta;
    int swish, padded; float *y;
} gn_ctx;

#if defined(__x86_64__)
// Sum of n floats, and of their squared distances to m, in float vectors reduced to double
// every 512 values (so long rows keep double-precision totals).
AVX static void sums_avx(const float *p, int n, double m, double *s, double *ss) {
    double a = 0, b = 0;
    __m256 mv = _mm256_set1_ps((float)m);
    for (int start = 0; start < n; start += 512) {
        int end = start + 512 < n ? start + 512 : n, i = start;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, q0 = s0, q1 = s0;
        for (; i + 16 <= end; i += 16) {
            __m256 v0 = _mm256_loadu_ps(p + i), v1 = _mm256_loadu_ps(p + i + 8);
            s0 = _mm256_add_ps(s0, v0); s1 = _mm256_add_ps(s1, v1);
            __m256 d0 = _mm256_sub_ps(v0, mv), d1 = _mm256_sub_ps(v1, mv);
            q0 = _mm256_fmadd_ps(d0, d0, q0); q1 = _mm256_fmadd_ps(d1, d1, q1);
        }
        for (; i + 8 <= end; i += 8) {
            __m256 v0 = _mm256_loadu_ps(p + i), d0 = _mm256_sub_ps(v0, mv);
            s0 = _mm256_add_ps(s0, v0); q0 = _mm256_fmadd_ps(d0, d0, q0);
        }
        a += hsum256(_mm256_add_ps(s0, s1)); b += hsum256(_mm256_add_ps(q0, q1));
        for (; i < end; i++) { double d = (double)p[i] - (float)m; a += p[i]; b += d * d; }
    }
    *s = a; *ss = b;
}

AVX static void affine_avx(const float *x, int n, float a, float b, int swish, float *y) {
    __m256 av = _mm256_set1_ps(a), bv = _mm256_set1_ps(b), one = _mm256_set1_ps(1);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), av, bv);
        if (swish) v = _mm256_div_ps(v, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; i++) { float v = x[i] * a + b; y[i] = swish ? v / (1 + expf(-v)) : v; }
}
#endif

static void sums_scalar(const float *p, int n, double m, double *s, double *ss) {
    double a = 0, b = 0;
    for (int i = 0; i < n; i++) { a += p[i]; b += ((double)p[i] - m) * ((double)p[i] - m); }
    *s = a; *ss = b;
}

static void affine_scalar(const float *x, int n, float a, float b, int swish, float *y) {
    for (int i = 0; i < n; i++) { float v = x[i] * a + b; y[i] = swish ? v / (1 + expf(-v)) : v; }
}

static void gn_part(void *p, int g, int groups) {
    const gn_ctx *a = p;
    (void)groups;
    int per = a->channels / a->groups, hw = a->height * a->width;
    const float *xg = a->x + (size_t)g * per * hw;
    int v = vec();
    // Two passes, like the reference: the mean, then the variance around it.
    double sum = 0, ss, s;
    for (int c = 0; c < per; c++) {
#if defined(__x86_64__)
        if (v) sums_avx(xg + (size_t)c * hw, hw, 0, &s, &ss); else
#endif
        sums_scalar(xg + (size_t)c * hw, hw, 0, &s, &ss);
        sum += s;
    }
    double n = (double)per * hw, mean = sum / n, var = 0;
    for (int c = 0; c < per; c++) {
#if defined(__x86_64__)
        if (v) sums_avx(xg + (size_t)c * hw, hw, mean, &s, &ss); else
#endif
        sums_scalar(xg + (size_t)c * hw, hw, mean, &s, &ss);
        var += ss;
    }
    var /= n;
    float inv = (float)(1 / sqrt(var + (double)a->eps)), m = (float)mean;
    size_t plane = a->padded ? zk_conv_plane(a->height, a->width) : (size_t)hw;
    for (int c = g * per; c < (g + 1) * per; c++) {
        float sa = a->gamma[c] * inv, sb = a->beta[c] - m * a->gamma[c] * inv;
        const float *xc = a->x + (size_t)c * hw;
        float *yc = a->y + (size_t)c * plane;
        if (!a->padded) {
#if defined(__x86_64__)
            if (v) { affine_avx(xc, hw, sa, sb, a->swish, yc); continue; }
#endif
            affine_scalar(xc, hw, sa, sb, a->swish, yc);
            continue;
        }
        int w = a->width, wp = w + 2;
        memset(yc, 0, (size_t)wp * sizeof(float));
        for (int y = 0; y < a->height; y++) {
            float *row = yc + (size_t)(y + 1) * wp;
            row[0] = 0; row[w + 1] = 0;
#if defined(__x86_64__)
            if (v) { affine_avx(xc + (size_t)y * w, w, sa, sb, a->swish, row + 1); continue; }
#endif
            affine_scalar(xc + (size_t)y * w, w, sa, sb, a->swish, row + 1);
        }
        memset(yc + (size_t)(a->height + 1) * wp, 0, (plane - (size_t)(a->height + 1) * wp) * sizeof(float));
    }
}

void zk_group_norm(const float *x, int channels, int height, int width, int groups, float eps,
                   const float *gamma, const float *beta, int swish, int padded, float *y) {
    zk_runtime_init();
    gn_ctx a = { x, channels, height, width, groups, eps, gamma, beta, swish, padded, y };
    // One part per group (the pool hands them out as threads free up); small images in the caller.
    if ((size_t)channels * height * width < 32768) for (int g = 0; g < groups; g++) gn_part(&a, g, groups);
    else zk_parallel(groups, gn_part, &a);
}

// ---- convolution ---------------------------------------------------------------------------------

typedef struct {
    const float *xp; int in, height, width, kernel; const float *w; const float *bias; int out;
    const float *skip; float *y;
    int level, tp, tiles, blocks, tparts, oparts;   // level: fixed per call (tests flip zk_force_scalar)
} conv_ctx;

static void conv_part(void *p, int part, int parts) {
    (void)parts;
    const conv_ctx *a = p;
    int pt = part % a->tparts, po = part / a->tparts;
    int t0 = (int)((long)a->tiles * pt / a->tparts), t1 = (int)((long)a->tiles * (pt + 1) / a->tparts);
    int b0 = (int)((long)a->blocks * po / a->oparts), b1 = (int)((long)a->blocks * (po + 1) / a->oparts);
    int w = a->width, wp = w + 2, taps = a->kernel * a->kernel;
    size_t plane = zk_conv_plane(a->height, w), hw = (size_t)a->height * w;
    int offs[9];
    for (int ky = 0, t = 0; ky < a->kernel; ky++)
        for (int kx = 0; kx < a->kernel; kx++, t++) offs[t] = a->kernel == 1 ? wp + 1 : ky * wp + kx;
    int limit = a->height * wp;           // positions with a real output row
    float tmp[8 * ZK_CONV_TP512] __attribute__((aligned(64)));
    int level = a->level, tp = a->tp;
    for (int t = t0; t < t1; t++) {
        int q0 = t * tp;
        const float *xq = a->xp + q0;
#if defined(__x86_64__)
        // The newest input row of a tile two ahead, every channel: a large image streams its input
        // from DRAM as C x 3 rows at once, more streams than the hardware prefetcher follows.
        if (a->kernel == 3 && plane > 8192)
            for (int c = 0; c < a->in; c++) {
                const char *r = (const char *)(xq + (size_t)c * plane + 2 * wp + 2 * tp);
                _mm_prefetch(r, _MM_HINT_T1);
                _mm_prefetch(r + 64, _MM_HINT_T1);
            }
#endif
        for (int b = b0; b < b1; b++) {
            const float *wb = a->w + (size_t)b * a->in * taps * 8;
            switch (level) {
#if defined(__x86_64__)
            case ZK_ISA_AVX512: conv_block_avx512(xq, plane, a->in, offs, taps, wb, tmp); break;
            case ZK_ISA_AVX2: conv_block_avx2(xq, plane, a->in, offs, taps, wb, tmp); break;
#endif
            default: conv_block_scalar(xq, plane, a->in, offs, taps, wb, tmp);
            }
            int jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8;
            for (int j = 0; j < jn; j++) {
                int o = b * 8 + j;
                float bias = a->bias ? a->bias[o] : 0;
                float *yo = a->y + (size_t)o * hw;
                const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
                const float *tj = tmp + j * tp;
                int oy = q0 / wp, ox = q0 - oy * wp;
                for (int i = 0; i < tp && q0 + i < limit; i++) {
                    if (ox < w) {
                        size_t at = (size_t)oy * w + ox;
                        yo[at] = so ? tj[i] + bias + so[at] : tj[i] + bias;
                    }
                    if (++ox == wp) { ox = 0; oy++; }
                }
            }
        }
    }
}

void zk_conv2d(const float *xp, int in, int height, int width, int kernel, const float *packed,
               const float *bias, int out, const float *skip, float *y) {
    zk_runtime_init();
    if (out <= 0 || height <= 0 || width <= 0) return;
    int level = zk_level(), tp = level == ZK_ISA_AVX512 ? ZK_CONV_TP512 : ZK_CONV_TP;
    int tiles = (height * (width + 2) + tp - 1) / tp, blocks = (out + 7) / 8;
    int want = 8 * zk_threads();
    int tparts = tiles < want ? tiles : want;
    int oparts = want / tparts;
    if (oparts < 1) oparts = 1;
    if (oparts > blocks) oparts = blocks;
    double work = (double)tiles * tp * blocks * 8 * in * kernel * kernel;
    if (work < 2e5) tparts = oparts = 1;      // tiny: one part, in the caller
    conv_ctx a = { xp, in, height, width, kernel, packed, bias, out, skip, y, level, tp, tiles, blocks, tparts, oparts };
    zk_parallel(tparts * oparts, conv_part, &a);
}
