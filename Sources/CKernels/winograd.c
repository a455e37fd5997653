// Winograd F(m x m, 3x3), m = 2 or 4, for the VQ decoder's stride-1 3x3 convolutions with many
// channels.
//
// Each m x m block of output pixels (a "tile") comes from an a x a window d of the padded input,
// a = m + 2. With the weights transformed once at load, U = G g G^T (a x a per input/output channel
// pair), a tile is
//     Y = A^T [ sum over input channels of U (.) V ] A,   V = B^T d B,
// so the 9 m^2 multiplies of a direct tile become a^2: 2.25x fewer for m = 2 (16 for 36), 4x for
// m = 4 (36 for 144). The sums over input channels are a^2 matrix products, one per transformed
// position, [out x in] x [in x tiles], run on conv.c's register tile (8 output channels x tp
// tiles, tp = 48 with AVX-512, 24 with AVX2): the inner loop is the direct kernel's.
//
// Blocking: tiles are numbered row-major over the tile grid and taken tp at a time (a "chunk",
// which may span tile rows). A chunk's transformed input V [a^2][in][tp] sits in a per-thread
// scratch (384 KB for m = 2 at 128 channels) and serves every block of 8 output channels before
// the next chunk is transformed; nothing image-sized is ever materialized.
//
// Accuracy: for m = 2, B and A hold only 0 and +-1 and G 1 and +-1/2 (exact in float): a few more
// roundings per element, the same 1e-7 relative band as the direct kernel. For m = 4 the
// interpolation points 0, +-1, +-2 bring factors up to 8 in A and 1/24 in G: errors grow about
// tenfold (ConvTests states the bounds).
#include "ckernels.h"
#include "internal.h"
#include "winograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WG_MAX = 6 };    // largest window side (m = 4)

// The transform matrices, [a][3] (G), [a][a] (B^T), [m][a] (A^T), for m = 2 and m = 4.
static const double G2[4][3] = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
static const float BT2[4][4] = { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } };
static const float AT2[2][4] = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };
static const double G4[6][3] = {
    { 1.0 / 4, 0, 0 }, { -1.0 / 6, -1.0 / 6, -1.0 / 6 }, { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 }, { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 } };
static const float BT4[6][6] = {
    { 4, 0, -5, 0, 1, 0 }, { 0, -4, -4, 1, 1, 0 }, { 0, 4, -4, -1, 1, 0 },
    { 0, -2, -1, 2, 1, 0 }, { 0, 2, -1, -2, 1, 0 }, { 0, 4, 0, -5, 0, 1 } };
static const float AT4[4][6] = { { 1, 1, 1, 1, 1, 0 }, { 0, 1, -1, 2, -2, 0 }, { 0, 1, 1, 4, 4, 0 }, { 0, 1, -1, 8, -8, 1 } };

static int valid_tile(int m) { return m == 2 || m == 4; }

size_t zk_winograd_packed_count(int m, int out, int in) {
    if (!valid_tile(m)) return 0;
    return (size_t)(m + 2) * (m + 2) * ((out + 7) / 8) * in * 8;
}

// U = G g G^T in double, stored [pos][out/8][in][8]: the weight layout of the one-tap register tile.
void zk_winograd_pack(int m, const float *w, int out, int in, float *packed) {
    if (!valid_tile(m)) return;
    int a = m + 2, blocks = (out + 7) / 8;
    const double *G = m == 2 ? &G2[0][0] : &G4[0][0];
    for (int o = 0; o < blocks * 8; o++)
        for (int c = 0; c < in; c++) {
            const float *g = o < out ? w + ((size_t)o * in + c) * 9 : NULL;
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++) {
                    double u = 0;
                    if (g)
                        for (int r = 0; r < 3; r++)
                            for (int s = 0; s < 3; s++) u += G[i * 3 + r] * g[r * 3 + s] * G[j * 3 + s];
                    packed[(((size_t)(i * a + j) * blocks + o / 8) * in + c) * 8 + o % 8] = (float)u;
                }
        }
}

