// Which OpenBLAS kernels run, and a guard against OpenBLAS misdetecting the CPU.
//
// OpenBLAS (DYNAMIC_ARCH builds, as Debian's) picks its kernels once, in its own constructor, when the
// library loads; some hypervisors hide CPUID bits so that it picks "Prescott" (SSE3) on an AVX-512
// machine and silently runs fallback kernels. OPENBLAS_CORETYPE overrides the choice, but only if set
// before the library loads: setenv from main (or from our constructor, which runs after the library's)
// is too late. So: if the core OpenBLAS chose is a pre-AVX2 one while the CPU has AVX2 + FMA, this
// constructor sets OPENBLAS_CORETYPE to the matching modern core and re-executes the process (same
// pid, same arguments), once (ZK_BLAS_FIXED marks the second run). ZK_BLAS_FIX=0 turns it off, and an
// OPENBLAS_CORETYPE already in the environment is left alone.
#include "ckernels.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char *openblas_get_corename(void);

const char *zk_blas_core(void) {
    const char *n = openblas_get_corename();
    return n ? n : "unknown";
}

// The DYNAMIC_ARCH cores with AVX2 + FMA kernels (OpenBLAS 0.3.x names, compared case-insensitively).
static const char *modern[] = { "haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", NULL };

static int cpu_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return ZK_ISA_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq")) return ZK_ISA_AVX512;
    return ZK_ISA_AVX2;
#else
    return ZK_ISA_SCALAR;
#endif
}

int zk_isa_supported(void) { return cpu_level(); }

int zk_avx_vnni_supported(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avxvnni");
#else
    return 0;
#endif
}

int zk_blas_core_ok(void) {
    if (cpu_level() < ZK_ISA_AVX2) return 1;           // nothing better to pick
    const char *n = zk_blas_core();
    for (int i = 0; modern[i]; i++) if (strcasecmp(n, modern[i]) == 0) return 1;
    return 0;
}

static const char *fixed_from = NULL;
const char *zk_blas_fixed_from(void) { return fixed_from; }

__attribute__((constructor)) static void zk_blas_guard(int argc, char **argv, char **envp) {
    (void)argc; (void)envp;
    const char *off = getenv("ZK_BLAS_FIX");
    if (off && strcmp(off, "0") == 0) return;
    const char *done = getenv("ZK_BLAS_FIXED");
    if (done) { fixed_from = strdup(done); return; }     // the re-executed run: report, never loop
    // An OPENBLAS_CORETYPE the operator set is a choice (some machines pin an older core because an old
    // OpenBLAS misbehaves on them): keep it; zipar-bench and the worker's log still show which core runs.
    if (getenv("OPENBLAS_CORETYPE")) return;
    if (zk_blas_core_ok() || !argv || !argv[0]) return;
    const char *target = cpu_level() >= ZK_ISA_AVX512 ? "SkylakeX" : "Haswell";
    setenv("ZK_BLAS_FIXED", zk_blas_core(), 1);
    setenv("OPENBLAS_CORETYPE", target, 1);
    fprintf(stderr, "zipar kernels: OpenBLAS chose core %s on a CPU with AVX2%s; re-running with OPENBLAS_CORETYPE=%s\n",
            zk_blas_core(), cpu_level() >= ZK_ISA_AVX512 ? "/AVX-512" : "", target);
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the fallback core (zk_blas_core_ok() still says so)
    unsetenv("ZK_BLAS_FIXED");
}
