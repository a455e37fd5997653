// GPT-B's 49 weight products at one query, back to back as in a pass (no attention, norms or sampling),
// each round paired with the streaming read measured just before it: the products' time against the
// memory floor, the way `zipar-bench` pairs whole passes (docs/speed.md), without the rest of the pass.
// A kernel change that is faster in cache can be slower from DRAM; this is where that shows.
//
//   S=Sources/CKernels
//   clang -O2 -I$S/include -I$S tools/kernels/pass_rate.c $S/*.c -lopenblas -lpthread -lm -o /tmp/pass_rate
//   ZK_ISA=avx2 /tmp/pass_rate 12 i8        # rounds, f32|f16|i8; prints the median of round time x read / bytes
//
// Runs of two builds should alternate (A B B A ...) several times: a shared VM's memory speed drifts.
#include "ckernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// One product at one query row through the kernels (mode 1), whatever the storage.
static void product(int bytes, const float *x, const void *w, const float *sc, int out, int in, float *y) {
    if (bytes == 1) zk_matmul_i8(x, 1, w, sc, out, in, y, 1);
    else if (bytes == 2) zk_matmul_f16(x, 1, w, out, in, y, 1);
    else zk_matmul_f32(x, 1, w, out, in, y, 1);
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 12;
    const char *storage = argc > 2 ? argv[2] : "i8";
    const int bytes = !strcmp(storage, "f32") ? 4 : !strcmp(storage, "f16") ? 2 : 1;
    if (rounds < 1 || rounds > 1000) { fprintf(stderr, "usage: %s [ROUNDS 1-1000] [f32|f16|i8]\n", argv[0]); return 2; }
    // Per layer: wqkv, wo, gate+up, down (dim 768, hidden 2048); then the head (16384 codes).
    static const int shape[5][2] = { { 2304, 768 }, { 768, 768 }, { 4096, 768 }, { 768, 2048 }, { 16384, 768 } };
    enum { MATRICES = 49 };
    void *w[MATRICES];
    float *sc[MATRICES];
    int out[MATRICES], in[MATRICES];
    size_t total = 0;
    zk_threads();   // starts the runtime before the first timing
    for (int m = 0; m < MATRICES; m++) {
        const int s = m == MATRICES - 1 ? 4 : m % 4, ng = (shape[s][1] + 31) / 32;
        out[m] = shape[s][0], in[m] = shape[s][1];
        const size_t n = (size_t)out[m] * in[m];
        w[m] = zk_alloc(n * bytes);
        float *f = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) f[i] = (float)((i * 2654435761u) >> 24) / 256.0f - 0.5f;
        sc[m] = malloc((size_t)out[m] * ng * sizeof(float));
        if (bytes == 1) zk_quantize_i8(f, out[m], in[m], w[m], sc[m]);
        else if (bytes == 2) for (size_t i = 0; i < n; i++) ((uint16_t *)w[m])[i] = 0x3c00 ^ (uint16_t)(i & 0x83ff);
        else memcpy(w[m], f, n * sizeof(float));
        free(f);
        total += n * bytes + (bytes == 1 ? (size_t)out[m] * ng * sizeof(float) : 0);
    }
    float *x = malloc(16384 * sizeof(float)), *y = malloc(16384 * sizeof(float));
    for (int i = 0; i < 16384; i++) x[i] = (i % 7) * 0.1f - 0.3f;
    const size_t probe_bytes = (size_t)256 << 20;
    void *probe = zk_alloc(probe_bytes);
    memset(probe, 1, probe_bytes);
    double *ratio = malloc(rounds * sizeof(double)), best = 1e9;
    for (int r = -1; r < rounds; r++) {   // round -1 warms up
        const double read = zk_read_bandwidth(probe, probe_bytes, 2, 0);
        for (int m = 0; m < MATRICES; m++) product(bytes, x, w[m], sc[m], out[m], in[m], y);   // untimed, as the bench
        const double t0 = now();
        for (int m = 0; m < MATRICES; m++) product(bytes, x, w[m], sc[m], out[m], in[m], y);
        const double t = now() - t0;
        if (r < 0) continue;
        if (t < best) best = t;
        ratio[r] = t * read / total;
    }
    qsort(ratio, rounds, sizeof(double), by_value);
    printf("%s isa=%s int8=%s: %.0f MB, best %.2f ms, x floor median %.3f (p25 %.3f, p75 %.3f)\n", storage, zk_isa(),
           zk_int8_kernel(), total / 1e6, best * 1e3, ratio[rounds / 2], ratio[rounds / 4], ratio[3 * rounds / 4]);
    return 0;
}
