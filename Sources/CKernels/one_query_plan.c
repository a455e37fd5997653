// The tile height of one-query products, chosen by timing them on this machine.
//
// At one query row a product streams its weights once, and the height of its tiles (weight rows read side
// by side) pulls two ways: taller tiles run more multiply-add chains (faster in cache), shorter ones read
// fewer rows side by side and stream better from DRAM. On a 2-core Zen 5, GPT-B's 49 products at one query
// against the read just before them (tools/kernels/pass_rate.c, median of 4 runs): AVX-512 f32 1.06 -> 1.02,
// f16 1.19 -> 1.02, int8 1.15 -> 0.99 with 1-row tiles; AVX2 f32 1.09 -> 1.01 with 1 row, int8 1.20 -> 1.07
// with 2; while in L2 the 1-row AVX2 f16 tile ran 24 GB/s against 65. So it is measured, not fixed: the
// first one-query product of a model-sized matrix (>= 4 MB) times each height on 48 MB of weights per
// storage (choose, below) and keeps the fastest; the general tile's height stays unless another is at
// least 3% faster. ~0.2 s, once per process; the results do not depend on it (a row's sums are its own
// whatever the tile). ZK_ONE_ROWS=tile|1|2 forces a height for every storage.
#include "ckernels.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Atomic int zk_one_height[3];

static pthread_once_t plan_once = PTHREAD_ONCE_INIT;
static char plan_text[128] = "not chosen yet";
static const char *const storage_name[3] = { "f32", "f16", "int8" };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// The probe: 48 MB of weights as a pass runs them: a transformer layer's four products (q/k/v, output,
// gate + up, down at width 768, hidden 2048) over and over, back to back. One 48 MB product, or 4 MB
// products of width 1024, favoured other heights than a pass's products did (each product's parts start
// their streams afresh, and the short rows of the smaller ones start them often).
enum { PROBE_BYTES = 48 << 20 };
static const int probe_shape[4][2] = { { 2304, 768 }, { 768, 768 }, { 4096, 768 }, { 768, 2048 } };

static double probe_seconds(int storage, const char *w, const float *scales, const float *x, float *y) {
    const size_t bytes = storage == ZK_ONE_F32 ? 4 : storage == ZK_ONE_F16 ? 2 : 1;
    const double t0 = now();
    size_t at = 0;
    for (int p = 0;; p++) {
        const int out = probe_shape[p % 4][0], in = probe_shape[p % 4][1];
        const size_t part = (size_t)out * in * bytes;
        if (at + part > PROBE_BYTES) break;
        const void *wp = w + at;
        if (storage == ZK_ONE_F32) zk_matmul_f32_run(x, 1, wp, out, in, y, 1);
        else if (storage == ZK_ONE_F16) zk_matmul_f16_run(x, 1, wp, out, in, y, 1);
        else zk_matmul_i8_run(x, 1, wp, scales, out, in, y, 1);
        at += part;
    }
    return now() - t0;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { ROUNDS = 7 };

// Each round times the probe at every height, in turns, and each height's time is taken relative to the
// general tile's in the same round: a VM's memory speed drifts by tens of percent within seconds, and
// the pairing cancels what drifts slower than a round (~10 ms). A height is kept when its median ratio
// over the rounds is below 0.97 and below the other's.
static int choose(int storage, const char *w, const float *scales, const float *x, float *y) {
    double ratio[2][ROUNDS];
    zk_one_height[storage] = 0;
    probe_seconds(storage, w, scales, x, y);   // warms up (pages, the pool)
    for (int r = 0; r < ROUNDS; r++) {
        double t[3];
        for (int i = 0; i < 3; i++) {
            const int h = (i + r) % 3;   // the order turns, so no height always runs first
            zk_one_height[storage] = h;
            t[h] = probe_seconds(storage, w, scales, x, y);
        }
        ratio[0][r] = t[1] / t[0], ratio[1][r] = t[2] / t[0];
    }
    qsort(ratio[0], ROUNDS, sizeof(double), by_value);
    qsort(ratio[1], ROUNDS, sizeof(double), by_value);
    const double one = ratio[0][ROUNDS / 2], two = ratio[1][ROUNDS / 2];
    if (one < 0.97 && one <= two) return 1;
    if (two < 0.97) return 2;
    return 0;
}

static void describe(const char *how) {
    char *p = plan_text;
    size_t left = sizeof plan_text;
    for (int s = 0; s < 3; s++) {
        const int n = snprintf(p, left, "%s%s %s", s ? ", " : "", storage_name[s],
                               zk_one_height[s] == 1 ? "1 row" : zk_one_height[s] == 2 ? "2 rows" : "tile");
        if (n < 0 || (size_t)n >= left) break;
        p += n, left -= (size_t)n;
    }
    snprintf(p, left, " (%s)", how);
}

static void plan(void) {
    zk_runtime_init();
    const char *env = getenv("ZK_ONE_ROWS");
    int forced = -1;
    if (env && strcmp(env, "tile") == 0) forced = 0;
    else if (env && strcmp(env, "1") == 0) forced = 1;
    else if (env && strcmp(env, "2") == 0) forced = 2;
    if (forced >= 0 || zk_level() == ZK_ISA_SCALAR) {   // the scalar loops have no tiles
        for (int s = 0; s < 3; s++) zk_one_height[s] = forced > 0 ? forced : 0;
        describe(forced >= 0 ? "ZK_ONE_ROWS" : "scalar");
        return;
    }
    void *w = zk_alloc(PROBE_BYTES);
    float *scales = calloc(PROBE_BYTES / 32, sizeof(float));   // int8: a scale per group of 32 weights
    float *x = malloc(2048 * sizeof(float)), *y = malloc(4096 * sizeof(float));
    if (!w || !scales || !x || !y) {   // no room to measure: the general tiles
        describe("not measured: out of memory");
    } else {
        memset(w, 0, PROBE_BYTES);   // the values do not change the time; the pages must be real
        for (int i = 0; i < 2048; i++) x[i] = (float)(i % 7) - 3.0f;
        for (int s = 0; s < 3; s++) zk_one_height[s] = choose(s, (const char *)w, scales, x, y);
        describe("measured");
    }
    if (w) zk_free(w, PROBE_BYTES);
    free(scales);
    free(x);
    free(y);
}

void zk_one_query_plan_ensure(void) { pthread_once(&plan_once, plan); }

int zk_swap_one_query_height(int storage, int height) {
    zk_one_query_plan_ensure();
    if (storage < 0 || storage > 2) return -1;
    const int was = zk_one_height[storage];
    zk_one_height[storage] = height == 1 || height == 2 ? height : 0;
    return was;
}

const char *zk_one_query_plan(void) {
    zk_one_query_plan_ensure();
    return plan_text;
}
