// Which instruction set the kernels dispatch to. A file of its own, with its own one-time init, so
// that the pool (which detects the ISA when it starts) and the kernels (which run on the pool and
// dispatch on the ISA) both depend on it and not on each other.
#include "ckernels.h"
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int zk_isa_level = ZK_ISA_SCALAR;
int zk_scalar_forced = 0;
int zk_has_vnni = 0;
int zk_has_avx_vnni = 0;

static void detect(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        zk_isa_level = ZK_ISA_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) zk_isa_level = ZK_ISA_AVX512;
        zk_has_vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
        zk_has_avx_vnni = zk_avx_vnni_supported();
    }
    const char *env = getenv("ZK_ISA");
    // ZK_ISA=scalar, avx2 or avx2-vnni caps the level (tests and benchmarks compare the paths): avx2 is
    // the AVX2 of Haswell to Zen 3, avx2-vnni adds AVX-VNNI's int8 products where the CPU has them (Zen 5,
    // Intel since Alder Lake). The full names are compared so a short or misspelled value cannot read
    // past its end.
    if (env && strcmp(env, "scalar") == 0) zk_isa_level = ZK_ISA_SCALAR;
    const int avx2 = env && strcmp(env, "avx2") == 0, avx2_vnni = env && strcmp(env, "avx2-vnni") == 0;
    if ((avx2 || avx2_vnni) && zk_isa_level > ZK_ISA_AVX2) zk_isa_level = ZK_ISA_AVX2;
    if (avx2) zk_has_avx_vnni = 0;
#endif
}

void zk_detect_isa(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, detect);
}

const char *zk_isa(void) {
    zk_detect_isa();
    switch (zk_level()) {
    case ZK_ISA_AVX512: return "avx512";
    case ZK_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

void zk_force_scalar(int on) { zk_detect_isa(); zk_scalar_forced = on; }

int zk_set_avx_vnni(int on) {
    zk_detect_isa();
    const int was = zk_has_avx_vnni;
    zk_has_avx_vnni = on && zk_avx_vnni_supported();
    return was;
}

int zk_isa_detected(void) { zk_detect_isa(); return zk_isa_level; }
