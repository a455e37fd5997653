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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZK_CONV_TP 24      // positions per register tile, AVX2 and scalar (3 vectors of 8)
#define ZK_CONV_TP512 48   // AVX-512: 3 vectors of 16
#define ZK_CONV_SLACK 64   // zeros after each padded plane: the last tile reads up to TP + 2 past it

#if defined(__x86_64__)
// The intrinsics tiles of conv_body.h for 256 and 512 bits (the AVX2 one is the fallback of the
// assembly tile below).
#define CLOADU _mm256_loadu_ps
#define CSTOREU _mm256_storeu_ps
#define CFMA _mm256_fmadd_ps
#define CSET1 _mm256_set1_ps
#define CZERO _mm256_setzero_ps
#define SFX avx2
#define TGT __attribute__((target("avx2,fma")))
#define NO 4
#define CV __m256
#define CL 8
#define CTP ZK_CONV_TP
#include "conv_body.h"
#define CLOADU _mm512_loadu_ps
#define CSTOREU _mm512_storeu_ps
#define CFMA _mm512_fmadd_ps
#define CSET1 _mm512_set1_ps
#define CZERO _mm512_setzero_ps
#define SFX avx512
#define TGT __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define NO 8
#define CV __m512
#define CL 16
#define CTP ZK_CONV_TP512
#include "conv_body.h"

// AVX2 register tile in inline assembly: 4 output channels x 24 positions in ymm0-11, the 3 input
// vectors of a tap in ymm12-14, the broadcast weight in ymm15. Compilers do not keep the intrinsics
// version (conv_body.h) in 16 registers: they leave the tap loop rolled, reload its offsets and
// shuffle accumulators between registers every iteration (half the issue slots went to moves).
// Here every tap is unrolled with its offset an immediate displacement from one of three row
// pointers (x, x + wp, x + 2 wp: the index register holds the padded row in bytes), so a channel
// is 27 loads, 36 broadcasts and 108 FMAs with nothing else. The accumulators start from acc
// [4][24] (stride ZK_CONV_TP) when `accumulate` is set, else from zero, and end there: the caller
// splits the input channels into chunks and sums the chunks there.
#if defined(__GNUC__)
#define ZK_XL(R, KX, V, REG) "vmovups " #KX "*4+" #V "*32(" R "), %%" REG "\n\t"
#define ZK_BC(T, J) "vbroadcastss " #T "*32+" #J "*4(%[w]), %%ymm15\n\t"
#define ZK_F3(A, B, C) "vfmadd231ps %%ymm12, %%ymm15, %%" A "\n\t" "vfmadd231ps %%ymm13, %%ymm15, %%" B "\n\t" \
                       "vfmadd231ps %%ymm14, %%ymm15, %%" C "\n\t"
#define ZK_TAP(R, KX, T) ZK_XL(R, KX, 0, "ymm12") ZK_XL(R, KX, 1, "ymm13") ZK_XL(R, KX, 2, "ymm14")            \
    ZK_BC(T, 0) ZK_F3("ymm0", "ymm1", "ymm2") ZK_BC(T, 1) ZK_F3("ymm3", "ymm4", "ymm5")                      \
    ZK_BC(T, 2) ZK_F3("ymm6", "ymm7", "ymm8") ZK_BC(T, 3) ZK_F3("ymm9", "ymm10", "ymm11")
