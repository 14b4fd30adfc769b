/*
** vk_linalg.c — the linalg family on Vulkan: matmul (also mm and bmm), addmm, outer,
** dot, and nn's linear.
**
** Every product is one GEMM description: out = alpha * A @ B (+ beta * C0), each
** operand with its element offset, row and column strides and batch strides (0 where
** broadcast), so transposed, sliced and expanded views are read in place, never
** copied. Batch dims that every operand steps over as one run are folded into the
** rows first (a contiguous 3-D input times one weight is one tall product). Three
** shaders run it:
**   matmul.comp          tiled, shared memory, register micro tiles: f32, f16 and bf16
**                        (read as stored, summed in f32), f64;
**   matmul_i64.comp      the same tiling in wrapping int64 (integer products);
**   matmul_coopmat.comp  f16 x f16 on NV cooperative matrices (tensor cores), summed
**                        in f32.
** dot is a two-pass reduction (matmul_dot.comp); outer is the GEMM with k = 1.
**
** Tile sizes are specialization constants picked here per device class and problem
** (see pick_tile). The epilogue (alpha, beta * C0 or linear's bias row, fused_linear's
** activation, the output dtype) is fused into the GEMM: no pass over the output
** afterwards.
**
** Element offsets and strides are 32-bit in the shaders: a product whose operands
** reach past 2^31 elements is an error naming the op.
**
** Environment (tests, tuning, benchmarks):
**   EMBER_VK_NO_COOPMAT=1        f16 products take the tiled shader
**   EMBER_VK_COOPMAT_EMULATE=1   (or 8) the cooperative-matrix kernel with its matrix
**                                operations emulated (matmul_coopmat_emu.comp): tests
**                                its indexing on devices without tensor cores; slow
**   EMBER_VK_MATMUL_TILE         large|medium|small|cpu|rows|cols or "bm,bn,bk,tm,tn"
**   EMBER_VK_COOPMAT_TILE        "bm,bn,bk,wm,wn"
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/fused.h"

enum { O, A, B, C0 };           /* the tensors of a product, in binding order */

#define MAX_FOLD (EMBER_MAX_DIMS + 1)

typedef struct gemm {
  const char *op;                          /* named in errors */
  int64_t m, n, k;
  int nb;                                  /* batch dims */
  int64_t bshape[MAX_FOLD];
  const ember_tensor *t[4];                /* out, A, B, C0 (NULL: none) */
  int64_t off[4];
  int64_t rs[4], cs[4];                    /* strides along rows (B: k) and columns (A: k) */
  int64_t bst[4][MAX_FOLD];                /* strides along the batch dims */
  double alpha, beta;
  int act;                                 /* fused_linear's activation (pointwise_ops.h), 0 none */
} gemm;

/* the push constants of matmul_tile.glsl and matmul_coopmat.comp */
typedef struct gemm_push {
  int32_t m, n, k;
  int32_t zbase, bs1;
  int32_t off[4], rs[4], cs[4], b0[4], b1[4];
  uint32_t sc[4];
} gemm_push;

/* {====== tile configurations */

/* matmul.comp: a BM x BN tile per workgroup, BK deep steps, TM x TN per invocation
** ((BM/TM)(BN/TN) invocations). TM and TN are multiples of 4 (rows and columns go in
** vec4s). Shared memory is 2 * BK * (BM + BN) elements (two buffers). */
typedef struct tile { int bm, bn, bk, tm, tn; } tile;

/* discrete GPUs with >= 48 KiB shared memory: 256 invocations, 64 outputs each,
   32 KiB shared (f32) */
static const tile TILE_LARGE = { 128, 128, 16, 8, 8 };
/* lavapipe, integrated and mobile GPUs, and mid-sized products on discrete ones:
   256 invocations, 16 outputs each, 16 KiB shared */
static const tile TILE_MEDIUM = { 64, 64, 16, 4, 4 };
/* lavapipe (the CPU runs a workgroup as SIMD loops): 8 x 8 register tiles do 3x the
   GFLOP/s of 4 x 4 there; 64 invocations, 16 KiB shared */
static const tile TILE_CPU = { 64, 64, 16, 8, 8 };
/* products with few tiles: 64 invocations */
static const tile TILE_SMALL = { 32, 32, 16, 4, 4 };
/* a few rows (m <= 8: vector times matrix) or a few columns: 64 invocations */
static const tile TILE_ROWS = { 8, 128, 16, 4, 4 };
static const tile TILE_COLS = { 128, 8, 16, 4, 4 };

