/*
** vk_resize.c — pad, interpolate and their gradients on Vulkan.
**
** pad is one dispatch of resize_pad.comp over the output: every padded dim maps its
** index to a source index as host/cpu/resize.c's pad_source does. It moves raw
** elements, so it takes every dtype (16-bit ones need the x16 variant). The shader
** takes 6 dims: dims that are not padded merge when the input's strides allow, and
** a call with more left is made of several pads, each over a few dims (pad's maps
** are independent per dim). Its gradient runs one pass of resize_pad_bwd.comp per
** padded dim, each gathering into every input element the outputs that copied it.
**
** interpolate's taps are computed on the host by the CPU kernels' own code
** (ember_interp_taps: PyTorch's formulas, f32 arithmetic for f32 data) and uploaded,
** so the device reads the very sources and weights the CPU does. Its gradient inverts
** the taps per axis on the host (for each input row, the output rows that read it
** and their weights) so that resize_interp_bwd.comp can gather: one invocation per
** input element, no atomics, the same result on every run.
*/
#include <stdlib.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/resize.h"

/* {====== pad */

#define PAD_DIMS 6            /* the dims resize_pad.comp takes */

/* push constants of resize_pad.comp */
typedef struct pad_push {
  int32_t ndim;
  uint32_t total;
  int32_t xoff, ooff;
  uint32_t fill[2];
  int32_t oshape[PAD_DIMS], isize[PAD_DIMS], before[PAD_DIMS], xs[PAD_DIMS];
} pad_push;

_Static_assert(sizeof(pad_push) <= VK_PUSH_BYTES, "pad_push is past the push constants");

/* One pad of x into out over nd dims: out's size, x's, padding in front, x's strides. */
typedef struct pad_dims {
  int nd;
  int64_t oshape[EMBER_MAX_DIMS], isize[EMBER_MAX_DIMS], before[EMBER_MAX_DIMS];
  int64_t xs[EMBER_MAX_DIMS];
} pad_dims;

static int padded(const pad_dims *d, int k) {
  return d->before[k] != 0 || d->oshape[k] != d->isize[k];
}

/* d with unpadded size-1 dims dropped and unpadded neighbours merged where x's
** strides allow (the output is contiguous, so its side always does). */
static void pad_merge(const pad_dims *d, pad_dims *m) {
  m->nd = 0;
  for (int k = 0; k < d->nd; k++) {
    int pk = padded(d, k);
    if (!pk && d->isize[k] == 1) continue;
    int j = m->nd - 1;
    if (!pk && j >= 0 && !padded(m, j) && m->xs[j] == d->xs[k] * d->isize[k]) {
      m->oshape[j] *= d->oshape[k];
      m->isize[j] *= d->isize[k];
      m->xs[j] = d->xs[k];
      continue;
    }
    m->oshape[m->nd] = d->oshape[k];
    m->isize[m->nd] = d->isize[k];
    m->before[m->nd] = d->before[k];
    m->xs[m->nd] = d->xs[k];
    m->nd++;
  }
}

/* The dims of a pad of x into out: before[k] in front of dim k (0: not padded). */
static void pad_dims_of(pad_dims *d, const ember_tensor *x, const ember_tensor *out,
                        const int64_t *before) {
  d->nd = x->ndim;
  for (int k = 0; k < x->ndim; k++) {
    d->oshape[k] = out->shape[k];
    d->isize[k] = x->shape[k];
    d->before[k] = before[k];
    d->xs[k] = x->stride[k];
  }
}