// Which 3x3 convolutions Winograd takes by default (0 = the direct kernel), only where measured to
// win: with AVX-512 (measured when only AVX-512 had vectorised transforms; AVX2 has them too now,
// winograd_avx2.c, but its default stays direct: a caller that times its layers picks per layer),
// enough channels that the products dominate the transforms, and weights of at most 256 x 256: U
// is (m+2)^2/9 times the direct packing, and the bigger layers of a VQ decoder run at its smallest
// planes, where streaming U once per image costs about what it saves. ZK_WINOGRAD=2 or 4 picks the
// tile, 0 turns it off.
int zk_winograd_choice(int out, int in) {
    zk_runtime_init();
    int m = 2;
    const char *env = getenv("ZK_WINOGRAD");
    if (env && *env) m = atoi(env);
    if (!valid_tile(m)) return 0;
    return zk_isa_detected() == ZK_ISA_AVX512 && in >= 32 && out >= 32 && (long)in * out <= 256L * 256 ? m : 0;
}

// Per-thread scratch (V and M): grows to the largest layer seen, like matmul.c's.
static _Thread_local float *scratch_f;
static _Thread_local size_t scratch_n;

static float *thread_scratch(size_t n) {
    if (n > scratch_n) {
        free(scratch_f);
        scratch_f = NULL;
        if (posix_memalign((void **)&scratch_f, 64, n * sizeof(float)) != 0) scratch_f = NULL;
        scratch_n = scratch_f ? n : 0;
    }
    return scratch_f;
}

// ---- portable transforms (any instruction set; the products still use conv.c's tile) -----------

static void input_scalar(const zk_wg_ctx *a, int n0, int nt, float *v) {
    int m = a->m, al = m + 2, wp = a->width + 2, rows = a->height + 2, tp = a->tp;
    const float *BT = m == 2 ? &BT2[0][0] : &BT4[0][0];
    size_t plane = zk_conv_plane(a->height, a->width), step = (size_t)a->in * tp;
    for (int i = 0; i < nt; i++) {
        int n = n0 + i, ty = n / a->tw, tx = n - ty * a->tw;
        for (int c = 0; c < a->in; c++) {
            // Window cells past the padded plane's last row or column read as zero (they only
            // feed outputs past the image, which are dropped).
            const float *x = a->xp + (size_t)c * plane + (size_t)(m * ty) * wp + m * tx;
            float d[WG_MAX][WG_MAX], t[WG_MAX][WG_MAX];
            for (int r = 0; r < al; r++)
                for (int k = 0; k < al; k++) d[r][k] = m * ty + r < rows && m * tx + k < wp ? x[r * wp + k] : 0;
            for (int r = 0; r < al; r++)             // B^T d
                for (int k = 0; k < al; k++) {
                    float s = 0;
                    for (int q = 0; q < al; q++) s += BT[r * al + q] * d[q][k];
                    t[r][k] = s;
                }
            for (int r = 0; r < al; r++)             // (B^T d) B
                for (int k = 0; k < al; k++) {
                    float s = 0;
                    for (int q = 0; q < al; q++) s += t[r][q] * BT[k * al + q];
                    v[(size_t)(r * al + k) * step + (size_t)c * tp + i] = s;
                }
        }
    }
}

static void output_scalar(const zk_wg_ctx *a, int n0, int nt, int b, const float *mm) {
    int m = a->m, al = m + 2, tp = a->tp, w = a->width, h = a->height, jn = a->out - b * 8 < 8 ? a->out - b * 8 : 8;
    const float *AT = m == 2 ? &AT2[0][0] : &AT4[0][0];
    size_t hw = (size_t)h * w;
    for (int j = 0; j < jn; j++) {
        int o = b * 8 + j;
        float bias = a->bias ? a->bias[o] : 0;
        float *yo = a->y + (size_t)o * hw;
        const float *so = a->skip ? a->skip + (size_t)o * hw : NULL;
        for (int i = 0; i < nt; i++) {
            int n = n0 + i, ty = n / a->tw, tx = n - ty * a->tw;
            float t[WG_MAX][WG_MAX];
            for (int r = 0; r < m; r++)               // A^T M
                for (int k = 0; k < al; k++) {
                    float s = 0;
                    for (int q = 0; q < al; q++) s += AT[r * al + q] * mm[((size_t)(q * al + k) * 8 + j) * tp + i];
                    t[r][k] = s;
                }
            for (int dy = 0; dy < m && m * ty + dy < h; dy++)
                for (int dx = 0; dx < m && m * tx + dx < w; dx++) {
                    float s = 0;                       // (A^T M) A
                    for (int q = 0; q < al; q++) s += t[dy][q] * AT[dx * al + q];
                    size_t at = (size_t)(m * ty + dy) * w + m * tx + dx;
                    yo[at] = s + bias + (so ? so[at] : 0);
                }
        }
    }
}