/* matmul_coopmat.comp: WM x WN subgroups of 32, 16 x CN fragments */
typedef struct cm_tile { int bm, bn, bk, wm, wn; } cm_tile;
static const cm_tile CM_LARGE = { 128, 128, 32, 2, 4 };   /* 256 invocations */
static const cm_tile CM_MEDIUM = { 64, 64, 32, 2, 2 };    /* 128 invocations */

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int coopmat_n(void);

static int discrete(void) {
  return vk.props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU &&
         vk.props.limits.maxComputeSharedMemorySize >= 48 * 1024;
}

static int64_t tiles_of(const gemm *g, int64_t bm, int64_t bn, int64_t batches) {
  return cdiv(g->m, bm) * cdiv(g->n, bn) * batches;
}

/* EMBER_VK_MATMUL_TILE="bm,bn,bk,tm,tn" (for tuning): used when the shader can run it */
static int parse_tile(const char *s, int wide, tile *t) {
  if (sscanf(s, "%d,%d,%d,%d,%d", &t->bm, &t->bn, &t->bk, &t->tm, &t->tn) != 5) return 0;
  if (t->tm < 4 || t->tn < 4 || t->tm % 4 || t->tn % 4 || t->bk < 4 || t->bk % 4 ||
      t->bm % t->tm || t->bn % t->tn)
    return 0;
  int64_t threads = (int64_t)(t->bm / t->tm) * (t->bn / t->tn);
  int64_t shared = 2 * (int64_t)t->bk * (t->bm + t->bn) * (wide ? 8 : 4);
  return threads <= vk.props.limits.maxComputeWorkGroupInvocations &&
         threads <= vk.props.limits.maxComputeWorkGroupSize[0] &&
         shared <= vk.props.limits.maxComputeSharedMemorySize;
}

/* Thin tiles for a few rows or columns; on discrete GPUs large tiles where there are
** enough of them to fill the device (its SM count is not known: 128 workgroups of 256
** is about one per SM on the largest), smaller ones when the product has too few tiles
** to keep it busy; lavapipe its own. */
static tile pick_tile(const gemm *g, int64_t batches, int wide) {
  tile t;
  const char *force = getenv("EMBER_VK_MATMUL_TILE");   /* tests and benchmarks */
  if (force && strchr(force, ',') && parse_tile(force, wide, &t)) return t;
  if (force && strcmp(force, "large") == 0) t = TILE_LARGE;
  else if (force && strcmp(force, "medium") == 0) t = TILE_MEDIUM;
  else if (force && strcmp(force, "small") == 0) t = TILE_SMALL;
  else if (force && strcmp(force, "cpu") == 0) t = TILE_CPU;
  else if (force && strcmp(force, "rows") == 0) t = TILE_ROWS;
  else if (force && strcmp(force, "cols") == 0) t = TILE_COLS;
  else if (g->m <= 8 && g->n > 8) t = TILE_ROWS;
  else if (g->n <= 8 && g->m > 8) t = TILE_COLS;
  else if (discrete() && tiles_of(g, 128, 128, batches) >= 128) t = TILE_LARGE;
  else if (vk.props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) t = TILE_CPU;
  else if (tiles_of(g, 64, 64, batches) >= (discrete() ? 64 : 8)) t = TILE_MEDIUM;
  else t = TILE_SMALL;
  if (wide) t.bk = 8;            /* 8-byte elements: the same shared memory as f32 */
  return t;
}

/* EMBER_VK_COOPMAT_TILE="bm,bn,bk,wm,wn" (for tuning): used when the shader can run it */
static int parse_cm_tile(const char *s, cm_tile *t) {
  if (sscanf(s, "%d,%d,%d,%d,%d", &t->bm, &t->bn, &t->bk, &t->wm, &t->wn) != 5) return 0;
  int cn = coopmat_n();
  if (t->wm < 1 || t->wn < 1 || t->bk < 16 || t->bk % 16 || t->bm % (16 * t->wm) ||
      t->bn % (cn * t->wn))
    return 0;
  int64_t threads = 32 * (int64_t)t->wm * t->wn;
  /* uvec4s of the A and B tiles in either major order, and the f32 staging */
  int64_t a1 = (int64_t)t->bm * (t->bk / 8 + 1), a2 = (int64_t)t->bk * (t->bm / 8 + 1);
  int64_t b1 = (int64_t)t->bn * (t->bk / 8 + 1), b2 = (int64_t)t->bk * (t->bn / 8 + 1);
  int64_t shared = 16 * ((a1 > a2 ? a1 : a2) + (b1 > b2 ? b1 : b2)) + 4 * threads / 32 * 16 * cn;
  return threads <= vk.props.limits.maxComputeWorkGroupInvocations &&
         threads <= vk.props.limits.maxComputeWorkGroupSize[0] &&
         shared <= vk.props.limits.maxComputeSharedMemorySize;
}

