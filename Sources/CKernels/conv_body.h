// The direct-convolution micro-kernel in intrinsics, the AVX2 fallback where conv.c's inline-assembly
// tile (GNU C asm) is not compiled; compiled once per instruction set by conv.c, which defines
// SFX (name suffix), TGT (target attribute) and NO (output channels per register tile: 8 with the
// 32 registers of AVX-512VL, 4 with AVX2's 16).
//
// A tile is NO output channels x ZK_CONV_TP (24) consecutive positions of the padded, flattened
// output (see conv.c): 3 vectors of 8 pixels per channel, NO x 3 accumulators. For every input
// channel and tap the 3 input vectors are loaded once (unaligned, shifted by the tap's offset) and
// each of the NO weights is broadcast once: 3 + NO loads for 3 x NO FMAs, no im2col copy.

#define ZK_CCAT_(a, b) a##_##b
#define ZK_CCAT(a, b) ZK_CCAT_(a, b)
#define CFN(name) ZK_CCAT(name, SFX)

// TAPS is a compile-time 9 or 1 so the tap loop unrolls with its offsets in registers.
#define ZK_CONV_TILE(NAME, TAPS)                                                                     \
TGT static void NAME(const float *restrict x, size_t plane, int channels, const int *restrict offs,  \
                     const float *restrict w, float *restrict tmp) {                                  \
    __m256 acc[NO][3];                                                                               \
    for (int j = 0; j < NO; j++) for (int v = 0; v < 3; v++) acc[j][v] = _mm256_setzero_ps();       \
    int off[TAPS];                                                                                   \
    for (int t = 0; t < TAPS; t++) off[t] = offs[t];                                                 \
    for (int c = 0; c < channels; c++) {                                                             \
        const float *xc = x + (size_t)c * plane;                                                     \
        const float *wc = w + (size_t)c * TAPS * 8;                                                  \
        for (int t = 0; t < TAPS; t++) {                                                             \
            const float *xt = xc + off[t];                                                           \
            __m256 x0 = _mm256_loadu_ps(xt), x1 = _mm256_loadu_ps(xt + 8), x2 = _mm256_loadu_ps(xt + 16); \
            for (int j = 0; j < NO; j++) {                                                           \
                __m256 b = _mm256_broadcast_ss(wc + t * 8 + j);                                      \
                acc[j][0] = _mm256_fmadd_ps(b, x0, acc[j][0]);                                       \
                acc[j][1] = _mm256_fmadd_ps(b, x1, acc[j][1]);                                       \
                acc[j][2] = _mm256_fmadd_ps(b, x2, acc[j][2]);                                       \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    for (int j = 0; j < NO; j++)                                                                     \
        for (int v = 0; v < 3; v++) _mm256_storeu_ps(tmp + j * ZK_CONV_TP + v * 8, acc[j][v]);      \
}

ZK_CONV_TILE(CFN(conv_tile9), 9)
ZK_CONV_TILE(CFN(conv_tile1), 1)

// One block of 8 output channels at positions q0 ..< q0 + 24 into tmp[8][24].
TGT static void CFN(conv_block)(const float *x, size_t plane, int channels, const int *offs, int taps,
                                const float *w, float *tmp) {
    for (int h = 0; h < 8; h += NO) {
        if (taps == 9) CFN(conv_tile9)(x, plane, channels, offs, w + h, tmp + h * ZK_CONV_TP);
        else CFN(conv_tile1)(x, plane, channels, offs, w + h, tmp + h * ZK_CONV_TP);
    }
}

#undef ZK_CONV_TILE
#undef CFN