static void wg_part(void *p, int part, int parts) {
    (void)parts;
    const zk_wg_ctx *a = p;
    int pt = part % a->tparts, po = part / a->tparts, tp = a->tp, in = a->in, np = a->positions;
    int c0 = (int)((long)a->chunks * pt / a->tparts), c1 = (int)((long)a->chunks * (pt + 1) / a->tparts);
    int b0 = (int)((long)a->blocks * po / a->oparts), b1 = (int)((long)a->blocks * (po + 1) / a->oparts);
    size_t vn = (size_t)np * in * tp;
    float *v = thread_scratch(vn + (size_t)np * 8 * tp);
    if (!v) { fputs("zk_conv2d_winograd: out of memory for the tile scratch\n", stderr); abort(); }
    float *m = v + vn;
    for (int ch = c0; ch < c1; ch++) {
        int n0 = ch * tp, nt = a->tiles - n0 < tp ? a->tiles - n0 : tp;
        if (nt < tp)    // a partial last chunk: its unused columns go through the products as zeros
            for (size_t row = 0; row < (size_t)np * in; row++) memset(v + row * tp + nt, 0, (size_t)(tp - nt) * sizeof(float));
        if (a->level == ZK_ISA_AVX512) zk_wg_input_avx512(a, n0, nt, v);
        else if (a->level == ZK_ISA_AVX2) zk_wg_input_avx2(a, n0, nt, v);
        else input_scalar(a, n0, nt, v);
        for (int b = b0; b < b1; b++) {
            for (int q = 0; q < np; q++)
                zk_conv_gemm_block(a->level, v + (size_t)q * in * tp, (size_t)tp, in,
                                   a->u + ((size_t)q * a->blocks + b) * in * 8, m + (size_t)q * 8 * tp);
            if (a->level == ZK_ISA_AVX512) zk_wg_output_avx512(a, n0, nt, b, m);
            else if (a->level == ZK_ISA_AVX2) zk_wg_output_avx2(a, n0, nt, b, m);
            else output_scalar(a, n0, nt, b, m);
        }
    }
}

void zk_conv2d_winograd(int m, const float *xp, int in, int height, int width, const float *packed,
                        const float *bias, int out, const float *skip, float *y) {
    zk_runtime_init();
    if (!valid_tile(m) || out <= 0 || height <= 0 || width <= 0) return;
    int level = zk_level(), tp = zk_conv_tile_width(level);
    int th = (height + m - 1) / m, tw = (width + m - 1) / m, tiles = th * tw;
    int chunks = (tiles + tp - 1) / tp, blocks = (out + 7) / 8;
    // Like the direct kernel: chunks first, then output-channel blocks when the image is small (each
    // such part transforms its chunks' input again: cheap next to the products at >= 32 channels).
    int want = 8 * zk_threads();
    int tparts = chunks < want ? chunks : want;
    int oparts = want / tparts;
    if (oparts < 1) oparts = 1;
    if (oparts > blocks) oparts = blocks;
    double work = (double)tiles * (m + 2) * (m + 2) * blocks * 8 * in;
    if (work < 2e5) tparts = oparts = 1;
    zk_wg_ctx a = { xp, in, height, width, packed, bias, out, skip, y, m, (m + 2) * (m + 2),
                    level, tp, tw, tiles, chunks, blocks, tparts, oparts };
    zk_parallel(tparts * oparts, wg_part, &a);
}
