// Skinny matrix products for the forward pass: a few query rows times a large weight matrix.
#include "ckernels.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define SFX avx2
#define TGT __attribute__((target("avx2,fma,f16c")))
#define NREG 16
#define VW 8
#include "matmul_body.h"
#undef SFX
#undef TGT
#undef NREG
#undef VW

// AVX2 with AVX-VNNI (Zen 5, Intel since Alder Lake): only the int8 tiles differ (matmul_q8_tile.h).
#define SFX avx2vnni
#define TGT __attribute__((target("avx2,fma,f16c,avxvnni")))
#define NREG 16
#define VW 8
#define ZK_AVX_VNNI
#define ZK_Q8_ONLY
#include "matmul_body.h"
#undef SFX
#undef TGT
#undef NREG
#undef VW
#undef ZK_AVX_VNNI
#undef ZK_Q8_ONLY

// AVX-512: the same code on 512-bit vectors, with 32 registers, so taller tiles fit.
#define SFX avx512
#define TGT __attribute__((target("avx512f,avx512vl,avx2,fma,f16c")))
#define NREG 32
#define VW 16
#include "matmul_body.h"
#undef SFX
#undef TGT
#undef NREG
#undef VW
#endif

// ---- scalar fallback ---------------------------------------------------------------------------

static void range_f32_scalar(const float *x, int rows, const float *w, int out, int in, float *y, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
        const float *wr = w + (size_t)o * in;
        for (int q = 0; q < rows; q++) {
            const float *xr = x + (size_t)q * in;
            float s = 0;
            for (int k = 0; k < in; k++) s += wr[k] * xr[k];
            y[(size_t)q * out + o] = s;
        }
    }
}

static void range_f16_scalar(const float *x, int rows, const uint16_t *w, int out, int in, float *y, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
        const uint16_t *wr = w + (size_t)o * in;
        for (int q = 0; q < rows; q++) {
            const float *xr = x + (size_t)q * in;
            float s = 0;
            for (int k = 0; k < in; k++) s += zk_half_to_float(wr[k]) * xr[k];
            y[(size_t)q * out + o] = s;
        }
    }
}

void zk_quantize_i8(const float *w, int out, int in, int8_t *q, float *scales) {
    const int ng = (in + 31) / 32;
    for (int o = 0; o < out; o++) {
        const float *wr = w + (size_t)o * in;
        for (int g = 0; g < ng; g++) {
            int k0 = g * 32, k1 = k0 + 32 < in ? k0 + 32 : in;
            float m = 0;
            for (int k = k0; k < k1; k++) { float a = fabsf(wr[k]); if (a > m) m = a; }
            float s = m / 127.0f;
            scales[(size_t)o * ng + g] = s;
            for (int k = k0; k < k1; k++) {
                float r = s > 0 ? roundf(wr[k] / s) : 0.0f;   // nearest, ties away from zero
                if (r > 127) r = 127;
                if (r < -127) r = -127;
                q[(size_t)o * in + k] = (int8_t)r;
            }
        }
    }
}

void zk_dequantize_i8(const int8_t *q, const float *scales, int rows, int in, float *w) {
    const int ng = (in + 31) / 32;
    for (int o = 0; o < rows; o++)
        for (int k = 0; k < in; k++)
            w[(size_t)o * in + k] = (float)q[(size_t)o * in + k] * scales[(size_t)o * ng + (k >> 5)];
}