static cm_tile pick_cm_tile(const gemm *g, int64_t batches) {
  cm_tile t;
  const char *force = getenv("EMBER_VK_COOPMAT_TILE");
  if (force && parse_cm_tile(force, &t)) return t;
  return tiles_of(g, 128, 128, batches) >= 128 ? CM_LARGE : CM_MEDIUM;
}

/* }====== */

/* {====== folding batch dims */

/* Drop size-1 batch dims and merge a dim into the next one (the rows m last) when every
** operand steps over both as one run. B has no row dim (stride 0), so batch dims fold
** into the rows only where B is shared across them. */
static void fold(gemm *g) {
  int nd = 0;
  int64_t size[MAX_FOLD], st[4][MAX_FOLD];
  for (int d = 0; d < g->nb; d++) {
    if (g->bshape[d] == 1) continue;
    size[nd] = g->bshape[d];
    for (int t = 0; t < 4; t++) st[t][nd] = g->bst[t][d];
    nd++;
  }
  size[nd] = g->m;
  for (int t = 0; t < 4; t++) st[t][nd] = t == B ? 0 : g->rs[t];
  nd++;
  int out = nd - 1;              /* fold right to left into slots [out, nd) */
  for (int d = nd - 2; d >= 0; d--) {
    /* a single row (m = 1) has no stride to match: the batch dim becomes the rows,
       unless B varies along it */
    int one = size[out] == 1, merge = 1;
    for (int t = 0; t < 4 && merge; t++)
      merge = (one && t != B) || st[t][d] == st[t][out] * size[out];
    if (merge && one) {
      size[out] = size[d];
      for (int t = 0; t < 4; t++) st[t][out] = st[t][d];
    } else if (merge) {
      size[out] *= size[d];
    } else {
      out--;
      size[out] = size[d];
      for (int t = 0; t < 4; t++) st[t][out] = st[t][d];
    }
  }
  g->m = size[nd - 1];
  for (int t = 0; t < 4; t++) g->rs[t] = t == B ? g->rs[t] : st[t][nd - 1];
  g->nb = nd - 1 - out;
  for (int d = 0; d < g->nb; d++) {
    g->bshape[d] = size[out + d];
    for (int t = 0; t < 4; t++) g->bst[t][d] = st[t][out + d];
  }
}

/* }====== */

/* {====== launching */

static int fits32(int64_t x) { return x >= INT32_MIN && x <= INT32_MAX; }
static int64_t abs64(int64_t x) { return x < 0 ? -x : x; }

/* The farthest element operand t reaches, which the shader indexes in 32 bits. */
static int64_t reach(const gemm *g, int t) {
  int64_t rows = t == B ? g->k : g->m, cols = t == A ? g->k : g->n;
  int64_t r = g->off[t];
  if (rows > 1) r += (rows - 1) * abs64(g->rs[t]);
  if (cols > 1) r += (cols - 1) * abs64(g->cs[t]);
  for (int d = 0; d < g->nb; d++) r += (g->bshape[d] - 1) * abs64(g->bst[t][d]);
  return r;
}

/* May an operand be read `vec` elements at a time along its contiguous dim? That dim
** has stride 1 and every other step (rows, batch dims, offset) keeps the alignment. */
static int vec_ok(const gemm *g, int t, int along_rows, int vec) {
  int64_t rows = t == B ? g->k : g->m, cols = t == A ? g->k : g->n;
  int64_t fast = along_rows ? g->rs[t] : g->cs[t], slow = along_rows ? g->cs[t] : g->rs[t];
  int64_t slow_n = along_rows ? cols : rows;
  if (fast != 1 || g->off[t] % vec != 0 || (slow_n > 1 && slow % vec != 0)) return 0;
  for (int d = 0; d < g->nb; d++)
    if (g->bshape[d] > 1 && g->bst[t][d] % vec != 0) return 0;
  return 1;
}

