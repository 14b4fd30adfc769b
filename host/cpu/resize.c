/*
** resize.c — CPU kernels of pad and interpolate.
**
** pad moves elements and never computes, so it runs on every dtype by element size
** and reads its input through its strides (no copy). Each padded dim gets an index
** map, output index -> source index (or -1 for the constant), built once per call.
** The last dim is always padded (the pad list starts there); its interior is one
** straight run, copied with memcpy when the input is contiguous along it.
**
** interpolate computes the source taps of each output row and column once, exactly as
** PyTorch does, in the kernel's own precision (f32 taps for f32, as PyTorch's opmath),
** then blends planes (batch x channels) in parallel. Nearest uses float arithmetic for
** its index for every dtype, as PyTorch's nearest_idx does.
**
** The pad maps and the taps are exported (resize.h) for the gradients in
** resize_backward.c, which must read the very sources the forward read.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resize.h"

/* {====== pad */

static inline void copy_elem(char *dst, const char *src, size_t es) {
  switch (es) {   /* constant sizes let the compiler emit a single move */
  case 1: memcpy(dst, src, 1); break;
  case 2: memcpy(dst, src, 2); break;
  case 4: memcpy(dst, src, 4); break;
  default: memcpy(dst, src, 8); break;
  }
}

/* Source index of output index o along a dim of `size` padded by `before` in front. */
static int64_t pad_source(ember_pad_mode mode, int64_t o, int64_t before, int64_t size) {
  int64_t i = o - before;
  if (i >= 0 && i < size) return i;
  switch (mode) {
  case EMBER_PAD_CONSTANT: return -1;
  case EMBER_PAD_REFLECT: return i < 0 ? -i : 2 * (size - 1) - i;   /* pad < size: one bounce */
  case EMBER_PAD_REPLICATE: return i < 0 ? 0 : size - 1;
  }
  return -1;
}

int64_t *ember_pad_maps(const ember_pad_geom *g, const int64_t *padded, const int64_t *plain,
                        int64_t *at) {
  int64_t nmap = 0;
  for (int j = 0; j < g->npad; j++) {
    at[j] = nmap;
    nmap += padded[j];
  }
  int64_t *maps = ember_scratch_alloc((size_t)nmap * sizeof *maps);
  if (maps == NULL) return NULL;
  for (int j = 0; j < g->npad; j++)
    for (int64_t o = 0; o < padded[j]; o++)
      maps[at[j] + o] = pad_source(g->mode, o, g->before[j], plain[j]);
  return maps;
}

/* What every row of a pad reads: the padded dims' maps (dim first + j at maps + at[j]),
** the fill element, and the last dim's interior [lo, hi). */
typedef struct pad_ctx {
  const ember_tensor *x, *out;
  int nd, first;
  size_t es;
  const int64_t *maps, *at, *lmap;
  const unsigned char *fill;
  const char *src;
  char *dst;
  int64_t last, st, before, lo, hi;
} pad_ctx;

/* Output rows [r0, r1) (rows of the last dim). */
static void pad_rows(void *ctx, int64_t r0, int64_t r1) {
  const pad_ctx *p = ctx;
  const ember_tensor *x = p->x, *out = p->out;
  int nd = p->nd, first = p->first;
  size_t es = p->es;
  const int64_t *maps = p->maps, *at = p->at, *lmap = p->lmap;
  const char *src = p->src, *fill = (const char *)p->fill;
  int64_t last = p->last, st = p->st, before = p->before, lo = p->lo, hi = p->hi;
  for (int64_t r = r0; r < r1; r++) {
    char *d = p->dst + (size_t)(r * last) * es;
    int64_t rem = r, off = 0;
    int empty = 0;
    for (int k = nd - 2; k >= 0; k--) {     /* the row's index, dim by dim from the back */
      int64_t o = rem % out->shape[k];
      rem /= out->shape[k];
      int64_t i = k >= first ? maps[at[k - first] + o] : o;
      if (i < 0) empty = 1;
      else off += i * x->stride[k];
    }
    if (empty) {
      for (int64_t o = 0; o < last; o++) copy_elem(d + (size_t)o * es, fill, es);
      continue;
    }
    for (int64_t o = 0; o < lo; o++) {
      int64_t i = lmap[o];
      copy_elem(d + (size_t)o * es, i < 0 ? fill : src + (size_t)(off + i * st) * es, es);
    }
    if (st == 1) {
      if (hi > lo)
        memcpy(d + (size_t)lo * es, src + (size_t)(off + lo - before) * es, (size_t)(hi - lo) * es);
    } else {
      for (int64_t o = lo; o < hi; o++)
        copy_elem(d + (size_t)o * es, src + (size_t)(off + (o - before) * st) * es, es);
    }
    for (int64_t o = hi; o < last; o++) {
      int64_t i = lmap[o];
      copy_elem(d + (size_t)o * es, i < 0 ? fill : src + (size_t)(off + i * st) * es, es);
    }
  }
}

