// The rate of one skinny product through the kernels' C API, for measuring a tile change in cache or from
// memory without the Swift build (docs/speed.md, "One query row in loops of their own"). Prints the best of
// 5 timings of `reps` products and an FNV-1a hash of every output bit, so a change that must keep outputs
// bit-identical can be checked by comparing hashes before and after.
//
//   S=Sources/CKernels
//   clang -O2 -I$S/include -I$S tools/kernels/one_query_rate.c $S/*.c -lopenblas -lpthread -lm -o /tmp/rate
//   ZK_THREADS=1 /tmp/rate 384 768 1 20000 i8     # out in rows reps f32|f16|i8: weights in L2, one thread
//   /tmp/rate 12288 1024 1 300 i8                 # 12 MB of int8 weights: in L3, all threads
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

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s OUT IN ROWS REPS f32|f16|i8\n", argv[0]);
        return 2;
    }
    const int out = atoi(argv[1]), in = atoi(argv[2]), rows = atoi(argv[3]), reps = atoi(argv[4]);
    const char *which = argv[5];
    const int f32 = !strcmp(which, "f32"), f16 = !strcmp(which, "f16");
    zk_threads();   // starts the runtime (ISA, pool) before the first timing
    const int ng = (in + 31) / 32;
    float *wf = malloc((size_t)out * in * 4);
    for (size_t i = 0; i < (size_t)out * in; i++) wf[i] = rand() / (float)RAND_MAX - 0.5f;
    int8_t *q = malloc((size_t)out * in);
    float *sc = malloc((size_t)out * ng * 4);
    zk_quantize_i8(wf, out, in, q, sc);
    uint16_t *h = malloc((size_t)out * in * 2);
    for (size_t i = 0; i < (size_t)out * in; i++) h[i] = 0x3c00 ^ (rand() & 0x83ff);   // halves in (-2, 2)
    float *x = malloc((size_t)rows * in * 4), *y = malloc((size_t)rows * out * 4);
    for (size_t i = 0; i < (size_t)rows * in; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
    double best = 1e9;
    for (int t = 0; t < 5; t++) {
        const double t0 = now();
        for (int r = 0; r < reps; r++) {
            if (f32) zk_matmul_f32(x, rows, wf, out, in, y, 1);
            else if (f16) zk_matmul_f16(x, rows, h, out, in, y, 1);
            else zk_matmul_i8(x, rows, q, sc, out, in, y, 1);
        }
        const double dt = (now() - t0) / reps;
        if (dt < best) best = dt;
    }
    const double bytes = f32 ? (double)out * in * 4 : f16 ? (double)out * in * 2 : (double)out * in + out * ng * 4.0;
    unsigned long long hash = 1469598103934665603ULL;
    for (size_t i = 0; i < (size_t)rows * out * 4; i++) hash = (hash ^ ((unsigned char *)y)[i]) * 1099511628211ULL;
    printf("%s %dx%d rows=%d isa=%s: %.4f ms, %.1f GB/s of weights, outputs %016llx\n", which, out, in, rows, zk_isa(),
           best * 1e3, bytes / best / 1e9, hash);
    return 0;
}
