// Shared between conv.c, winograd.c and the per-ISA transforms (winograd_avx2.c, winograd_avx512.c,
// both built from winograd_body.h); not part of the public header.
#ifndef CKERNELS_WINOGRAD_H
#define CKERNELS_WINOGRAD_H
#include <stddef.h>

// conv.c's register tile with one tap: tmp [8][tp] = sum over c of w[c][0..7] x x[c * stride ..+tp],
// for the instruction-set level `level`; tp = zk_conv_tile_width(level) positions (48 or 24).
void zk_conv_gemm_block(int level, const float *x, size_t stride, int channels, const float *w, float *tmp);
int zk_conv_tile_width(int level);

// One Winograd convolution call (see winograd.c). Tiles of m x m outputs (m = 2 or 4) are numbered
// row-major over the tile grid (th x tw) and taken tp at a time: chunk n0 ..< n0 + nt.
typedef struct {
    const float *xp; int in, height, width; const float *u; const float *bias; int out;
    const float *skip; float *y;
    int m, positions;                  // output tile side, (m + 2)^2 transformed positions
    int level, tp, tw, tiles, chunks, blocks, tparts, oparts;
} zk_wg_ctx;

// The transformed input V [positions][in][tp], columns 0 ..< nt, of tiles n0 ..< n0 + nt; and
// the inverse transform of M [positions][8][tp] (output channels b*8 ..< b*8 + 8) into y, with
// bias and skip, for m = 2 and 4: 16 tiles per zmm vector (winograd_avx512.c) ...
void zk_wg_input_avx512(const zk_wg_ctx *a, int n0, int nt, float *v);
void zk_wg_output_avx512(const zk_wg_ctx *a, int n0, int nt, int b, const float *m);
// ... and 8 per ymm vector (winograd_avx2.c).
void zk_wg_input_avx2(const zk_wg_ctx *a, int n0, int nt, float *v);
void zk_wg_output_avx2(const zk_wg_ctx *a, int n0, int nt, int b, const float *m);
#endif