ember_status ember_cpu_pad(ember_call *c) {
  ember_pad_geom g;
  if (ember_pad_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  const ember_tensor *x = c->in[0];
  ember_tensor *out = c->out[0];
  int nd = x->ndim, first = nd - g.npad;
  size_t es = ember_dtype_size(x->dtype);
  int64_t total = ember_tensor_numel(out);
  if (total == 0) return EMBER_OK;
  int64_t at[EMBER_MAX_DIMS];
  int64_t *maps = ember_pad_maps(&g, out->shape + first, x->shape + first, at);
  if (maps == NULL) return ember_op_error(c, "out of memory");
  unsigned char fill[16] = {0};
  ember_store_f64(x->dtype, fill, g.value);
  int64_t last = out->shape[nd - 1], rows = total / last;
  int64_t before = g.before[g.npad - 1], size = x->shape[nd - 1];
  /* a pad in front and a crop behind can put `before` past the end of the row */
  int64_t lo = before < 0 ? 0 : before > last ? last : before;
  int64_t hi = before + size < last ? before + size : last;
  if (hi < lo) hi = lo;
  pad_ctx p = { x, out, nd, first, es, maps, at, maps + at[g.npad - 1], fill,
                ember_tensor_data(x), ember_tensor_data(out), last, x->stride[nd - 1],
                before, lo, hi };
  ember_parallel_for(rows, total, pad_rows, &p);
  ember_scratch_free(maps);
  return EMBER_OK;
}

/* }====== */

/* {====== interpolate */

/* v as the taps' dtype holds it: rounded to f32 when f32 is set. A sum, difference,
** product or quotient of two floats computed in double and rounded once is exactly
** the float result, so rounding after every step lets one body compute the f32 taps
** as float arithmetic would and the f64 taps as double arithmetic does. */
static inline double in_dtype(int f32, double v) {
  return f32 ? (double)(float)v : v;
}

/* PyTorch's compute_scales_value: 1/scale_factor when the user gave one, else in/out,
** in f32 when f32 (see in_dtype). */
static double area_scale(double given, int64_t in, int64_t out, int f32) {
  return given > 0 ? in_dtype(f32, 1.0 / given)
                   : in_dtype(f32, in_dtype(f32, (double)in) / in_dtype(f32, (double)out));
}

static void nearest_taps(ember_taps *t, int64_t in, int64_t out, double given, int exact) {
  float scale = (float)area_scale(given, in, out, 1);
  for (int64_t o = 0; o < out; o++) {
    int64_t i;
    if (exact) i = (int64_t)floorf((float)(((double)o + 0.5) * scale));
    else if (out == in) i = o;
    else if (out == 2 * in) i = o >> 1;
    else i = (int64_t)floorf((float)o * scale);
    t->i0[o] = t->i1[o] = i < in - 1 ? i : in - 1;
    t->l0[o] = 1;
    t->l1[o] = 0;
  }
}

/* PyTorch's area_pixel_compute_source_index and compute_source_index_and_lambda, every
** step in f32 for f32 data (its opmath type) and in f64 for f64. */
static void linear_taps(ember_taps *t, int64_t in, int64_t out, double given, int align, int f32) {
  double ratio = !align ? area_scale(given, in, out, f32)
               : out > 1 ? in_dtype(f32, in_dtype(f32, (double)(in - 1)) / in_dtype(f32, (double)(out - 1)))
               : 0.0;
  for (int64_t o = 0; o < out; o++) {
    if (out == in) {
      t->i0[o] = t->i1[o] = o;
      t->l0[o] = 1;
      t->l1[o] = 0;
      continue;
    }
    double fo = in_dtype(f32, (double)o);
    double src = align ? in_dtype(f32, ratio * fo)
                       : in_dtype(f32, in_dtype(f32, ratio * in_dtype(f32, fo + 0.5)) - 0.5);
    if (src < 0) src = 0;
    int64_t i0 = (int64_t)src < in - 1 ? (int64_t)src : in - 1;
    double l1 = in_dtype(f32, src - in_dtype(f32, (double)i0));
    l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
    t->i0[o] = i0;
    t->i1[o] = i0 + (i0 < in - 1);
    t->l1[o] = l1;
    t->l0[o] = in_dtype(f32, 1.0 - l1);
  }
}

static int make_taps(ember_taps *t, ember_dtype dt, const ember_interp_geom *g, int64_t in,
                     int64_t out, double given) {
  t->i0 = ember_scratch_alloc((size_t)out * 2 * sizeof *t->i0);
  t->l0 = ember_scratch_alloc((size_t)out * 2 * sizeof *t->l0);
  if (t->i0 == NULL || t->l0 == NULL) return 0;
  t->i1 = t->i0 + out;
  t->l1 = t->l0 + out;
  if (g->mode == EMBER_INTERP_BILINEAR)
    linear_taps(t, in, out, given, g->align_corners, dt == EMBER_F32);
  else
    nearest_taps(t, in, out, given, g->mode == EMBER_INTERP_NEAREST_EXACT);
  return 1;
}

void ember_interp_taps_free(ember_taps *ty, ember_taps *tx) {
  ember_scratch_free(tx->l0);
  ember_scratch_free(tx->i0);
  ember_scratch_free(ty->l0);
  ember_scratch_free(ty->i0);
}

ember_status ember_interp_taps(ember_call *c, ember_dtype dt, const ember_interp_geom *g,
                               ember_taps *ty, ember_taps *tx) {
  *ty = *tx = (ember_taps){0};
  if (make_taps(ty, dt, g, g->h, g->oh, g->scale[0]) && make_taps(tx, dt, g, g->w, g->ow, g->scale[1]))
    return EMBER_OK;
  ember_interp_taps_free(ty, tx);
  return ember_op_error(c, "out of memory");
}

static void nearest_plane_f32(const float *in, float *out, const ember_interp_geom *g,
                              const ember_taps *ty, const ember_taps *tx) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    const float *row = in + ty->i0[oy] * g->w;
    float *o = out + oy * g->ow;
    for (int64_t ox = 0; ox < g->ow; ox++) o[ox] = row[tx->i0[ox]];
  }
}

