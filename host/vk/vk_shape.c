/*
** vk_shape.c — the shape ops on Vulkan: cat, stack, flip, roll, repeat, tril, triu.
** (split, chunk and unbind only make views; their cpu functions serve every device.)
**
** As host/cpu/shape.c: cat and stack copy each input into its stretch of the output,
** converting the dtypes that differ (the device copy, one dispatch per input); flip is
** one copy from a view with negative strides; roll and repeat are one copy with a
** remapped index (shape_remap.comp), tril and triu one pass that keeps or zeroes
** (shape_tri.comp). Elements move as raw bits: every dtype runs.
*/
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/shape.h"

#define WG 256

/* {====== cat, stack, flip: device copies (the cpu kernels' walk, host/cpu/shape.c) */

ember_status vk_cat(ember_call *c) { return ember_shape_cat(c, ember_copy_); }
ember_status vk_stack(ember_call *c) { return ember_shape_stack(c, ember_copy_); }
ember_status vk_flip(ember_call *c) { return ember_shape_flip(c, ember_copy_); }

/* }====== */

/* {====== raw element moves: shape_remap.comp, shape_tri.comp */

/* One dispatch of shader over out's elements reading src, which moves raw elements:
** spec constant 3 the mode, 4 the element size. */
static ember_status launch_raw(ember_call *c, const char *shader, int mode, ember_tensor *out,
                               const ember_tensor *src, const void *push, size_t bytes) {
  int64_t n = ember_tensor_numel(out);
  const ember_tensor *ts[2] = { out, src };
  if (vk_ix_fit32(c, 2, ts) != EMBER_OK) return EMBER_ERROR;
  vk_launch_args l = { .nbind = 2, .bind = { out, src }, .write = { 1, 0 }, .push = push,
                       .push_bytes = bytes };
  l.spec[3] = (uint32_t)mode;
  l.spec[4] = (uint32_t)ember_dtype_size(out->dtype);
  vk_groups_1d(n, WG, l.groups);
  ember_dtype raw = vk_raw_dtype(out->dtype);
  return vk_ix_launch(&l, shader, 1, &raw);
}

/* }====== */

/* {====== roll, repeat: shape_remap.comp */

typedef struct remap_push {
  int32_t ndim;
  uint32_t numel;
  int32_t off_o, off_s;
  int32_t shape[8], ss[8], a[8];
} remap_push;

enum { RM_ROLL, RM_ROLLFLAT, RM_REPEAT };

/* out (contiguous) from src (of out's rank) with per-dim parameters a */
static ember_status remap(ember_call *c, int mode, const ember_tensor *src, const int64_t *a) {
  ember_tensor *out = c->out[0];
  int64_t n = ember_tensor_numel(out);
  if (n == 0) return EMBER_OK;
  remap_push p = { .ndim = out->ndim, .numel = (uint32_t)n, .off_o = (int32_t)out->offset,
                   .off_s = (int32_t)src->offset };
  for (int d = 0; d < out->ndim; d++) {
    p.shape[d] = (int32_t)out->shape[d];
    p.ss[d] = (int32_t)src->stride[d];
    p.a[d] = (int32_t)a[d];
  }
  if (out->ndim == 0) p.a[0] = (int32_t)a[0];
  return launch_raw(c, "shape_remap", mode, out, src, &p, sizeof p);
}

/* out's element at c comes from (c - shift) mod len: c + (len - shift) */
ember_status vk_roll(ember_call *c) {
  ember_tensor *t = c->in[0];
  int64_t s[EMBER_MAX_DIMS], a[EMBER_MAX_DIMS] = {0}, n = ember_tensor_numel(t);
  if (n == 0) return EMBER_OK;
  if (!ember_roll_shifts(c, s)) {        /* no dims: the flattened tensor rolls */
    a[0] = (n - s[0]) % n;
    return remap(c, RM_ROLLFLAT, t, a);
  }
  for (int d = 0; d < t->ndim; d++) a[d] = (t->shape[d] - s[d]) % t->shape[d];
  return remap(c, RM_ROLL, t, a);
}

/* out's element at c comes from c mod the source's shape */
ember_status vk_repeat(ember_call *c) {
  ember_tensor *src = ember_repeat_source(c->in[0], c->out[0]->ndim);
  ember_status st = src ? remap(c, RM_REPEAT, src, src->shape) : EMBER_ERROR;
  ember_tensor_release(src);
  return st;
}

/* }====== */

/* {====== tril, triu: shape_tri.comp */

typedef struct tri_push {
  int32_t ndim;
  uint32_t numel;
  int32_t off_o, off_s, diag, pad[3];
  int32_t shape[8], ss[8], os[8];
} tri_push;

static ember_status triangle(ember_call *c, int lower) {
  ember_tensor *t = c->in[0], *out = c->out[0];
  int64_t n = ember_tensor_numel(t), rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
  if (n == 0) return EMBER_OK;
  /* j - i lies in (-rows, cols): a diagonal beyond that is clamped, which keeps every
  ** comparison and fits 32 bits */
  int64_t diag = c->attr[0].i;
  diag = diag < -rows ? -rows : diag > cols ? cols : diag;
  tri_push p = { .ndim = t->ndim, .numel = (uint32_t)n, .off_o = (int32_t)out->offset,
                 .off_s = (int32_t)t->offset, .diag = (int32_t)diag };
  for (int d = 0; d < t->ndim; d++) {
    p.shape[d] = (int32_t)t->shape[d];
    p.ss[d] = (int32_t)t->stride[d];
    p.os[d] = (int32_t)out->stride[d];
  }
  return launch_raw(c, "shape_tri", lower, out, t, &p, sizeof p);
}

ember_status vk_tril(ember_call *c) { return triangle(c, 1); }
ember_status vk_triu(ember_call *c) { return triangle(c, 0); }

/* }====== */