/* out = x padded by before[k] in front of each dim k (and whatever makes out's size
** behind): one dispatch when the merged dims fit the shader; else x made contiguous
** (which merges all the unpadded runs), and if that is not enough, two pads, the
** first over the first half of the padded dims, into a temporary. */
static ember_status pad_into(ember_call *c, ember_tensor *out, ember_tensor *x,
                             const int64_t *before, int mode, const uint32_t *fill) {
  int64_t total = ember_tensor_numel(out);
  if (total == 0) return EMBER_OK;
  pad_dims d, m;
  pad_dims_of(&d, x, out, before);
  pad_merge(&d, &m);
  if (!vk_conv_index_fits(x) || total > INT32_MAX) return vk_conv_too_large(c);
  if (m.nd <= PAD_DIMS) {
    pad_push p;
    memset(&p, 0, sizeof p);
    p.ndim = m.nd;
    p.total = (uint32_t)total;
    p.xoff = (int32_t)x->offset;
    p.ooff = (int32_t)out->offset;
    memcpy(p.fill, fill, sizeof p.fill);
    for (int k = 0; k < m.nd; k++) {
      p.oshape[k] = (int32_t)m.oshape[k];
      p.isize[k] = (int32_t)m.isize[k];
      p.before[k] = (int32_t)m.before[k];
      p.xs[k] = (int32_t)m.xs[k];
    }
    const ember_tensor *bind[2] = { out, x };
    uint32_t es = (uint32_t)ember_dtype_size(x->dtype);
    return vk_conv_launch("resize_pad", vk_raw_dtype(x->dtype), es, (uint32_t)mode, 2, bind, &p,
                          sizeof p, total, 256);
  }
  ember_status st = EMBER_ERROR;
  if (!ember_tensor_is_contiguous(x)) {
    ember_tensor *xc = vk_dense(x, EMBER_DTYPE_NONE, 0, NULL);
    if (xc) st = pad_into(c, out, xc, before, mode, fill);
    ember_tensor_release(xc);
    return st;
  }
  /* x contiguous: its k padded dims leave at most 2k + 1 after merging */
  int np = 0, half = 0;
  for (int k = 0; k < d.nd; k++) np += padded(&d, k);
  int64_t first[EMBER_MAX_DIMS], second[EMBER_MAX_DIMS], mid[EMBER_MAX_DIMS];
  for (int k = 0; k < d.nd; k++) {
    int in_first = padded(&d, k) && half < np / 2;
    half += in_first;
    first[k] = in_first ? before[k] : 0;
    second[k] = in_first ? 0 : before[k];
    mid[k] = in_first ? d.oshape[k] : d.isize[k];
  }
  ember_tensor *tmp = ember_tensor_empty_on(EMBER_VULKAN, x->dtype, d.nd, mid);
  if (tmp && pad_into(c, tmp, x, first, mode, fill) == EMBER_OK)
    st = pad_into(c, out, tmp, second, mode, fill);
  ember_tensor_release(tmp);
  return st;
}