static void nearest_plane_f64(const double *in, double *out, const ember_interp_geom *g,
                              const ember_taps *ty, const ember_taps *tx) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    const double *row = in + ty->i0[oy] * g->w;
    double *o = out + oy * g->ow;
    for (int64_t ox = 0; ox < g->ow; ox++) o[ox] = row[tx->i0[ox]];
  }
}

static inline double load(ember_dtype dt, const void *p, int64_t i) {
  return dt == EMBER_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static void bilinear_plane(ember_dtype dt, const void *in, void *out, const ember_interp_geom *g,
                           const ember_taps *ty, const ember_taps *tx) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t r0 = ty->i0[oy] * g->w, r1 = ty->i1[oy] * g->w;
    double wy0 = ty->l0[oy], wy1 = ty->l1[oy];
    for (int64_t ox = 0; ox < g->ow; ox++) {
      int64_t c0 = tx->i0[ox], c1 = tx->i1[ox];
      double wx0 = tx->l0[ox], wx1 = tx->l1[ox];
      double v = wy0 * (wx0 * load(dt, in, r0 + c0) + wx1 * load(dt, in, r0 + c1)) +
                 wy1 * (wx0 * load(dt, in, r1 + c0) + wx1 * load(dt, in, r1 + c1));
      if (dt == EMBER_F32) ((float *)out)[oy * g->ow + ox] = (float)v;
      else ((double *)out)[oy * g->ow + ox] = v;
    }
  }
}

typedef struct interp_ctx {
  ember_dtype dt;
  size_t es;
  int64_t isz, osz;
  const char *in;
  char *out;
  const ember_interp_geom *g;
  const ember_taps *ty, *tx;
} interp_ctx;

/* Planes [lo, hi) (batch x channels) of an interpolation. */
static void interp_planes(void *ctx, int64_t lo, int64_t hi) {
  const interp_ctx *ic = ctx;
  ember_dtype dt = ic->dt;
  const ember_interp_geom *g = ic->g;
  for (int64_t p = lo; p < hi; p++) {
    const char *pi = ic->in + (size_t)(p * ic->isz) * ic->es;
    char *po = ic->out + (size_t)(p * ic->osz) * ic->es;
    if (g->mode == EMBER_INTERP_BILINEAR) bilinear_plane(dt, pi, po, g, ic->ty, ic->tx);
    else if (dt == EMBER_F32) nearest_plane_f32((const float *)pi, (float *)po, g, ic->ty, ic->tx);
    else nearest_plane_f64((const double *)pi, (double *)po, g, ic->ty, ic->tx);
  }
}

ember_status ember_cpu_interpolate(ember_call *c) {
  ember_interp_geom g;
  if (ember_interp_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  int64_t planes = g.n * g.c, isz = g.h * g.w, osz = g.oh * g.ow;
  if (planes * osz == 0) return EMBER_OK;
  ember_taps ty, tx;
  if (ember_interp_taps(c, dt, &g, &ty, &tx) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *x = ember_contiguous(c->in[0]);
  if (x == NULL) {
    ember_interp_taps_free(&ty, &tx);
    return EMBER_ERROR;
  }
  interp_ctx ic = { dt, es, isz, osz, ember_tensor_data(x), ember_tensor_data(c->out[0]),
                    &g, &ty, &tx };
  ember_parallel_for(planes, planes * osz, interp_planes, &ic);
  ember_interp_taps_free(&ty, &tx);
  ember_tensor_release(x);
  return EMBER_OK;
}

/* }====== */
