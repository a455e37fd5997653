// Shared between the CKernels source files; not part of the public header.
#ifndef CKERNELS_INTERNAL_H
#define CKERNELS_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

enum { ZK_ISA_SCALAR = 0, ZK_ISA_AVX2 = 1, ZK_ISA_AVX512 = 2 };
extern int zk_isa_level;          // what the CPU supports
extern int zk_scalar_forced;      // tests: use the scalar path
void zk_detect_isa(void);
void zk_runtime_init(void);
static inline int zk_level(void) { return zk_scalar_forced ? ZK_ISA_SCALAR : zk_isa_level; }

double zk_sum_bytes(const char *p, size_t n);

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
#endif