#define ZK_ACC(OP, J, V, REG) OP " " #J "*96+" #V "*32(%[acc]), %%" REG "\n\t"
#define ZK_ACC_LOAD(J, A, B, C) ZK_ACC("vmovups", J, 0, A) ZK_ACC("vmovups", J, 1, B) ZK_ACC("vmovups", J, 2, C)
#define ZK_ACC_STORE1(J, V, REG) "vmovups %%" REG ", " #J "*96+" #V "*32(%[acc])\n\t"
#define ZK_ACC_STORE(J, A, B, C) ZK_ACC_STORE1(J, 0, A) ZK_ACC_STORE1(J, 1, B) ZK_ACC_STORE1(J, 2, C)
#define ZK_TILE_PROLOGUE                                                                              \
    "test %[accumulate], %[accumulate]\n\t" "jz 1f\n\t"                                                \
    ZK_ACC_LOAD(0, "ymm0", "ymm1", "ymm2") ZK_ACC_LOAD(1, "ymm3", "ymm4", "ymm5")                     \
    ZK_ACC_LOAD(2, "ymm6", "ymm7", "ymm8") ZK_ACC_LOAD(3, "ymm9", "ymm10", "ymm11") "jmp 2f\n\t"       \
    "1:\n\t" "vxorps %%xmm0, %%xmm0, %%xmm0\n\t" "vxorps %%xmm1, %%xmm1, %%xmm1\n\t"                   \
    "vxorps %%xmm2, %%xmm2, %%xmm2\n\t" "vxorps %%xmm3, %%xmm3, %%xmm3\n\t"                            \
    "vxorps %%xmm4, %%xmm4, %%xmm4\n\t" "vxorps %%xmm5, %%xmm5, %%xmm5\n\t"                            \
    "vxorps %%xmm6, %%xmm6, %%xmm6\n\t" "vxorps %%xmm7, %%xmm7, %%xmm7\n\t"                            \
    "vxorps %%xmm8, %%xmm8, %%xmm8\n\t" "vxorps %%xmm9, %%xmm9, %%xmm9\n\t"                            \
    "vxorps %%xmm10, %%xmm10, %%xmm10\n\t" "vxorps %%xmm11, %%xmm11, %%xmm11\n\t"                      \
    ".p2align 5\n\t" "2:\n\t"
#define ZK_TILE_EPILOGUE                                                                              \
    ZK_ACC_STORE(0, "ymm0", "ymm1", "ymm2") ZK_ACC_STORE(1, "ymm3", "ymm4", "ymm5")                   \
    ZK_ACC_STORE(2, "ymm6", "ymm7", "ymm8") ZK_ACC_STORE(3, "ymm9", "ymm10", "ymm11") "vzeroupper\n\t"
#define ZK_TILE_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
    "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory"

// 3x3: x at the tile's first position of the first channel, wp the padded row in floats, w the
// block's weights [channels][9][8] advanced to the first of the 4 output channels.
static void conv_asm9_avx2(const float *x, size_t plane, int wp, int channels, const float *w, float *acc,
                           int accumulate) {
    long pb = (long)plane * 4, wb = (long)wp * 4, n = channels;
    __asm__ volatile(
        ZK_TILE_PROLOGUE
        ZK_TAP("%[x]", 0, 0) ZK_TAP("%[x]", 1, 1) ZK_TAP("%[x]", 2, 2)
        ZK_TAP("%[x],%[wb],1", 0, 3) ZK_TAP("%[x],%[wb],1", 1, 4) ZK_TAP("%[x],%[wb],1", 2, 5)
        ZK_TAP("%[x],%[wb],2", 0, 6) ZK_TAP("%[x],%[wb],2", 1, 7) ZK_TAP("%[x],%[wb],2", 2, 8)
        "add %[pb], %[x]\n\t" "add $288, %[w]\n\t" "dec %[n]\n\t" "jnz 2b\n\t"
        ZK_TILE_EPILOGUE
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(n)
        : [pb] "r"(pb), [wb] "r"(wb), [acc] "r"(acc), [accumulate] "r"(accumulate)
        : ZK_TILE_CLOBBERS);
}

// 1x1 (and Winograd's per-position products): x rows `stride` floats apart, w [channels][8].
static void conv_asm1_avx2(const float *x, size_t stride, int channels, const float *w, float *acc, int accumulate) {
    long pb = (long)stride * 4, n = channels;
    __asm__ volatile(
        ZK_TILE_PROLOGUE
        ZK_TAP("%[x]", 0, 0)
        "add %[pb], %[x]\n\t" "add $32, %[w]\n\t" "dec %[n]\n\t" "jnz 2b\n\t"
        ZK_TILE_EPILOGUE
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(n)
        : [pb] "r"(pb), [acc] "r"(acc), [accumulate] "r"(accumulate)
        : ZK_TILE_CLOBBERS);
}
#define ZK_CONV_ASM 1
#endif

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
    case ZK_ISA_AVX512: conv_tile1_avx512(x, stride, channels, zero, w, tmp, 0); break;
#if defined(ZK_CONV_ASM)
    case ZK_ISA_AVX2:
        conv_asm1_avx2(x, stride, channels, w, tmp, 0);
        conv_asm1_avx2(x, stride, channels, w + 4, tmp + 4 * ZK_CONV_TP, 0);
        break;
