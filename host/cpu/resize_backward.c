/*
** resize_backward.c — CPU kernels of the gradients of pad and interpolate.
**
** Both forward ops copy or blend input elements into the output, so each gradient is a
** scatter: every output's gradient is added into the input elements it was made of,
** with the weight it was made with. The input's gradient starts at zero; elements no
** output read (cropped by a negative pad, skipped by a downsampling) keep it.
**
** pad_backward maps output indices to source indices exactly as pad does (a dim's
** map, built once) and adds along the last dim, one row of the output at a time. Rows
** that reflect or replicate onto the same input row would race, so only the leading
** dims that are not padded are split across threads.
**
** interpolate_backward computes the same source taps as interpolate (PyTorch's
** formulas, in f32 for f32 data as PyTorch's opmath, nearest in float arithmetic for
** every dtype) and adds the four weighted taps of each output (one for nearest), plane
** by plane in parallel.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"

static inline double load(ember_dtype dt, const void *p, int64_t i) {
  return dt == EMBER_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static inline void add_at(ember_dtype dt, void *p, int64_t i, double v) {
  if (dt == EMBER_F32) ((float *)p)[i] += (float)v;
  else ((double *)p)[i] += v;
}

/* {====== pad_backward */

/* Source index of output index o along a dim of `size` padded by `before` in front;
** -1 for a constant. */
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

/* One call's state: rows of the gradient are split across threads by leading index. */
typedef struct pad_ctx {
  ember_dtype dt;
  size_t es;
  int nd, first;
  const int64_t *gshape, *istride, *maps, *at, *lmap;
  const char *src;
  char *gin;
  int64_t last, per;
} pad_ctx;

/* The rows of leading indices [lo, hi): each output row added into the input row it
** was copied from, element by element through the last dim's map. */
static void pad_rows(void *ctx, int64_t lo, int64_t hi) {
  const pad_ctx *p = ctx;
  int nd = p->nd, first = p->first;
  for (int64_t r = lo * p->per; r < hi * p->per; r++) {
    const char *grow = p->src + (size_t)(r * p->last) * p->es;
    int64_t rem = r, off = 0;
    int empty = 0;
    for (int k = nd - 2; k >= 0; k--) {     /* the row's index, dim by dim from the back */
      int64_t o = rem % p->gshape[k];
      rem /= p->gshape[k];
      int64_t i = k >= first ? p->maps[p->at[k - first] + o] : o;
      if (i < 0) empty = 1;
      else off += i * p->istride[k];
    }
    if (empty) continue;
    char *irow = p->gin + (size_t)off * p->es;
    const int64_t *lmap = p->lmap;
    if (p->dt == EMBER_F32) {
      for (int64_t o = 0; o < p->last; o++)
        if (lmap[o] >= 0) ((float *)irow)[lmap[o]] += ((const float *)grow)[o];
    } else {
      for (int64_t o = 0; o < p->last; o++)
        if (lmap[o] >= 0) ((double *)irow)[lmap[o]] += ((const double *)grow)[o];
    }
  }
}

ember_status ember_cpu_pad_backward(ember_call *c) {
  ember_pad_geom g;
  int64_t shape[EMBER_MAX_DIMS];
  if (ember_pad_grad_geom_of(c, &g, shape) != EMBER_OK) return EMBER_ERROR;
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  ember_tensor *out = c->out[0];
  int nd = out->ndim, first = nd - g.npad;
  char *gin = ember_tensor_data(out);
  int64_t nin = ember_tensor_numel(out);
  if (nin > 0) memset(gin, 0, (size_t)nin * es);
  ember_tensor *go = ember_contiguous(c->in[0]);
  if (go == NULL) return EMBER_ERROR;
  int64_t total = ember_tensor_numel(go);
  if (total == 0 || nin == 0) {
    ember_tensor_release(go);
    return EMBER_OK;
  }
  int64_t nmap = 0, at[EMBER_MAX_DIMS];
  for (int j = 0; j < g.npad; j++) {
    at[j] = nmap;
    nmap += go->shape[first + j];
  }
  int64_t *maps = malloc((size_t)nmap * sizeof *maps);
  if (maps == NULL) {
    ember_tensor_release(go);
    return ember_op_error(c, "out of memory");
  }
  for (int j = 0; j < g.npad; j++)
    for (int64_t o = 0; o < go->shape[first + j]; o++)
      maps[at[j] + o] = pad_source(g.mode, o, g.before[j], shape[first + j]);
  int64_t istride[EMBER_MAX_DIMS];
  ember_contiguous_strides(nd, shape, istride);
  int64_t last = go->shape[nd - 1], rows = total / last;
  /* rows of one leading (unpadded) index touch only that index's part of the input */
  int64_t lead = 1;
  for (int d = 0; d < first; d++) lead *= go->shape[d];
  pad_ctx p = { dt, es, nd, first, go->shape, istride, maps, at, maps + at[g.npad - 1],
                ember_tensor_data(go), gin, last, rows / lead };
  ember_parallel_for(lead, total, pad_rows, &p);
  free(maps);
  ember_tensor_release(go);
  return EMBER_OK;
}

/* }====== */

/* {====== interpolate_backward */

/* The taps of one axis: output o read i0[o] and i1[o] with weights l0[o], l1[o]. */
typedef struct taps {
  int64_t *i0, *i1;
  double *l0, *l1;
} taps;

