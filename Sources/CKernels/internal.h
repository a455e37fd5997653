// Shared between the CKernels source files; not part of the public header.
#ifndef CKERNELS_INTERNAL_H
#define CKERNELS_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

// isa.c: the instruction set, detected once (zk_detect_isa may be called any number of times).
enum { ZK_ISA_SCALAR = 0, ZK_ISA_AVX2 = 1, ZK_ISA_AVX512 = 2 };
extern int zk_isa_level;          // what the CPU supports
extern int zk_scalar_forced;      // tests: use the scalar path
void zk_detect_isa(void);
// pool.c: the one-time setup (threads, spin time, OpenBLAS at 1 thread, zk_detect_isa), which every
// dispatching kernel calls first, so zk_level() below is valid inside the kernels.
void zk_runtime_init(void);
static inline int zk_level(void) { return zk_scalar_forced ? ZK_ISA_SCALAR : zk_isa_level; }
// AVX-512 VNNI and BW (the int8 products' vpdpbusd); without them the AVX-512 level runs the AVX2 int8 tile.
extern int zk_has_vnni;
// AVX-VNNI (vpdpbusd on 256-bit vectors): the AVX2 level's int8 tile in fewer instructions, same sums.
extern int zk_has_avx_vnni;
// The AVX2/FMA/F16C loops (attention, vector ops) may run.
static inline int vec(void) { return zk_level() >= ZK_ISA_AVX2; }

// one_query_plan.c: the tile height of one-query products per storage (0: the general tile's, else 1 or 2
// rows), chosen by timing them on this machine. Atomic: the plan writes it while another thread's products
// may be reading it (any height gives the same bits).
enum { ZK_ONE_F32 = 0, ZK_ONE_F16 = 1, ZK_ONE_I8 = 2 };
extern _Atomic int zk_one_height[3];
// matmul.c: the products without the one-query plan's first-use check (the plan times them).
void zk_matmul_f32_run(const float *x, int rows, const float *w, int out, int in, float *y, int mode);
void zk_matmul_f16_run(const float *x, int rows, const uint16_t *w, int out, int in, float *y, int mode);
void zk_matmul_i8_run(const float *x, int rows, const int8_t *w, const float *scales, int out, int in, float *y, int mode);
// Chooses the plan once (on the first one-query product of a model-sized matrix, or when asked for).
void zk_one_query_plan_ensure(void);

// matmul_q8.c: query rows quantized like int8 weights, per group of 32 (see matmul_q8_tile.h).
typedef struct {
    const int8_t *q;     // rows x kp: the values, -127...127, zero from `in` on
    const int8_t *qa;    // rows x kp: their magnitudes (AVX2's unsigned operand)
    const float *s4;     // rows x kp/4: each lane of four values' group scale (8 copies per group)
    const float *s1;     // rows x kp/32: each group's scale once (AVX2 multiplies 8 groups' scales at a time)
    const int32_t *c4;   // rows x kp/4: -128 x the sum of each lane's four values (VNNI's offset)
    int kp;              // `in` rounded up to a multiple of 64
} zk_q8_rows;
// Quantizes `rows` rows of `in` into a per-thread buffer that lives until the thread's next call;
// returns 0, or -1 when memory ran out.
int zk_q8_quantize_rows(const float *x, int rows, int in, zk_q8_rows *out);
// The quantized rows back as floats, q * scale (`rows` x `in`): what the BLAS path multiplies.
void zk_q8_dequantize_rows(const zk_q8_rows *a, int rows, int in, float *out);
void zk_q8_range_scalar(const zk_q8_rows *a, int rows, const int8_t *w, const float *sc, int out, int in, float *y,
                        int o0, int o1);

static inline float zk_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else {                                   // subnormal: renormalise
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    union { uint32_t u; float f; } v = { bits };
    return v.f;
}

// Float to IEEE half, rounding to nearest even (what F16C's vcvtps2ph does), for the scalar paths.
static inline uint16_t zk_float_to_half(float f) {
    union { float f; uint32_t u; } v = { f };
    uint32_t sign = (v.u >> 16) & 0x8000, ax = v.u & 0x7fffffff;
    if (ax >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000 ? 0x200 : 0));   // inf, nan
    if (ax >= 0x477ff000) return (uint16_t)(sign | 0x7c00);       // from 65520 up: rounds to infinity
    if (ax >= 0x38800000)                                          // normal: rebias, round the 13 dropped bits
        return (uint16_t)(sign | ((ax - 0x38000000 + 0xfff + ((ax >> 13) & 1)) >> 13));
    if (ax < 0x33000000) return (uint16_t)sign;                    // below 2^-25 (ties to even: zero)
    uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;         // subnormal: m * 2^(e-150) in units of 2^-24
    int shift = 126 - (int)e;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return (uint16_t)(sign | q);
}
#endif