/* Which dim of an operand its loads run along: the one with stride 1 (k first). */
static int a_mmajor(const gemm *g) {
  return !(g->cs[A] == 1 && g->k > 1) && g->rs[A] == 1 && g->m > 1;
}
static int b_kmajor(const gemm *g) {
  return !(g->cs[B] == 1 && g->n > 1) && g->rs[B] == 1 && g->k > 1;
}

/* EMBER_VK_NO_COOPMAT=1 forces the tiled shader. */
static int coopmat_allowed(void) {
  const char *e = getenv("EMBER_VK_NO_COOPMAT");
  return !(e && *e && strcmp(e, "0") != 0);
}

/* EMBER_VK_COOPMAT_EMULATE=1 (or 8: fragments 16 x 8) runs the cooperative-matrix
** kernel with its matrix operations done by plain code (matmul_coopmat_emu.comp):
** slow, a test of its indexing where the device has no cooperative matrices. */
static int coopmat_emulated(void) {
  const char *e = getenv("EMBER_VK_COOPMAT_EMULATE");
  return e && *e && strcmp(e, "0") != 0;
}

static int coopmat_n(void) {
  if (!coopmat_emulated()) return vk.coopmat_n;
  return strcmp(getenv("EMBER_VK_COOPMAT_EMULATE"), "8") == 0 ? 8 : 16;
}

/* The cooperative-matrix path assumes what vk_device.c checked (VK_NV_cooperative_matrix
** with an f16 x f16 + f32 -> f32 shape of 16 x 16 x 16 or 16 x 8 x 16 at subgroup scope,
** 16-bit storage) and, besides: subgroups of exactly 32 (gl_SubgroupID numbers the
** warps of a workgroup of 32 * WM * WN), and ~28 KiB of shared memory. Both operands
** must be f16 (NV's extension has no bf16; bf16 goes to the tiled shader). C0 and the
** output may be any float dtype: the epilogue converts. */
static int use_coopmat(const gemm *g) {
  if (g->t[A]->dtype != EMBER_F16 || g->t[B]->dtype != EMBER_F16 || !vk.has_f16 ||
      !coopmat_allowed() || vk.props.limits.maxComputeSharedMemorySize < 32 * 1024)
    return 0;
  if (coopmat_emulated()) return 1;
  return vk.coopmat == 2 && vk.subgroup_size == 32 && vk.coopmat_m == 16 &&
         vk.coopmat_k == 16 && (vk.coopmat_n == 16 || vk.coopmat_n == 8);
}

/* vk_shader_variant, with the op named in its error (the device lacks 16-bit storage or f64) */
static ember_status variant(const char *op, char *buf, size_t size, const char *base, int n,
                            const ember_dtype *dts) {
  if (vk_shader_variant(buf, size, base, n, dts) == EMBER_OK) return EMBER_OK;
  char why[256];
  snprintf(why, sizeof why, "%s", ember_last_error());
  return ember_error("%s: %s", op, why);
}

static void encode_scalars(gemm_push *p, ember_dtype dt, int wide_float, double alpha, double beta) {
  if (!ember_dtype_is_float(dt)) {
    int64_t a = (int64_t)alpha, b = (int64_t)beta;
    memcpy(p->sc, &a, 8);
    memcpy(p->sc + 2, &b, 8);
  } else if (wide_float) {
    memcpy(p->sc, &alpha, 8);
    memcpy(p->sc + 2, &beta, 8);
  } else {
    float a = (float)alpha, b = (float)beta;
    memcpy(p->sc, &a, 4);
    memcpy(p->sc + 1, &b, 4);
  }
}

/* Shader, specialization constants and workgroup tile of g. */
typedef struct plan {
  char shader[40];
  uint32_t spec[VK_MAX_SPEC];
  int bm, bn;
  int wide;                      /* alpha and beta as doubles */
} plan;