static void nearest_taps(taps *t, int64_t in, int64_t out, double given, int exact) {
  float scale = given > 0 ? (float)(1.0 / given) : (float)in / (float)out;
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

/* PyTorch's area_pixel_compute_source_index and compute_source_index_and_lambda, in
** f32 for f32 data and in f64 for f64. */
static void linear_taps_f32(taps *t, int64_t in, int64_t out, double given, int align) {
  float ratio = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
                      : (given > 0 ? (float)(1.0 / given) : (float)in / (float)out);
  for (int64_t o = 0; o < out; o++) {
    if (out == in) {
      t->i0[o] = t->i1[o] = o;
      t->l0[o] = 1;
      t->l1[o] = 0;
      continue;
    }
    float src = align ? ratio * (float)o : ratio * ((float)o + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int64_t i0 = (int64_t)src < in - 1 ? (int64_t)src : in - 1;
    float l1 = src - (float)i0;
    l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
    t->i0[o] = i0;
    t->i1[o] = i0 + (i0 < in - 1);
    t->l1[o] = l1;
    t->l0[o] = 1.0f - l1;
  }
}

static void linear_taps_f64(taps *t, int64_t in, int64_t out, double given, int align) {
  double ratio = align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0)
                       : (given > 0 ? 1.0 / given : (double)in / (double)out);
  for (int64_t o = 0; o < out; o++) {
    if (out == in) {
      t->i0[o] = t->i1[o] = o;
      t->l0[o] = 1;
      t->l1[o] = 0;
      continue;
    }
    double src = align ? ratio * (double)o : ratio * ((double)o + 0.5) - 0.5;
    if (src < 0) src = 0;
    int64_t i0 = (int64_t)src < in - 1 ? (int64_t)src : in - 1;
    double l1 = src - (double)i0;
    l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
    t->i0[o] = i0;
    t->i1[o] = i0 + (i0 < in - 1);
    t->l1[o] = l1;
    t->l0[o] = 1.0 - l1;
  }
}

static int make_taps(taps *t, ember_dtype dt, const ember_interp_geom *g, int64_t in,
                     int64_t out, double given) {
  t->i0 = malloc((size_t)out * 2 * sizeof *t->i0);
  t->l0 = malloc((size_t)out * 2 * sizeof *t->l0);
  if (t->i0 == NULL || t->l0 == NULL) return 0;
  t->i1 = t->i0 + out;
  t->l1 = t->l0 + out;
  if (g->mode == EMBER_INTERP_BILINEAR) {
    if (dt == EMBER_F32) linear_taps_f32(t, in, out, given, g->align_corners);
    else linear_taps_f64(t, in, out, given, g->align_corners);
  } else {
    nearest_taps(t, in, out, given, g->mode == EMBER_INTERP_NEAREST_EXACT);
  }
  return 1;
}

static void free_taps(taps *t) {
  free(t->i0);
  free(t->l0);
}

/* One plane: each output's gradient into its (up to) four taps; nearest has weight 1
** on i0 and 0 on i1, so one loop serves both modes. */
static void grad_plane(ember_dtype dt, const void *gout, void *gin, const ember_interp_geom *g,
                       const taps *ty, const taps *tx, int bilinear) {
  for (int64_t oy = 0; oy < g->oh; oy++) {
    int64_t r0 = ty->i0[oy] * g->w, r1 = ty->i1[oy] * g->w;
    double wy0 = ty->l0[oy], wy1 = ty->l1[oy];
    for (int64_t ox = 0; ox < g->ow; ox++) {
      double v = load(dt, gout, oy * g->ow + ox);
      int64_t c0 = tx->i0[ox], c1 = tx->i1[ox];
      if (!bilinear) {
        add_at(dt, gin, r0 + c0, v);
        continue;
      }
      double wx0 = tx->l0[ox], wx1 = tx->l1[ox];
      add_at(dt, gin, r0 + c0, wy0 * wx0 * v);
      add_at(dt, gin, r0 + c1, wy0 * wx1 * v);
      add_at(dt, gin, r1 + c0, wy1 * wx0 * v);
      add_at(dt, gin, r1 + c1, wy1 * wx1 * v);
    }
  }
}

typedef struct interp_ctx {
  ember_dtype dt;
  size_t es;
  const char *gout;
  char *gin;
  const ember_interp_geom *g;
  const taps *ty, *tx;
} interp_ctx;

static void interp_planes(void *ctx, int64_t lo, int64_t hi) {
  const interp_ctx *k = ctx;
  int64_t isz = k->g->h * k->g->w, osz = k->g->oh * k->g->ow;
  for (int64_t p = lo; p < hi; p++) {
    char *pi = k->gin + (size_t)(p * isz) * k->es;
    memset(pi, 0, (size_t)isz * k->es);
    grad_plane(k->dt, k->gout + (size_t)(p * osz) * k->es, pi, k->g, k->ty, k->tx,
               k->g->mode == EMBER_INTERP_BILINEAR);
  }
}

ember_status ember_cpu_interpolate_backward(ember_call *c) {
  ember_interp_geom g;
  if (ember_interp_grad_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  int64_t planes = g.n * g.c, isz = g.h * g.w, osz = g.oh * g.ow;
  char *gin = ember_tensor_data(c->out[0]);
  if (planes * isz == 0) return EMBER_OK;
  taps ty = {0}, tx = {0};
  if (!make_taps(&ty, dt, &g, g.h, g.oh, g.scale[0]) || !make_taps(&tx, dt, &g, g.w, g.ow, g.scale[1])) {
    free_taps(&ty);
    free_taps(&tx);
    return ember_op_error(c, "out of memory");
  }
  ember_tensor *go = ember_contiguous(c->in[0]);
  if (go == NULL) {
    free_taps(&ty);
    free_taps(&tx);
    return EMBER_ERROR;
  }
  interp_ctx k = { dt, es, ember_tensor_data(go), gin, &g, &ty, &tx };
  ember_parallel_for(planes, planes * (isz + osz), interp_planes, &k);
  free_taps(&ty);
  free_taps(&tx);
  ember_tensor_release(go);
  return EMBER_OK;
}

/* }====== */
