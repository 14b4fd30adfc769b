/*
** resize_backward.c — CPU kernels of the gradients of pad and interpolate.
**
** Both forward ops copy or blend input elements into the output, so each gradient is a
** scatter: every output's gradient is added into the input elements it was made of,
** with the weight it was made with. The input's gradient starts at zero; elements no
** output read (cropped by a negative pad, skipped by a downsampling) keep it.
**
** pad_backward maps output indices to source indices with pad's own maps (resize.h)
** and adds along the last dim, one row of the output at a time. Rows that reflect or
** replicate onto the same input row would race, so only the leading dims that are not
** padded are split across threads.
**
** interpolate_backward takes interpolate's own taps (resize.h: PyTorch's formulas, in
** f32 for f32 data as PyTorch's opmath, nearest in float arithmetic for every dtype)
** and adds the four weighted taps of each output (one for nearest), plane by plane in
** parallel.
*/
#include <stdlib.h>
#include <string.h>

#include "resize.h"

static inline double load(ember_dtype dt, const void *p, int64_t i) {
  return dt == EMBER_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static inline void add_at(ember_dtype dt, void *p, int64_t i, double v) {
  if (dt == EMBER_F32) ((float *)p)[i] += (float)v;
  else ((double *)p)[i] += v;
}

/* {====== pad_backward */

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
  int64_t at[EMBER_MAX_DIMS];
  int64_t *maps = ember_pad_maps(&g, go->shape + first, shape + first, at);
  if (maps == NULL) {
    ember_tensor_release(go);
    return ember_op_error(c, "out of memory");
  }
  int64_t istride[EMBER_MAX_DIMS];
  ember_contiguous_strides(nd, shape, istride);
  int64_t last = go->shape[nd - 1], rows = total / last;
  /* rows of one leading (unpadded) index touch only that index's part of the input */
  int64_t lead = 1;
  for (int d = 0; d < first; d++) lead *= go->shape[d];
  pad_ctx p = { dt, es, nd, first, go->shape, istride, maps, at, maps + at[g.npad - 1],
                ember_tensor_data(go), gin, last, rows / lead };
  ember_parallel_for(lead, total, pad_rows, &p);
  ember_scratch_free(maps);
  ember_tensor_release(go);
  return EMBER_OK;
}

/* }====== */

/* {====== interpolate_backward */

/* One plane: each output's gradient into its (up to) four taps; nearest has weight 1
** on i0 and 0 on i1, so one loop serves both modes. */
static void grad_plane(ember_dtype dt, const void *gout, void *gin, const ember_interp_geom *g,
                       const ember_taps *ty, const ember_taps *tx, int bilinear) {
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
  const ember_taps *ty, *tx;
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
  ember_taps ty, tx;
  if (ember_interp_taps(c, dt, &g, &ty, &tx) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *go = ember_contiguous(c->in[0]);
  if (go == NULL) {
    ember_interp_taps_free(&ty, &tx);
    return EMBER_ERROR;
  }
  interp_ctx k = { dt, es, ember_tensor_data(go), gin, &g, &ty, &tx };
  ember_parallel_for(planes, planes * (isz + osz), interp_planes, &k);
  ember_interp_taps_free(&ty, &tx);
  ember_tensor_release(go);
  return EMBER_OK;
}

/* }====== */