static ember_status make_plan(const gemm *g, int64_t batches, plan *pl) {
  ember_dtype dab = g->t[A]->dtype, dc = g->t[C0] ? g->t[C0]->dtype : g->t[O]->dtype;
  ember_dtype dout = g->t[O]->dtype;
  int cm = use_coopmat(g), integer = !ember_dtype_is_float(dab);
  int amm = a_mmajor(g), bkm = b_kmajor(g);
  int vec = cm ? 8 : 4;
  int vecable = cm || dab == EMBER_F32 || dab == EMBER_F16 || dab == EMBER_BF16;
  uint32_t code = (uint32_t)vk_dtype_code(dab) | (uint32_t)vk_dtype_code(dc) << 4 |
                  (uint32_t)vk_dtype_code(dout) << 8;
  if (vecable && vec_ok(g, A, amm, vec)) code |= 0x1000;
  if (amm) code |= 0x2000;
  if (vecable && vec_ok(g, B, bkm, vec)) code |= 0x4000;
  if (bkm) code |= 0x8000;
  if (g->t[C0]) code |= 0x10000;
  code |= (uint32_t)g->act << 17;
  memset(pl, 0, sizeof *pl);
  pl->spec[1] = pl->spec[2] = 1;
  pl->spec[7] = code;
  if (cm) {
    cm_tile t = pick_cm_tile(g, batches);
    snprintf(pl->shader, sizeof pl->shader, coopmat_emulated() ? "matmul_coopmat_emu" : "matmul_coopmat");
    pl->spec[0] = (uint32_t)(32 * t.wm * t.wn);
    pl->spec[3] = (uint32_t)t.bm; pl->spec[4] = (uint32_t)t.bn; pl->spec[5] = (uint32_t)t.bk;
    pl->spec[6] = (uint32_t)coopmat_n() | (uint32_t)t.wm << 8 | (uint32_t)t.wn << 16;
    pl->bm = t.bm; pl->bn = t.bn;
    return EMBER_OK;
  }
  pl->wide = integer || dab == EMBER_F64;
  tile t = pick_tile(g, batches, pl->wide);
  if (integer) {
    snprintf(pl->shader, sizeof pl->shader, "matmul_i64");
  } else {
    ember_dtype dts[3] = { dab, dc, dout };
    if (variant(g->op, pl->shader, sizeof pl->shader, "matmul", 3, dts) != EMBER_OK)
      return EMBER_ERROR;
    pl->wide = strstr(pl->shader, "f64") != NULL;
  }
  pl->spec[0] = (uint32_t)((t.bm / t.tm) * (t.bn / t.tn));
  pl->spec[3] = (uint32_t)t.bm; pl->spec[4] = (uint32_t)t.bn; pl->spec[5] = (uint32_t)t.bk;
  pl->spec[6] = (uint32_t)t.tm | (uint32_t)t.tn << 8;
  pl->bm = t.bm; pl->bn = t.bn;
  return EMBER_OK;
}

/* Dispatches for rows [m0, m0 + m) and columns [n0, n0 + n) of batch offsets off[],
** the last two batch dims in z (chunked by the device's group count limits). */
static ember_status dispatch(const gemm *g, const plan *pl, const int64_t *off, int64_t bs0,
                             int64_t bs1, const int64_t *st0, const int64_t *st1) {
  const VkPhysicalDeviceLimits *lim = &vk.props.limits;
  int64_t mstep = (int64_t)lim->maxComputeWorkGroupCount[1] * pl->bm;
  int64_t nstep = (int64_t)lim->maxComputeWorkGroupCount[0] * pl->bn;
  int64_t zstep = lim->maxComputeWorkGroupCount[2], nz = bs0 * bs1;
  gemm_push p;
  memset(&p, 0, sizeof p);
  encode_scalars(&p, g->t[A]->dtype, pl->wide, g->k == 0 ? 0 : g->alpha, g->beta);
  p.k = (int32_t)g->k;
  p.bs1 = (int32_t)bs1;
  for (int t = 0; t < 4; t++) {
    p.rs[t] = (int32_t)g->rs[t];
    p.cs[t] = (int32_t)g->cs[t];
    p.b0[t] = (int32_t)st0[t];
    p.b1[t] = (int32_t)st1[t];
  }
  vk_launch_args a = { .shader = pl->shader, .nbind = 4, .push = &p, .push_bytes = sizeof p };
  memcpy(a.spec, pl->spec, sizeof a.spec);
  for (int t = 0; t < 4; t++) a.bind[t] = g->t[t];
  a.write[O] = 1;
  for (int64_t m0 = 0; m0 < g->m; m0 += mstep)
    for (int64_t n0 = 0; n0 < g->n; n0 += nstep)
      for (int64_t z0 = 0; z0 < nz; z0 += zstep) {
        int64_t m = g->m - m0 < mstep ? g->m - m0 : mstep;
        int64_t n = g->n - n0 < nstep ? g->n - n0 : nstep;
        int64_t z = nz - z0 < zstep ? nz - z0 : zstep;
        p.m = (int32_t)m;
        p.n = (int32_t)n;
        p.zbase = (int32_t)z0;
        for (int t = 0; t < 4; t++)
          p.off[t] = (int32_t)(off[t] + (t == B ? 0 : m0 * g->rs[t]) + (t == A ? 0 : n0 * g->cs[t]));
        a.groups[0] = (uint32_t)cdiv(n, pl->bn);
        a.groups[1] = (uint32_t)cdiv(m, pl->bm);
        a.groups[2] = (uint32_t)z;
        if (vk_launch(&a) != EMBER_OK) return EMBER_ERROR;
      }
  return EMBER_OK;
}