#else
    case ZK_ISA_AVX2: conv_block_avx2(x, stride, channels, zero, 1, w, tmp); break;
#endif
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

// Writes tile t's outputs tmp [8][tp] for block b into y (+ bias, + skip), dropping the padding
// columns: run by run within an output row, so the copies vectorise.
static void conv_store(const conv_ctx *a, int t, int b, const float *tmp) {
    int w = a->width, wp = w + 2, tp = a->tp, q0 = t * tp, limit = a->height * wp;
    size_t hw = (size_t)a->height * w;
    int jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8, qn = limit - q0 < tp ? limit - q0 : tp;
    for (int j = 0; j < jn; j++) {
        int o = b * 8 + j;
        float bias = a->bias ? a->bias[o] : 0;
        float *yo = a->y + (size_t)o * hw;
        const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
        const float *tj = tmp + j * tp;
        int oy = q0 / wp, ox = q0 - oy * wp;
        for (int i = 0; i < qn;) {
            if (ox < w) {                                    // real columns
                int run = w - ox < qn - i ? w - ox : qn - i;
                size_t at = (size_t)oy * w + ox;
                if (so) for (int r = 0; r < run; r++) yo[at + r] = tj[i + r] + bias + so[at + r];
                else for (int r = 0; r < run; r++) yo[at + r] = tj[i + r] + bias;
                i += run; ox += run;
            } else {                                         // the two padding columns
                int run = wp - ox < qn - i ? wp - ox : qn - i;
                i += run; ox += run;
            }
            if (ox == wp) { ox = 0; oy++; }
        }
    }
}

#if defined(ZK_CONV_ASM)
// Per-thread tile sums across input-channel chunks (see conv_part_chunked).
static _Thread_local float *conv_acc_f;
static _Thread_local size_t conv_acc_n;

// The vector paths (AVX2's assembly tile, AVX-512's 8 x 48). A part (tiles t0 ..< t1, blocks
// b0 ..< b1) runs in groups of tiles whose sums, [tiles][blocks][8][tp], fit in about 192 KB; per
// group the input channels go in chunks, and a 3x3 chunk block by block over the group's tiles: the
// chunk's weights for one block (9 KB at 32 channels) stay in L1 for all the tiles, the group's
// chunk of input in L2 for all the blocks. Without chunks every tile walked all the input channels
// per block and took its weight broadcasts from L2, which held the AVX2 tile to half the FMA rate.
// A 1x1 chunk is longer (its input per tile is one vector row per channel, its weights a ninth of
// a 3x3's) and goes tile by tile over the blocks, the tile's chunk of input staying in L1.
#define ZK_CONV_CHUNK 32
#define ZK_CONV_CHUNK1 128
static void conv_part_chunked(const conv_ctx *a, int t0, int t1, int b0, int b1) {
    int wp = a->width + 2, taps = a->kernel * a->kernel, nb = b1 - b0, tp = a->tp, wide = a->level == ZK_ISA_AVX512;
    size_t plane = zk_conv_plane(a->height, a->width), sums = (size_t)8 * tp;
    int group = 256 * ZK_CONV_TP / (nb * tp);
    if (group < 1) group = 1;
    size_t need = (size_t)group * nb * sums;
    if (need > conv_acc_n) {
        free(conv_acc_f);
        conv_acc_f = NULL;
        if (posix_memalign((void **)&conv_acc_f, 64, need * sizeof(float)) != 0) conv_acc_f = NULL;
        conv_acc_n = conv_acc_f ? need : 0;
    }
    float *accs = conv_acc_f;
    if (!accs) { fputs("zk_conv2d: out of memory for the tile sums\n", stderr); abort(); }
    int full = taps == 9 ? ZK_CONV_CHUNK : ZK_CONV_CHUNK1, chunk = a->in <= full * 3 / 2 ? a->in : full;
    int offs[9];
    for (int t = 0; t < 9; t++) offs[t] = (t / 3) * wp + t % 3;
    const float *x0 = a->xp + (a->kernel == 1 ? wp + 1 : 0);
    for (int g0 = t0; g0 < t1; g0 += group) {
        int g1 = g0 + group < t1 ? g0 + group : t1;
        for (int c0 = 0; c0 < a->in; c0 += chunk) {
            int cn = a->in - c0 < chunk ? a->in - c0 : chunk;
            // 3x3: block by block over the group's tiles; 1x1: tile by tile over the blocks.
            for (int i = 0; i < (g1 - g0) * nb; i++) {
                int b = taps == 9 ? b0 + i / (g1 - g0) : b0 + i % nb, t = taps == 9 ? g0 + i % (g1 - g0) : g0 + i / nb;
                const float *wb = a->w + ((size_t)b * a->in + c0) * taps * 8;
                const float *xq = x0 + (size_t)c0 * plane + (size_t)t * tp;
                float *acc = accs + ((size_t)(t - g0) * nb + (b - b0)) * sums;
                // A large image's chunk is cn planes far apart, more streams than the hardware
                // prefetcher follows: on the first block, fetch the chunk's rows of the tile two ahead.
                if (b == b0 && plane > 2048)
                    for (int c = 0; c < cn; c++)
                        for (int r = 0; r < (taps == 9 ? 3 : 1); r++) {
                            const char *p = (const char *)(xq + (size_t)c * plane + (size_t)r * wp + 2 * tp);
                            for (int e = 0; e < tp * 4 + 8; e += 64) _mm_prefetch(p + e, _MM_HINT_T0);
                        }
                if (wide) {
                    if (taps == 9) conv_tile9_avx512(xq, plane, cn, offs, wb, acc, c0 > 0);
                    else conv_tile1_avx512(xq, plane, cn, offs, wb, acc, c0 > 0);
                    continue;
                }
                for (int h = 0; h < 8 && b * 8 + h < a->out; h += 4) {   // (a last half of padding skipped)
                    if (taps == 9) conv_asm9_avx2(xq, plane, wp, cn, wb + h, acc + h * tp, c0 > 0);
                    else conv_asm1_avx2(xq, plane, cn, wb + h, acc + h * tp, c0 > 0);
                }
            }
        }
        for (int t = g0; t < g1; t++)
            for (int b = b0; b < b1; b++) conv_store(a, t, b, accs + ((size_t)(t - g0) * nb + (b - b0)) * sums);
    }
}
#endif

