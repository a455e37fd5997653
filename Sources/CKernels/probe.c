// Machine probes for the bench: the peak rate of fused multiply-adds (the compute floor of a pass)
// and the streaming-read bandwidth (the memory floor).
#include "ckernels.h"
#include "internal.h"
#include "simd_math.h"

#include <stdatomic.h>
#include <time.h>

#if defined(__x86_64__)
// 12 independent accumulator chains: enough to cover the FMA latency on both FMA pipes, so the
// loop runs at the core's FMA throughput with the same 256-bit instructions the kernels use.
__attribute__((target("avx2,fma"))) static float fma_loop(long iterations) {
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    const __m256 m = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-4f);
    for (long it = 0; it < iterations; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, b);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    return _mm256_cvtss_f32(s);
}
#endif

typedef struct { long iterations; _Atomic float sink; } fma_ctx;

static void fma_part(void *c, int part, int parts) {
    (void)part; (void)parts;
    fma_ctx *f = c;
#if defined(__x86_64__)
    float s = fma_loop(f->iterations);
    if (s == -1.0f) atomic_store(&f->sink, s);     // keeps the loop alive
#else
    (void)f;
#endif
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double zk_fma_flops(int threads) {
    zk_runtime_init();
#if defined(__x86_64__)
    if (zk_level() < ZK_ISA_AVX2) return 0;
    if (threads <= 0 || threads > zk_threads()) threads = zk_threads();
    fma_ctx c = { .iterations = 4000000 };          // ~10 ms per thread at 4 GHz
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = seconds_now();
        if (threads == 1) fma_part(&c, 0, 1);
        else zk_parallel(threads, fma_part, &c);    // one chunk per thread
        double rate = (double)threads * c.iterations * 12 * 8 * 2 / (seconds_now() - t0);
        if (rate > best) best = rate;
    }
    return best;
#else
    (void)threads;
    return 0;
#endif
}

// ---- streaming-read bandwidth ----------------------------------------------------------------

#if defined(__x86_64__)
// A plain sequential read with 4 independent sums (the hardware prefetcher handles one linear
// stream per thread at full speed: software prefetch measured no faster here).
AVX static double sum_bytes_avx2(const char *p, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps((const float *)(p + i)));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps((const float *)(p + i + 32)));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps((const float *)(p + i + 64)));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps((const float *)(p + i + 96)));
    }
    double s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += p[i];
    return s;
}
#endif

static double sum_bytes(const char *p, size_t n) {
#if defined(__x86_64__)
    if (zk_isa_level >= ZK_ISA_AVX2) return sum_bytes_avx2(p, n);
#endif
    double s = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) s += *(const float *)(p + i);
    return s;
}

typedef struct { const char *p; size_t bytes; _Atomic double sink; } bw_ctx;

static void bw_part(void *c, int part, int parts) {
    bw_ctx *b = c;
    size_t per = (b->bytes / parts) & ~(size_t)255;
    const char *start = b->p + per * part;
    size_t n = part == parts - 1 ? b->bytes - per * part : per;
    double s = sum_bytes(start, n);
    if (s == -1.0) atomic_store(&b->sink, s);      // keeps the sum alive
}

double zk_read_bandwidth(const void *p, size_t bytes, int reps, int threads) {
    zk_runtime_init();
    if (threads <= 0 || threads > zk_threads()) threads = zk_threads();
    bw_ctx c = { .p = p, .bytes = bytes };
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = seconds_now();
        if (threads == 1) bw_part(&c, 0, 1);
        else zk_parallel(16 * threads, bw_part, &c);
        double bps = (double)bytes / (seconds_now() - t0);
        if (bps > best) best = bps;
    }
    return best;
}