static void widen_any(const uint16_t *src, float *dst, size_t n) {
#if defined(__x86_64__)
    if (zk_level() >= ZK_ISA_AVX2) { widen_avx2(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = zk_half_to_float(src[i]);
}

// ---- BLAS path -------------------------------------------------------------------------------

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
extern void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
extern void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float *a, int lda,
                        const float *x, int incx, float beta, float *y, int incy);

// One query row: OpenBLAS's sgemv (its sgemm at m = 1 is slower); several: sgemm.
static void blas_product(const float *x, int rows, const float *w, int n, int in, float *y, int ldy) {
    if (rows == 1) cblas_sgemv(RowMajor, NoTrans, n, in, 1, w, in, x, 1, 0, y, 1);
    else cblas_sgemm(RowMajor, NoTrans, Trans, rows, n, in, 1, x, in, w, in, 0, y, ldy);
}

static int crossover_f32 = 1 << 30, crossover_f16 = 1 << 30, crossover_i8 = 1 << 30;

void zk_set_blas_crossover(int f32_rows, int f16_rows) {
    crossover_f32 = f32_rows > 0 ? f32_rows : 1 << 30;
    crossover_f16 = f16_rows > 0 ? f16_rows : 1 << 30;
}
void zk_set_blas_crossover_i8(int rows) { crossover_i8 = rows > 0 ? rows : 1 << 30; }
int zk_blas_crossover_f32(void) { return crossover_f32; }
int zk_blas_crossover_f16(void) { return crossover_f16; }
int zk_blas_crossover_i8(void) { return crossover_i8; }

// Per-thread scratch for widened f16 blocks: grows to the largest block seen, never shrinks,
// so steady-state passes allocate nothing.
static _Thread_local float *scratch_f;
static _Thread_local size_t scratch_n;

static float *thread_scratch(size_t n) {
    if (n > scratch_n) {
        free(scratch_f);
        scratch_f = malloc(n * sizeof(float));
        scratch_n = scratch_f ? n : 0;
    }
    return scratch_f;
}

enum { F16_BLOCK_ROWS = 64 };

static void blas_range_f32(const float *x, int rows, const float *w, int out, int in, float *y, int o0, int o1) {
    if (o1 <= o0) return;
    blas_product(x, rows, w + (size_t)o0 * in, o1 - o0, in, y + o0, out);
}

static void blas_range_f16(const float *x, int rows, const uint16_t *w, int out, int in, float *y, int o0, int o1) {
    float *buf = thread_scratch((size_t)F16_BLOCK_ROWS * in);
    if (!buf) { range_f16_scalar(x, rows, w, out, in, y, o0, o1); return; }
    for (int o = o0; o < o1; o += F16_BLOCK_ROWS) {
        int n = o1 - o < F16_BLOCK_ROWS ? o1 - o : F16_BLOCK_ROWS;
        widen_any(w + (size_t)o * in, buf, (size_t)n * in);
        blas_product(x, rows, buf, n, in, y + o, out);
    }
}

// x: the query rows already rounded as the int8 kernels round them (zk_q8_fake_quantize).
static void blas_range_i8(const float *x, const zk_q8_rows *a, int rows, const int8_t *w, const float *sc, int out,
                          int in, float *y, int o0, int o1) {
    float *buf = thread_scratch((size_t)F16_BLOCK_ROWS * in);
    if (!buf) { zk_q8_range_scalar(a, rows, w, sc, out, in, y, o0, o1); return; }
    const int ng = (in + 31) / 32;
    for (int o = o0; o < o1; o += F16_BLOCK_ROWS) {
        int n = o1 - o < F16_BLOCK_ROWS ? o1 - o : F16_BLOCK_ROWS;
        zk_dequantize_i8(w + (size_t)o * in, sc + (size_t)o * ng, n, in, buf);
        blas_product(x, rows, buf, n, in, y + o, out);
    }
}

// ---- dispatch --------------------------------------------------------------------------------

typedef struct {
    const float *x; int rows; const void *w; int out, in; float *y; int f16, blas;
    const float *scales;     // int8 weights: per-group scales (then f16 = 2)
    const zk_q8_rows *q8;    // int8: the query rows quantized (and x rounded to match, for BLAS)
} mm_ctx;

const char *zk_int8_kernel(void) {
    zk_runtime_init();
    if (zk_level() == ZK_ISA_SCALAR) return "scalar";
    if (zk_level() == ZK_ISA_AVX512 && zk_has_vnni) return "avx512-vnni";
    return zk_has_avx_vnni ? "avx2-vnni" : "avx2";
}

#if defined(__x86_64__)
// The AVX2 level's int8 tile: with AVX-VNNI where the CPU has it (the same sums).
static void range_q8_ymm(const zk_q8_rows *a, int rows, const int8_t *w, const float *sc, int out, int in, float *y,
                         int o0, int o1) {
    if (zk_has_avx_vnni) range_q8_avx2vnni(a, rows, w, sc, out, in, y, o0, o1);
    else range_q8_avx2(a, rows, w, sc, out, in, y, o0, o1);
}
#endif

static void mm_part(void *c, int part, int parts) {
    const mm_ctx *m = c;
    // Equal shares of output rows, in whole bands of 12 (each chunk streams its own share of W; the
    // tiles walk bands of 12 rows on AVX-512, 6 on AVX2).
    int tiles = (m->out + 11) / 12;
    int o0 = (int)((long)tiles * part / parts) * 12, o1 = (int)((long)tiles * (part + 1) / parts) * 12;
    if (o1 > m->out) o1 = m->out;
    if (o0 >= o1) return;
    if (m->f16 == 2) {
        if (m->blas) { blas_range_i8(m->x, m->q8, m->rows, m->w, m->scales, m->out, m->in, m->y, o0, o1); return; }
        switch (zk_level()) {
#if defined(__x86_64__)
        case ZK_ISA_AVX512:
            if (zk_has_vnni) { range_q8_avx512(m->q8, m->rows, m->w, m->scales, m->out, m->in, m->y, o0, o1); return; }
            range_q8_ymm(m->q8, m->rows, m->w, m->scales, m->out, m->in, m->y, o0, o1);
            return;
        case ZK_ISA_AVX2: range_q8_ymm(m->q8, m->rows, m->w, m->scales, m->out, m->in, m->y, o0, o1); return;
#endif
        default: zk_q8_range_scalar(m->q8, m->rows, m->w, m->scales, m->out, m->in, m->y, o0, o1); return;
        }
    }
    if (m->blas) {
        if (m->f16) blas_range_f16(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
        else blas_range_f32(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
        return;
    }
    switch (zk_level()) {
#if defined(__x86_64__)
    case ZK_ISA_AVX512:
        if (m->f16) range_f16_avx512(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
        else range_f32_avx512(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
        return;
    case ZK_ISA_AVX2:
        if (m->f16) range_f16_avx2(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
        else range_f32_avx2(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
        return;
#endif
    default:
        if (m->f16) range_f16_scalar(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
        else range_f32_scalar(m->x, m->rows, m->w, m->out, m->in, m->y, o0, o1);
    }
}

// Chunks a product is split into: at least one per thread, more (up to 8 per thread, so a thread
// that loses its core costs at most a chunk) only while each still streams >= 256 KB of weights:
// every chunk starts its rows cold (the prefetch runs a few rows ahead within a chunk), which at one
// query costs more than the balance gains on small matrices. Tiny products run in one piece.
static int chunks_for(int out, int in, int rows, size_t wbytes) {
    double work = (double)out * in * (rows < 4 ? 4 : rows);
    int tiles = (out + 11) / 12, threads = zk_threads();
    if (work < 65536.0 || threads == 1) return 1;
    double bytes = (double)out * in * wbytes;
    int chunks = (int)(bytes / (256 * 1024));
    if (chunks > 8 * threads) chunks = 8 * threads;
    if (chunks < threads) chunks = threads;
    return chunks < tiles ? chunks : tiles;
}

// Out of memory for the quantized query rows: the product is NaN, which the callers' finite checks
// report, rather than a crash inside a worker.
static void fill_nan(float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = NAN; }

// A one-query product of a model-sized matrix (a real model's decode step) settles the one-query plan
// first: its tiles' heights are timed once per process (one_query_plan.c). Smaller products (tests, tiny
// models, a model's small matrices) run with whatever plan is in force.
static void one_query_first_use(int rows, int out, int in, size_t wbytes) {
    if (rows == 1 && (double)out * in * wbytes >= 4.0 * 1024 * 1024) zk_one_query_plan_ensure();
}

void zk_matmul_f32(const float *x, int rows, const float *w, int out, int in, float *y, int mode) {
    one_query_first_use(rows, out, in, 4);
    zk_matmul_f32_run(x, rows, w, out, in, y, mode);
}

void zk_matmul_f16(const float *x, int rows, const uint16_t *w, int out, int in, float *y, int mode) {
    one_query_first_use(rows, out, in, 2);
    zk_matmul_f16_run(x, rows, w, out, in, y, mode);
}

void zk_matmul_i8(const float *x, int rows, const int8_t *w, const float *scales, int out, int in, float *y, int mode) {
    one_query_first_use(rows, out, in, 1);
    zk_matmul_i8_run(x, rows, w, scales, out, in, y, mode);
}

void zk_matmul_f32_run(const float *x, int rows, const float *w, int out, int in, float *y, int mode) {
    zk_runtime_init();
    if (rows <= 0 || out <= 0) return;
    int blas = mode == 2 || (mode == 0 && rows >= crossover_f32);
    mm_ctx c = { x, rows, w, out, in, y, 0, blas, NULL, NULL };
    zk_parallel(chunks_for(out, in, rows, 4), mm_part, &c);
}

void zk_matmul_f16_run(const float *x, int rows, const uint16_t *w, int out, int in, float *y, int mode) {
    zk_runtime_init();
    if (rows <= 0 || out <= 0) return;
    int blas = mode == 2 || (mode == 0 && rows >= crossover_f16);
    mm_ctx c = { x, rows, w, out, in, y, 1, blas, NULL, NULL };
    zk_parallel(chunks_for(out, in, rows, 2), mm_part, &c);
}

void zk_matmul_i8_run(const float *x, int rows, const int8_t *w, const float *scales, int out, int in, float *y,
                      int mode) {
    zk_runtime_init();
    if (rows <= 0 || out <= 0) return;
    int blas = mode == 2 || (mode == 0 && rows >= crossover_i8);
    zk_q8_rows a;
    float *rounded = NULL;
    if (zk_q8_quantize_rows(x, rows, in, &a) != 0) { fill_nan(y, (size_t)rows * out); return; }
    if (blas) {   // OpenBLAS multiplies the same rounded rows the integer tiles see
        rounded = malloc((size_t)rows * in * sizeof(float));
        if (!rounded) { fill_nan(y, (size_t)rows * out); return; }
        zk_q8_dequantize_rows(&a, rows, in, rounded);
    }
    mm_ctx c = { blas ? rounded : x, rows, w, out, in, y, 2, blas, scales, &a };
    zk_parallel(chunks_for(out, in, rows, 1), mm_part, &c);
    free(rounded);
}

// ---- general sgemm, split by columns of C ----------------------------------------------------

typedef struct {
    int ta, tb, m, n, k; float alpha; const float *a; int lda; const float *b; int ldb; float beta;
    float *c; int ldc;
} gemm_ctx;

static void gemm_part(void *p, int part, int parts) {
    const gemm_ctx *g = p;
    int n0 = (int)((long)g->n * part / parts), n1 = (int)((long)g->n * (part + 1) / parts);
    if (n1 <= n0) return;
    // Columns n0..<n1 of op(B): rows of B when transposed, columns otherwise.
    const float *b = g->tb ? g->b + (size_t)n0 * g->ldb : g->b + n0;
    cblas_sgemm(RowMajor, g->ta ? Trans : NoTrans, g->tb ? Trans : NoTrans, g->m, n1 - n0, g->k, g->alpha,
                g->a, g->lda, b, g->ldb, g->beta, g->c + n0, g->ldc);
}

void zk_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
    zk_runtime_init();
    if (m <= 0 || n <= 0) return;
    gemm_ctx g = { transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc };
    double work = (double)m * n * k;
    int chunks = 4 * zk_threads();
    if (chunks > n / 16) chunks = n / 16;
    zk_parallel(work < 1e6 || chunks < 1 ? 1 : chunks, gemm_part, &g);
}