static void conv_part(void *p, int part, int parts) {
    (void)parts;
    const conv_ctx *a = p;
    int pt = part % a->tparts, po = part / a->tparts;
    int t0 = (int)((long)a->tiles * pt / a->tparts), t1 = (int)((long)a->tiles * (pt + 1) / a->tparts);
    int b0 = (int)((long)a->blocks * po / a->oparts), b1 = (int)((long)a->blocks * (po + 1) / a->oparts);
#if defined(ZK_CONV_ASM)
    if (a->level == ZK_ISA_AVX2 || a->level == ZK_ISA_AVX512) { conv_part_chunked(a, t0, t1, b0, b1); return; }
#endif
    int w = a->width, wp = w + 2, taps = a->kernel * a->kernel;
    size_t plane = zk_conv_plane(a->height, w);
    int offs[9];
    for (int ky = 0, t = 0; ky < a->kernel; ky++)
        for (int kx = 0; kx < a->kernel; kx++, t++) offs[t] = a->kernel == 1 ? wp + 1 : ky * wp + kx;
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
            conv_store(a, t, b, tmp);
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
#if defined(ZK_CONV_ASM)
    if (level == ZK_ISA_AVX2 || level == ZK_ISA_AVX512) {
        // Each tile part reads all the part's weights and each block part all its input: split so
        // that the bigger of the two is read fewer times (a small image with 512 channels has 12x
        // more weights than input; a 256 x 256 image 60x more input than weights).
        double wbytes = (double)blocks * 8 * in * kernel * kernel, ibytes = (double)in * zk_conv_plane(height, width);
        double best = -1;
        for (int op = 1; op <= want && op <= blocks; op *= 2) {
            int tpn = want / op < tiles ? want / op : tiles;
            double cost = tpn * wbytes + op * ibytes;
            if (best < 0 || cost < best) { best = cost; oparts = op; tparts = tpn; }
        }
    }
#endif
    double work = (double)tiles * tp * blocks * 8 * in * kernel * kernel;
    if (work < 2e5) tparts = oparts = 1;      // tiny: one part, in the caller
    conv_ctx a = { xp, in, height, width, kernel, packed, bias, out, skip, y, level, tp, tiles, blocks, tparts, oparts };
    zk_parallel(tparts * oparts, conv_part, &a);
}
