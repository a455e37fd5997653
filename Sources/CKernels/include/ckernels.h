// CKernels: the few hot loops of ZipAR-serve in C (AVX2/FMA/F16C with a scalar fallback,
// chosen at run time), and a persistent thread pool that splits them across cores.
// Only the Kernels target calls these; everything above it sees safe Swift types.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- Image ops of the VQ decoder (channel-major [C][H][W]) -----------------------------------
/// Floats per channel of a padded activation: a (H + 2) x (W + 2) plane with a zero border, then
/// zeros (the 3x3 convolution reads a little past the plane). A padded activation of C channels
/// holds C * zk_conv_plane(H, W) floats.
size_t zk_conv_plane(int height, int width);
/// Floats of a packed convolution weight, and the packing of OIHW weights (kernel 1 or 3) into
/// blocks of 8 output channels, [out/8][in][kernel*kernel][8] (zero rows pad the last block).
size_t zk_conv_packed_count(int out, int in, int kernel);
void zk_conv_pack(const float *w, int out, int in, int kernel, float *packed);
/// x [C][H][W] -> padded xp (see zk_conv_plane); up = 2 upsamples 2x (nearest) on the way, so xp
/// is then the padded [C][2H][2W].
void zk_conv_pad(const float *x, int channels, int height, int width, int up, float *xp);
/// y [out][H][W] = conv(xp) + bias (+ skip [out][H][W]): stride 1, zero padding kernel/2, as
/// nn.Conv2d; xp is padded (zk_conv_pad or zk_group_norm with padded = 1), weights from
/// zk_conv_pack; bias and skip may be NULL. Direct convolution (no im2col), split over the pool.
void zk_conv2d(const float *xp, int in, int height, int width, int kernel, const float *packed,
               const float *bias, int out, const float *skip, float *y);
/// Winograd F(m x m, 3x3), m = 2 or 4, for stride-1 3x3 convolutions (winograd.c): the weights
/// transformed once (U = G g G^T, [(m+2)^2][out/8][in][8]), then the same contract as zk_conv2d
/// with kernel 3.
size_t zk_winograd_packed_count(int m, int out, int in);
void zk_winograd_pack(int m, const float *w, int out, int in, float *packed);
void zk_conv2d_winograd(int m, const float *xp, int in, int height, int width, const float *packed,
                        const float *bias, int out, const float *skip, float *y);
/// The automatic choice for an out x in 3x3 convolution on this CPU: 0 = direct, else the tile m.
int zk_winograd_choice(int out, int in);
/// GroupNorm (affine, statistics in double, two passes) and optional swish x * sigmoid(x), from
/// x [C][H][W] into y, which is [C][H][W] or, with padded = 1, padded for zk_conv2d.
void zk_group_norm(const float *x, int channels, int height, int width, int groups, float eps,
                   const float *gamma, const float *beta, int swish, int padded, float *y);

// ---- Runtime -------------------------------------------------------------------------------
/// Threads used by the kernels, the caller included (1 ... 16). Default: online CPUs, or ZK_THREADS.
void zk_set_threads(int n);
int zk_threads(void);
/// "avx512", "avx2" or "scalar": the instruction set the kernels dispatch to.
const char *zk_isa(void);
/// Forces a kernel path: 0 = best available, 1 = scalar C (tests compare the two).
void zk_force_scalar(int on);
/// Turns the AVX2 level's AVX-VNNI int8 products on (where the CPU has them) or off; returns whether they
/// were on (tests compare the two).
int zk_set_avx_vnni(int on);
/// The level the kernels dispatch to when not forced scalar (ZK_ISA caps it): 0 scalar, 1 avx2, 2 avx512.
int zk_isa_detected(void);
/// The level the CPU supports (0 scalar, 1 avx2, 2 avx512), whatever ZK_ISA says.
int zk_isa_supported(void);
/// 1 if the CPU has AVX-VNNI (ZK_ISA=avx2-vnni runs the AVX2 level's int8 products with it), whatever ZK_ISA says.
int zk_avx_vnni_supported(void);
/// The core OpenBLAS runs (openblas_get_corename), 1 if it is an AVX2-class core or the CPU has no
/// AVX2 (0: a fallback core on a modern CPU), and, when a misdetection was fixed at load (blas_core.c
/// re-executes the process with OPENBLAS_CORETYPE), the core it had picked first (else NULL).
const char *zk_blas_core(void);
int zk_blas_core_ok(void);
const char *zk_blas_fixed_from(void);

/// Runs fn(ctx, part, parts) for every part in 0 ..< parts and returns when all have finished.
/// parts is clamped to 1 ... 65535, not to the thread count: the zk_threads() threads (the caller
/// among them) each claim the next unclaimed part until none is left, so one thread may run many
/// parts, in any order, and a thread the OS has descheduled holds up at most the part it is in.
/// With one part, one thread, or while another call is in progress (nested or concurrent), every
/// part runs in the caller, in order.
typedef void (*zk_part_fn)(void *ctx, int part, int parts);
void zk_parallel(int parts, zk_part_fn fn, void *ctx);