/* Run g: fold its batch dims, check the 32-bit reach, pick the shader and tiles, and
** dispatch (batch dims beyond the two the push constants hold go one at a time). */
static ember_status run_gemm(gemm *g) {
  if (g->t[C0] == NULL || g->beta == 0) {      /* beta == 0 ignores C0, NaN and all */
    g->t[C0] = NULL;
    g->off[C0] = g->rs[C0] = g->cs[C0] = 0;
    for (int d = 0; d < g->nb; d++) g->bst[C0][d] = 0;
  }
  for (int d = 0; d < g->nb; d++)
    if (g->bshape[d] == 0) return EMBER_OK;
  if (g->m == 0 || g->n == 0) return EMBER_OK;
  fold(g);
  for (int t = 0; t < 4; t++) {
    if (t == C0 && g->t[C0] == NULL) continue;
    if (!fits32(reach(g, t)) || !fits32(g->rs[t]) || !fits32(g->cs[t]))
      return ember_error("%s: operands beyond 32-bit indexing on vulkan (%lld x %lld x %lld)",
                         g->op, (long long)g->m, (long long)g->k, (long long)g->n);
  }
  if (g->m > INT32_MAX || g->n > INT32_MAX || g->k > INT32_MAX)
    return ember_error("%s: sizes beyond 32-bit indexing on vulkan", g->op);
  /* the last two batch dims go in z, the others one dispatch per index */
  int inner = g->nb < 2 ? g->nb : 2, outer = g->nb - inner;
  int64_t bs0 = inner == 2 ? g->bshape[outer] : 1, bs1 = inner >= 1 ? g->bshape[g->nb - 1] : 1;
  int64_t st0[4], st1[4];
  for (int t = 0; t < 4; t++) {
    st0[t] = inner == 2 ? g->bst[t][outer] : 0;
    st1[t] = inner >= 1 ? g->bst[t][g->nb - 1] : 0;
  }
  plan pl;
  if (make_plan(g, bs0 * bs1, &pl) != EMBER_OK) return EMBER_ERROR;
  int64_t nouter = 1;
  for (int d = 0; d < outer; d++) nouter *= g->bshape[d];
  for (int64_t i = 0; i < nouter; i++) {
    int64_t off[4], r = i;
    memcpy(off, g->off, sizeof off);
    for (int d = outer - 1; d >= 0; d--) {
      int64_t ix = r % g->bshape[d];
      r /= g->bshape[d];
      for (int t = 0; t < 4; t++) off[t] += ix * g->bst[t][d];
    }
    if (dispatch(g, &pl, off, bs0, bs1, st0, st1) != EMBER_OK) return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* }====== */

/* {====== describing operands */

static void gemm_init(gemm *g, const ember_call *c, ember_tensor *out) {
  memset(g, 0, sizeof *g);
  g->op = c->op->name;
  g->t[O] = out;
  g->alpha = 1;
}

/* Batch strides of t (its own batch dims, right-aligned to g's nb; 0 where broadcast). */
static void batch_strides(gemm *g, int which, const ember_tensor *t, int tb) {
  for (int d = 0; d < g->nb; d++) {
    int it = d - (g->nb - tb);
    g->bst[which][d] = (it < 0 || t->shape[it] == 1) ? 0 : t->stride[it];
  }
}

/* matmul's operands: a 1-D left one is a row, a 1-D right one a column. */
static void matmul_operand(gemm *g, int which, const ember_tensor *t) {
  int nd = t->ndim;
  g->t[which] = t;
  g->off[which] = t->offset;
  if (nd == 1) {
    g->rs[which] = which == A ? 0 : t->stride[0];
    g->cs[which] = which == A ? t->stride[0] : 0;
  } else {
    g->rs[which] = t->stride[nd - 2];
    g->cs[which] = t->stride[nd - 1];
  }
  batch_strides(g, which, t, nd > 2 ? nd - 2 : 0);
}

/* }====== */

/* {====== dot */

#define DOT_LOCAL 256

typedef struct dot_push {
  int32_t n, off_a, st_a, off_b, st_b, off_o, ngroups;
} dot_push;

/* out[off_o] = sum_i a[i] b[i] over n elements of the strided vectors a and b. */
static ember_status dot_into(const char *op, ember_tensor *out, const ember_tensor *a,
                             const ember_tensor *b, int64_t n) {
  int64_t sa = a->stride[0], sb = b->stride[0];
  if (!fits32(n) || !fits32(a->offset + (n > 0 ? (n - 1) * abs64(sa) : 0)) ||
      !fits32(b->offset + (n > 0 ? (n - 1) * abs64(sb) : 0)) || !fits32(out->offset))
    return ember_error("%s: vectors beyond 32-bit indexing on vulkan", op);
  ember_dtype dab = a->dtype, dq;
  if (!ember_dtype_is_float(dab)) dq = EMBER_I64;
  else dq = vk.has_f64 ? EMBER_F64 : EMBER_F32;     /* partial sums in double if it can */
  int64_t groups = cdiv(n, DOT_LOCAL * 4);
  if (groups < 1) groups = 1;
  if (groups > 1024) groups = 1024;
  ember_tensor *q = ember_tensor_empty_on(EMBER_VULKAN, dq, 1, &groups);
  if (q == NULL) return EMBER_ERROR;
  ember_dtype dts[3] = { out->dtype, dab, dq };
  char name[40];
  ember_status st = variant(op, name, sizeof name, "matmul_dot", 3, dts);
  dot_push p = { (int32_t)n, (int32_t)a->offset, (int32_t)sa, (int32_t)b->offset, (int32_t)sb,
                 (int32_t)out->offset, (int32_t)groups };
  for (int mode = 0; mode < 2 && st == EMBER_OK; mode++) {
    vk_launch_args l = { .shader = name, .nbind = 4, .bind = { out, a, b, q },
                         .push = &p, .push_bytes = sizeof p };
    l.write[mode == 0 ? 3 : 0] = 1;
    l.spec[0] = DOT_LOCAL; l.spec[1] = 1; l.spec[2] = 1;
    l.spec[3] = (uint32_t)mode;
    l.spec[4] = (uint32_t)vk_dtype_code(out->dtype);
    l.spec[5] = (uint32_t)vk_dtype_code(dab);
    l.spec[6] = (uint32_t)vk_dtype_code(dq);
    l.groups[0] = mode == 0 ? (uint32_t)groups : 1;
    l.groups[1] = l.groups[2] = 1;
    st = vk_launch(&l);
  }
  ember_tensor_release(q);
  return st;
}

/* }====== */

/* {====== the kernels of the op table */

/* matmul, mm and bmm (as the cpu's ember_cpu_matmul serves all three) */
ember_status vk_matmul(ember_call *c) {
  ember_tensor *a = c->in[0], *b = c->in[1], *out = c->out[0];
  if (a->ndim == 1 && b->ndim == 1) return dot_into(c->op->name, out, a, b, a->shape[0]);
  gemm g;
  gemm_init(&g, c, out);
  g.nb = out->ndim - (a->ndim > 1) - (b->ndim > 1);
  memcpy(g.bshape, out->shape, g.nb * sizeof *g.bshape);
  g.m = a->ndim > 1 ? a->shape[a->ndim - 2] : 1;
  g.k = a->shape[a->ndim - 1];
  g.n = b->ndim > 1 ? b->shape[b->ndim - 1] : 1;
  matmul_operand(&g, A, a);
  matmul_operand(&g, B, b);
  g.off[O] = out->offset;
  g.rs[O] = a->ndim > 1 ? out->stride[g.nb] : 0;
  g.cs[O] = b->ndim > 1 ? out->stride[out->ndim - 1] : 0;
  for (int d = 0; d < g.nb; d++) g.bst[O][d] = out->stride[d];
  return run_gemm(&g);
}

/* out = beta * input + alpha * m1 @ m2, input broadcast to n x m */
ember_status vk_addmm(ember_call *c) {
  ember_tensor *in = c->in[0], *m1 = c->in[1], *m2 = c->in[2], *out = c->out[0];
  gemm g;
  gemm_init(&g, c, out);
  g.beta = c->attr[0].f;
  g.alpha = c->attr[1].f;
  g.m = m1->shape[0];
  g.k = m1->shape[1];
  g.n = m2->shape[1];
  matmul_operand(&g, A, m1);
  matmul_operand(&g, B, m2);
  g.off[O] = out->offset;
  g.rs[O] = out->stride[0];
  g.cs[O] = out->stride[1];
  g.t[C0] = in;
  g.off[C0] = in->offset;
  if (in->ndim == 2) {
    g.rs[C0] = in->shape[0] == 1 ? 0 : in->stride[0];
    g.cs[C0] = in->shape[1] == 1 ? 0 : in->stride[1];
  } else if (in->ndim == 1) {
    g.cs[C0] = in->shape[0] == 1 ? 0 : in->stride[0];
  }
  return run_gemm(&g);
}

/* out[i][j] = a[i] * b[j]: a product with k = 1, a as a column and b as a row */
ember_status vk_outer(ember_call *c) {
  ember_tensor *a = c->in[0], *b = c->in[1], *out = c->out[0];
  gemm g;
  gemm_init(&g, c, out);
  g.m = a->shape[0];
  g.n = b->shape[0];
  g.k = 1;
  g.t[A] = a;
  g.off[A] = a->offset;
  g.rs[A] = a->stride[0];
  g.t[B] = b;
  g.off[B] = b->offset;
  g.cs[B] = b->stride[0];
  g.off[O] = out->offset;
  g.rs[O] = out->stride[0];
  g.cs[O] = out->stride[1];
  return run_gemm(&g);
}

ember_status vk_dot(ember_call *c) {
  return dot_into(c->op->name, c->out[0], c->in[0], c->in[1], c->in[0]->shape[0]);
}

/* out = input @ weight^T + bias: input's leading dims are batch dims that fold into
** the rows when they can; weight^T is read in place (B contiguous along k); the bias
** is C0 with row stride 0. The dispatcher casts f16 operands to f32 for this op; where
** they are f16 and the device has cooperative matrices, the GEMM reads the caller's
** f16 tensors instead (c->in_user), so the tensor cores do the product. act is
** fused_linear's activation, which the epilogue applies (0: none). */
static ember_status linear_run(ember_call *c, int act) {
  ember_tensor *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
  ember_tensor *out = c->out[0];
  if (c->in_user[0]->dtype == EMBER_F16 && c->in_user[1]->dtype == EMBER_F16 &&
      (bias == NULL || c->in_user[2]->dtype == EMBER_F16)) {
    gemm probe = { .t = { out, c->in_user[0], c->in_user[1], NULL } };
    if (use_coopmat(&probe)) {
      x = c->in_user[0];
      w = c->in_user[1];
      if (bias) bias = c->in_user[2];
    }
  }
  int nd = x->ndim;
  gemm g;
  gemm_init(&g, c, out);
  g.act = act;
  g.nb = nd > 2 ? nd - 2 : 0;
  memcpy(g.bshape, out->shape, g.nb * sizeof *g.bshape);
  g.m = nd > 1 ? x->shape[nd - 2] : 1;
  g.k = x->shape[nd - 1];
  g.n = w->shape[0];
  g.t[A] = x;
  g.off[A] = x->offset;
  g.rs[A] = nd > 1 ? x->stride[nd - 2] : 0;
  g.cs[A] = x->stride[nd - 1];
  batch_strides(&g, A, x, g.nb);
  g.t[B] = w;
  g.off[B] = w->offset;
  g.rs[B] = w->stride[1];
  g.cs[B] = w->stride[0];
  g.off[O] = out->offset;
  g.rs[O] = nd > 1 ? out->stride[nd - 2] : 0;
  g.cs[O] = out->stride[nd - 1];
  for (int d = 0; d < g.nb; d++) g.bst[O][d] = out->stride[d];
  if (bias) {
    g.t[C0] = bias;
    g.beta = 1;
    g.off[C0] = bias->offset;
    g.cs[C0] = bias->ndim == 1 && bias->shape[0] > 1 ? bias->stride[0] : 0;
  }
  return run_gemm(&g);
}

ember_status vk_linear(ember_call *c) { return linear_run(c, 0); }

/* export's fused_linear: linear with its activation in the GEMM's epilogue */
ember_status vk_fused_linear(ember_call *c) {
  const ember_fused_word *w;
  if (ember_fused_activation(c, FUSED_LINEAR_ACTIVATION, &w) != EMBER_OK) return EMBER_ERROR;
  return linear_run(c, w ? w->code : 0);
}

/* }====== */