ember_status vk_pad(ember_call *c) {
  ember_pad_geom g;
  if (ember_pad_geom_of(c, &g) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *x = c->in[0], *out = c->out[0];
  if (vk_conv_check_out(c, out) != EMBER_OK) return EMBER_ERROR;
  int64_t before[EMBER_MAX_DIMS];
  int first = x->ndim - g.npad;
  for (int k = 0; k < x->ndim; k++) before[k] = k >= first ? g.before[k - first] : 0;
  for (int k = 0; k < x->ndim; k++)
    if (!vk_fits_i32(before[k]) || !vk_fits_i32(out->shape[k]))
      return vk_conv_too_large(c);
  unsigned char bits[16] = {0};
  ember_store_f64(x->dtype, bits, g.value);
  uint32_t fill[2];
  memcpy(fill, bits, sizeof fill);
  return pad_into(c, out, x, before, (int)g.mode, fill);
}

/* push constants of resize_pad_bwd.comp */
typedef struct pad_bwd_push {
  uint32_t total;
  int32_t no, ni, inner, before;
  int32_t goff, ooff;
} pad_bwd_push;

_Static_assert(sizeof(pad_bwd_push) <= VK_PUSH_BYTES, "pad_bwd_push is past the push constants");

/* One pass: next (outer x ni x inner) = cur (outer x no x inner) gathered along dim k. */
static ember_status pad_bwd_pass(ember_call *c, ember_tensor *next, const ember_tensor *cur,
                                 int k, int64_t before, int mode) {
  int64_t total = ember_tensor_numel(next), inner = 1;
  if (total == 0) return EMBER_OK;
  for (int j = k + 1; j < cur->ndim; j++) inner *= cur->shape[j];
  if (total > INT32_MAX || ember_tensor_numel(cur) > INT32_MAX || !vk_conv_index_fits(cur) ||
      !vk_fits_i32(inner) || !vk_fits_i32(before))
    return vk_conv_too_large(c);
  pad_bwd_push p = { (uint32_t)total, (int32_t)cur->shape[k], (int32_t)next->shape[k],
                     (int32_t)inner, (int32_t)before, (int32_t)cur->offset, (int32_t)next->offset };
  const ember_tensor *bind[2] = { next, cur };
  return vk_conv_launch("resize_pad_bwd", c->compute, (uint32_t)mode, 0, 2, bind, &p, sizeof p,
                        total, 256);
}

ember_status vk_pad_backward(ember_call *c) {
  ember_pad_geom g;
  int64_t shape[EMBER_MAX_DIMS];
  if (ember_pad_grad_geom_of(c, &g, shape) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *out = c->out[0];
  if (vk_conv_check_out(c, out) != EMBER_OK) return EMBER_ERROR;
  if (ember_tensor_numel(out) == 0) return EMBER_OK;
  int nd = out->ndim, first = nd - g.npad, last = -1;
  for (int j = 0; j < g.npad; j++)
    if (g.before[j] != 0 || g.after[j] != 0) last = first + j;
  if (last < 0) return ember_copy_(out, c->in[0]);      /* nothing padded: the identity */
  /* dim by dim, the gradient's shape becoming the input's: contiguous in between */
  ember_tensor *cur = vk_dense(c->in[0], EMBER_DTYPE_NONE, 0, NULL);
  ember_status st = cur ? EMBER_OK : EMBER_ERROR;
  int64_t now[EMBER_MAX_DIMS];
  for (int k = 0; k < nd && cur; k++) now[k] = cur->shape[k];
  for (int k = first; k <= last && st == EMBER_OK; k++) {
    if (g.before[k - first] == 0 && g.after[k - first] == 0) continue;
    now[k] = shape[k];
    ember_tensor *next = k == last ? out : ember_tensor_empty_on(EMBER_VULKAN, c->compute, nd, now);
    if (next == NULL) {
      st = EMBER_ERROR;
      break;
    }
    if (k == last) ember_tensor_retain(out);
    st = pad_bwd_pass(c, next, cur, k, g.before[k - first], (int)g.mode);
    ember_tensor_release(cur);
    cur = next;
  }
  ember_tensor_release(cur);
  return st;
}

/* }====== */

/* {====== interpolate */

/* push constants of resize_interp.comp and resize_interp_bwd.comp */
typedef struct interp_push {
  int32_t c, h, w, oh, ow;
  int32_t xs[4];              /* strides of the tensor read: the input or grad_output */
  int32_t xoff;
  uint32_t total;
  int32_t ooff, ny;
} interp_push;

_Static_assert(sizeof(interp_push) <= VK_PUSH_BYTES, "interp_push is past the push constants");

/* The push constants of g reading x; 0 when something does not fit 32 bits. */
static int interp_params(interp_push *p, const ember_interp_geom *g, const ember_tensor *x,
                         const ember_tensor *out) {
  memset(p, 0, sizeof *p);
  if (!vk_fits_i32(g->n * g->c * g->h * g->w) || !vk_fits_i32(g->n * g->c * g->oh * g->ow) ||
      !vk_conv_image(x, p->xs, &p->xoff))
    return 0;
  p->c = (int32_t)g->c;
  p->h = (int32_t)g->h;
  p->w = (int32_t)g->w;
  p->oh = (int32_t)g->oh;
  p->ow = (int32_t)g->ow;
  p->total = (uint32_t)ember_tensor_numel(out);
  p->ooff = (int32_t)out->offset;
  return 1;
}

/* The taps' weights as the shaders read them: in dtype dt, n of them from w. */
static ember_tensor *upload_weights(ember_dtype dt, int64_t n, const double *w) {
  if (dt == EMBER_F64) return vk_conv_upload(dt, n, w);
  float *f = malloc((size_t)n * sizeof *f + 1);
  if (f == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) f[i] = (float)w[i];
  ember_tensor *t = vk_conv_upload(dt, n, f);
  free(f);
  return t;
}

/* Runs shader over out reading x, with the int32 table idx (ni entries) and the
** weights wt (nw entries). */
static ember_status interp_launch(ember_call *c, const char *shader, int bilinear,
                                  interp_push *p, ember_tensor *out, ember_tensor *x,
                                  const int32_t *idx, int64_t ni, const double *wt, int64_t nw) {
  ember_tensor *ti = vk_conv_upload(EMBER_I32, ni, idx);
  ember_tensor *tw = ti ? upload_weights(c->compute, nw, wt) : NULL;
  ember_status st = EMBER_ERROR;
  if (tw) {
    const ember_tensor *bind[4] = { out, x, ti, tw };
    st = vk_conv_launch(shader, c->compute, (uint32_t)bilinear, 0, 4, bind, p, sizeof *p,
                        p->total, 256);
  }
  ember_tensor_release(ti);
  ember_tensor_release(tw);
  return st;
}

/* One axis's taps for resize_interp.comp: i0 of the n outputs, then i1; the weights
** in the same order. */
static void put_taps(const ember_taps *t, int64_t n, int32_t *idx, double *wt) {
  for (int64_t o = 0; o < n; o++) {
    idx[o] = (int32_t)t->i0[o];
    idx[n + o] = (int32_t)t->i1[o];
    wt[o] = t->l0[o];
    wt[n + o] = t->l1[o];
  }
}

/* The taps of one axis (nout outputs over nin inputs) inverted: at idx, nin + 1
** offsets and then the list of the outputs reading each input, in output order; at
** wt the list's weights. Nearest reads i0 alone, with weight 1; bilinear both taps,
** zero weights too (as the CPU kernel adds them: 0 * inf is a NaN there as well).
** Returns the list's length. */
static int64_t invert_taps(const ember_taps *t, int64_t nin, int64_t nout, int bilinear,
                           int32_t *idx, double *wt) {
  int32_t *ptr = idx, *ent = idx + nin + 1;
  memset(ptr, 0, (size_t)(nin + 1) * sizeof *ptr);
  for (int64_t o = 0; o < nout; o++) {
    ptr[t->i0[o] + 1]++;
    if (bilinear) ptr[t->i1[o] + 1]++;
  }
  for (int64_t i = 0; i < nin; i++) ptr[i + 1] += ptr[i];
  int64_t total = ptr[nin];
  int32_t *fill = malloc((size_t)nin * sizeof *fill + 1);
  if (fill == NULL) return -1;
  memcpy(fill, ptr, (size_t)nin * sizeof *fill);
  for (int64_t o = 0; o < nout; o++) {
    int32_t k = fill[t->i0[o]]++;
    ent[k] = (int32_t)o;
    wt[k] = bilinear ? t->l0[o] : 1.0;
    if (bilinear) {
      k = fill[t->i1[o]]++;
      ent[k] = (int32_t)o;
      wt[k] = t->l1[o];
    }
  }
  free(fill);
  return total;
}

/* interpolate, or its gradient (backward): the taps computed on the host, laid out as
** the shader reads them (the rows' then the columns'), uploaded, one dispatch. */
static ember_status interp_run(ember_call *c, int backward) {
  ember_interp_geom g;
  if ((backward ? ember_interp_grad_geom_of(c, &g) : ember_interp_geom_of(c, &g)) != EMBER_OK)
    return EMBER_ERROR;
  ember_tensor *out = c->out[0];
  if (vk_conv_check_out(c, out) != EMBER_OK) return EMBER_ERROR;
  interp_push p;
  if (!interp_params(&p, &g, c->in[0], out)) return vk_conv_too_large(c);
  if (p.total == 0) return EMBER_OK;
  /* the gradient's table holds each axis's inverted taps: nin + 1 offsets, then the list */
  int64_t nw = 2 * (g.oh + g.ow), nidx = backward ? g.h + 1 + g.w + 1 + nw : nw;
  if (backward && nidx > INT32_MAX) return vk_conv_too_large(c);
  ember_taps ty, tx;
  if (ember_interp_taps(c, c->compute, &g, &ty, &tx) != EMBER_OK) return EMBER_ERROR;
  int bilinear = g.mode == EMBER_INTERP_BILINEAR;
  int32_t *idx = malloc((size_t)nidx * sizeof *idx);
  double *wt = malloc((size_t)nw * sizeof *wt);
  int64_t ny = -1, nx = -1;           /* the rows' and the columns' weights */
  if (idx && wt && !backward) {
    put_taps(&ty, g.oh, idx, wt);
    put_taps(&tx, g.ow, idx + 2 * g.oh, wt + 2 * g.oh);
    ny = 2 * g.oh;
    nx = 2 * g.ow;
  } else if (idx && wt) {
    ny = invert_taps(&ty, g.h, g.oh, bilinear, idx, wt);
    if (ny >= 0) nx = invert_taps(&tx, g.w, g.ow, bilinear, idx + g.h + 1 + ny, wt + ny);
    p.ny = (int32_t)ny;
  }
  ember_status st = EMBER_ERROR;
  if (nx < 0) {
    ember_op_error(c, "out of memory");
  } else {
    int64_t ni = backward ? g.h + 1 + ny + g.w + 1 + nx : ny + nx;
    st = interp_launch(c, backward ? "resize_interp_bwd" : "resize_interp", bilinear, &p, out,
                       c->in[0], idx, ni, wt, ny + nx);
  }
  free(idx);
  free(wt);
  ember_interp_taps_free(&ty, &tx);
  return st;
}

ember_status vk_interpolate(ember_call *c) { return interp_run(c, 0); }
ember_status vk_interpolate_backward(ember_call *c) { return interp_run(c, 1); }

/* }====== */
