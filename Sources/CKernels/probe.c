// Machine probes for the bench: the peak rate of fused multiply-adds (the compute floor of a pass).
#include "ckernels.h"
#include "internal.h"

#include <stdatomic.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>

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