// ---- Skinny matrix products: y[r, :] = x[r, :] W^T, W is out x in, row-major ----------------
/// mode: 0 = automatic (own kernel below the BLAS crossover, OpenBLAS sgemm from it),
///       1 = own kernel, 2 = OpenBLAS (split across the pool, one BLAS thread each).
void zk_matmul_f32(const float *x, int rows, const float *w, int out, int in, float *y, int mode);
void zk_matmul_f16(const float *x, int rows, const uint16_t *w, int out, int in, float *y, int mode);
/// int8 weights, llama.cpp Q8_0-like: w is out x in int8 values, scales out x ceil(in / 32) floats
/// (one per group of 32 along a row); the weight is (float)q * scale. The query rows are quantized the
/// same way (per group of 32, max|x| / 127, nearest even) and each group's products summed exactly in
/// integers (int8 x int8, as llama.cpp's Q8_0 x Q8_0), then scaled by the two scales. Mode 2 runs
/// OpenBLAS on the same numbers: dequantized weights (blocks of 64 rows in a per-thread scratch) times
/// the rounded query rows (zk_q8_fake_quantize).
void zk_matmul_i8(const float *x, int rows, const int8_t *w, const float *scales, int out, int in, float *y, int mode);
/// The query rows as the int8 products see them: each value rounded to its group's step, q * scale
/// (the reference the kernels are tested against). Returns 0, or -1 when memory ran out.
int zk_q8_fake_quantize(const float *x, int rows, int in, float *out);
/// Which int8 tile runs: "avx512-vnni", "avx2-vnni" (AVX2 with AVX-VNNI), "avx2" or "scalar".
const char *zk_int8_kernel(void);
/// The tile height one-query products run at per storage, timed on this machine the first time it is asked
/// for (or on the first one-query product of a >= 4 MB matrix; ~0.1 s), e.g.
/// "f32 1 row, f16 2 rows, int8 tile (measured)". ZK_ONE_ROWS=tile|1|2 forces one height.
const char *zk_one_query_plan(void);
/// Sets the one-query tile height of one storage (0 f32, 1 f16, 2 int8) to 1 or 2 rows, or 0 for the general
/// tile's; returns the previous one (tests compare the heights, which must agree bit for bit).
int zk_swap_one_query_height(int storage, int height);
/// scale = max|w| / 127 per group of 32, q = round(w / scale) (nearest, ties away from zero); an
/// all-zero group gets scale 0 and q = 0.
void zk_quantize_i8(const float *w, int out, int in, int8_t *q, float *scales);
/// w = (float)q * scale, `rows` rows of `in` (the reference the kernel is tested against).
void zk_dequantize_i8(const int8_t *q, const float *scales, int rows, int in, float *w);
/// Row counts from which mode 0 uses OpenBLAS (a very large value = never).
void zk_set_blas_crossover(int f32_rows, int f16_rows);
void zk_set_blas_crossover_i8(int rows);
int zk_blas_crossover_f32(void);
int zk_blas_crossover_f16(void);
int zk_blas_crossover_i8(void);

/// Plain row-major sgemm C = alpha op(A) op(B) + beta C, split across the pool by columns of C.
void zk_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

// ---- Attention over KV caches ---------------------------------------------------------------
/// One query token of a batched attention call. keys/values: this layer of its sequence's cache,
/// [kvHeads][positions][headDim] (f32 or IEEE half); it attends to positions 0...last.
/// filled: NULL or one byte per position (0 = not decoded yet).
typedef struct {
    const float *q;          ///< heads * headDim (rotated)
    float *out;              ///< heads * headDim
    const void *keys;
    const void *values;
    const uint8_t *filled;
    int last;
} zk_attn_query;

/// out = softmax(q K^T / sqrt(headDim)) V per head for `count` queries, split over the pool.
/// mask != 0 skips unfilled slots; mask == 0 scores them like any other (the reference's
/// zero-initialised cache). scores: scoreRows * positions floats of scratch.
void zk_attention_batch(const zk_attn_query *queries, int count, int heads, int kvHeads, int headDim,
                        int positions, int f16, int mask, float *scores, int scoreRows);

/// Writes one position's keys and values (kvHeads * headDim floats each) into a cache layer.
void zk_kv_store(void *keys, void *values, int positions, int kvHeads, int headDim, int f16, int position,
                 const float *k, const float *v);

// ---- Vector ops ----------------------------------------------------------------------------
void zk_rmsnorm(const float *x, int rows, int width, const float *weight, float eps, float *y);
/// out = silu(a) * b (out may be a)
void zk_silu_gate(float *out, const float *a, const float *b, size_t n);
/// x += y
void zk_add(float *x, const float *y, size_t n);
/// Rotary embedding of `heads` vectors of headDim values: interleaved pairs (x[2m], x[2m+1]) turn by
/// table[2m] = cos, table[2m+1] = sin (one table row, shared by the heads).
void zk_rope(float *x, int heads, int headDim, const float *table);
/// Softmax in place; -inf entries give exactly 0, an all -inf row gives the uniform distribution.
void zk_softmax(float *p, int n);
/// e^x for n values (the vector exp used above), for tests.
void zk_exp(const float *x, float *y, size_t n);

// ---- Memory ------------------------------------------------------------------------------
/// Zeroed, 64-byte aligned memory; blocks of 2 MiB or more are 2 MiB aligned and advised to use
/// transparent huge pages (fewer TLB misses while streaming weights). NULL when out of memory.
void *zk_alloc(size_t bytes);
void zk_free(void *p, size_t bytes);   /* bytes: as passed to zk_alloc */
/// Float to IEEE half bits, round to nearest even (tests check it against Swift's Float16).
uint16_t zk_half_bits(float f);

/// Peak fused-multiply-add rate in FLOP/s (one FMA = 2) of `threads` pool threads (0 = all), with
/// the 256-bit FMAs the kernels use; 0 where the vector kernels do not run. Above 1 thread the loop
/// runs as `threads` parts of zk_parallel, counted as if each had a thread of its own.
double zk_fma_flops(int threads);
/// Best streaming-read bandwidth in bytes per second over `reps` sweeps of `bytes` bytes at p,
/// read by the caller alone (threads = 1) or as 16 * threads parts of zk_parallel (0 = all threads).
double zk_read_bandwidth(const void *p, size_t bytes, int reps, int threads);

#ifdef __cplusplus
}
#endif
#endif
