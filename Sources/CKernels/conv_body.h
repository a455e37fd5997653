// The direct-convolution register tile in intrinsics, written once for both vector widths and
// compiled twice by conv.c, which defines SFX (name suffix), TGT (target attribute), NO (output
// channels per tile), CV / CL (vector type, lanes), CTP (positions per tile: 3 vectors) and the ops
// CLOADU, CSTOREU, CFMA, CSET1, CZERO (undefined again at the end):
//   AVX-512: NO = 8 x 48 positions in 24 zmm accumulators (3 loads and 8 broadcasts for 24 FMAs of
//            16 lanes per input channel and tap: half the instructions per FLOP of ymm code);
//   AVX2:    NO = 4 x 24 positions, the fallback where conv.c's inline-assembly tile (GNU C asm) is
//            not compiled (16 registers: 12 accumulators, 3 inputs, 1 broadcast).
//
// A tile is NO output channels x CTP consecutive positions of the padded, flattened output (see
// conv.c). For every input channel and tap the 3 input vectors are loaded once (unaligned, shifted by
// the tap's offset) and each of the NO weights is broadcast once: 3 + NO loads for 3 x NO FMAs, no
// im2col copy. The accumulators start from tmp [NO][CTP] when `accumulate` is set (the caller splits
// the input channels into chunks), else from zero.

#define ZK_CCAT_(a, b) a##_##b
#define ZK_CCAT(a, b) ZK_CCAT_(a, b)
#define CFN(name) ZK_CCAT(name, SFX)

// TAPS is a compile-time 9 or 1 so the tap loop unrolls with its offsets in registers.
#define ZK_CONV_TILE(NAME, TAPS)                                                                     \
TGT static void NAME(const float *restrict x, size_t plane, int channels, const int *restrict offs,  \
                     const float *restrict w, float *restrict tmp, int accumulate) {                  \
    CV acc[NO][3];                                                                                   \
    for (int j = 0; j < NO; j++)                                                                     \
        for (int v = 0; v < 3; v++) acc[j][v] = accumulate ? CLOADU(tmp + j * CTP + v * CL) : CZERO(); \
    int off[TAPS];                                                                                   \
    for (int t = 0; t < TAPS; t++) off[t] = offs[t];                                                 \
    for (int c = 0; c < channels; c++) {                                                             \
        const float *xc = x + (size_t)c * plane;                                                     \
        const float *wc = w + (size_t)c * TAPS * 8;                                                  \
        for (int t = 0; t < TAPS; t++) {                                                             \
            const float *xt = xc + off[t];                                                           \
            CV x0 = CLOADU(xt), x1 = CLOADU(xt + CL), x2 = CLOADU(xt + 2 * CL);                      \
            for (int j = 0; j < NO; j++) {                                                           \
                CV b = CSET1(wc[t * 8 + j]);                                                         \
                acc[j][0] = CFMA(b, x0, acc[j][0]);                                                  \
                acc[j][1] = CFMA(b, x1, acc[j][1]);                                                  \
                acc[j][2] = CFMA(b, x2, acc[j][2]);                                                  \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    for (int j = 0; j < NO; j++)                                                                     \
        for (int v = 0; v < 3; v++) CSTOREU(tmp + j * CTP + v * CL, acc[j][v]);                      \
}

ZK_CONV_TILE(CFN(conv_tile9), 9)
ZK_CONV_TILE(CFN(conv_tile1), 1)

// One block of 8 output channels at positions q0 ..< q0 + CTP into tmp[8][CTP].
TGT static void CFN(conv_block)(const float *x, size_t plane, int channels, const int *offs, int taps,
                                const float *w, float *tmp) {
    for (int h = 0; h < 8; h += NO) {
        if (taps == 9) CFN(conv_tile9)(x, plane, channels, offs, w + h, tmp + h * CTP, 0);
        else CFN(conv_tile1)(x, plane, channels, offs, w + h, tmp + h * CTP, 0);
    }
}

#undef ZK_CONV_TILE
#undef CFN
#undef ZK_CCAT
#undef ZK_CCAT_
// The parameters too, so the next inclusion defines its own.
#undef SFX
#undef TGT
#undef NO
#undef CV
#undef CL
#undef CTP
#undef CLOADU
#undef CSTOREU
#undef CFMA
#undef CSET1
#undef CZERO
