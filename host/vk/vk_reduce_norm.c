/*
** vk_reduce_norm.c — the row-wise nn ops on Vulkan: softmax and log_softmax
** (shaders/reduce_softmax.comp), layer_norm (shaders/norm_layer.comp) and batch_norm in
** its inference form (shaders/norm_batch.comp), as host/cpu/nn.c computes them.
**
** Inputs have been cast to the compute dtype (f32 or f64) by the dispatcher and the
** output is fresh and contiguous. A strided input is first made contiguous on the
** device (one copy), as the CPU kernels do with ember_contiguous; the parameters of
** the norms (weight, bias, running statistics) are read in place through their own
** offsets and strides where that is cheap. Short rows go one thread per row, long rows
** one workgroup per row with shared-memory trees for the sums.
*/
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"

#define SHORT_ROW 32              /* rows this short: a thread per row */
#define SIDE_BY_SIDE_ROWS 512     /* softmax lines at a stride, this many side by side */

/* eps (a double attribute) as the shaders read it: float bits, then double bits */
static void put_eps(uint32_t *w, double eps) {
  float f = (float)eps;
  memcpy(&w[0], &f, 4);
  memcpy(&w[1], &eps, 8);
}

/* The storage of every tensor must be indexable in 32 bits. */
static ember_status check_size(ember_call *c, const ember_tensor *t) {
  if (t == NULL || t->offset + ember_tensor_numel(t) <= VK_INDEX_LIMIT) return EMBER_OK;
  return ember_op_error(c, "%lld elements are beyond the Vulkan kernels' 32-bit indexing",
                        (long long)ember_tensor_numel(t));
}

/* {====== softmax, log_softmax */

typedef struct softmax_push {
  uint32_t nlines;
  int32_t len, inner, off_x;
} softmax_push;

static ember_status softmax_run(ember_call *c, int log_out) {
  ember_tensor *out = c->out[0];
  if (ember_tensor_numel(out) == 0) return EMBER_OK;
  ember_tensor *x = vk_dense(c->in[0], EMBER_DTYPE_NONE, 0, NULL);
  if (x == NULL) return EMBER_ERROR;
  ember_status st = check_size(c, x);
  int dim = x->ndim ? ember_norm_dim((int)c->attr[0].i, x->ndim) : 0;
  int64_t len = 1, inner = 1;
  for (int d = 0; d < x->ndim; d++) {
    if (d == dim) len = x->shape[d];
    else if (d > dim) inner *= x->shape[d];
  }
  softmax_push p = { (uint32_t)(ember_tensor_numel(x) / len), (int32_t)len, (int32_t)inner,
                     (int32_t)x->offset };
  char name[40];
  ember_dtype dts[1] = { x->dtype };
  if (st == EMBER_OK) st = vk_shader_variant(name, sizeof name, "reduce_softmax", 1, dts);
  if (st == EMBER_OK) {
    /* a thread per line for short lines, and for lines at a stride that lie side by
    ** side (neighbouring threads then read neighbouring elements) */
    int per_thread = len <= SHORT_ROW || (inner >= 64 && p.nlines >= SIDE_BY_SIDE_ROWS);
    uint32_t wg = per_thread ? 64 : vk_reduce_group(len);
    vk_launch_args a = { .shader = name, .nbind = 2, .push = &p, .push_bytes = sizeof p };
    a.bind[0] = x;
    a.bind[1] = out;
    a.write[1] = 1;
    a.spec[0] = wg; a.spec[1] = 1; a.spec[2] = 1;
    a.spec[3] = (uint32_t)vk_dtype_code(x->dtype);
    a.spec[4] = (uint32_t)log_out;
    a.spec[5] = per_thread ? 0 : 1;
    vk_groups_1d(per_thread ? (int64_t)p.nlines : (int64_t)p.nlines * wg, wg, a.groups);
    st = vk_launch(&a);
  }
  ember_tensor_release(x);
  return st;
}

ember_status vk_softmax(ember_call *c) { return softmax_run(c, 0); }
ember_status vk_log_softmax(ember_call *c) { return softmax_run(c, 1); }

/* }====== */

/* {====== layer_norm */

typedef struct layer_push {
  uint32_t rows;
  int32_t n, off_x, off_w, off_b;
  uint32_t eps[3];
} layer_push;

ember_status vk_layer_norm(ember_call *c) {
  ember_tensor *out = c->out[0];
  int64_t n = ember_shape_numel(c->attr[0].n, c->attr[0].v);
  int64_t rows = n ? ember_tensor_numel(out) / n : 0;
  if (rows == 0) return EMBER_OK;
  ember_tensor *w = c->nin > 1 ? c->in[1] : NULL, *b = c->nin > 2 ? c->in[2] : NULL;
  ember_tensor *x = vk_dense(c->in[0], EMBER_DTYPE_NONE, 0, NULL);
  ember_tensor *wd = w ? vk_dense(w, EMBER_DTYPE_NONE, 0, NULL) : NULL;
  ember_tensor *bd = b ? vk_dense(b, EMBER_DTYPE_NONE, 0, NULL) : NULL;
  ember_status st = x && (!w || wd) && (!b || bd) ? EMBER_OK : EMBER_ERROR;
  if (st == EMBER_OK) st = check_size(c, x);
  if (st == EMBER_OK) st = check_size(c, wd);
  if (st == EMBER_OK) st = check_size(c, bd);
  char name[40];
  ember_dtype dts[1] = { out->dtype };
  if (st == EMBER_OK) st = vk_shader_variant(name, sizeof name, "norm_layer", 1, dts);
  if (st == EMBER_OK) {
    layer_push p = { (uint32_t)rows, (int32_t)n, (int32_t)x->offset,
                     wd ? (int32_t)wd->offset : 0, bd ? (int32_t)bd->offset : 0, { 0, 0, 0 } };
    put_eps(p.eps, c->attr[1].f);
    int per_thread = n <= SHORT_ROW;
    uint32_t wg = per_thread ? 64 : vk_reduce_group(n);
    vk_launch_args a = { .shader = name, .nbind = 4, .push = &p, .push_bytes = sizeof p };
    a.bind[0] = x;
    a.bind[1] = out;
    a.bind[2] = wd;
    a.bind[3] = bd;
    a.write[1] = 1;
    a.spec[0] = wg; a.spec[1] = 1; a.spec[2] = 1;
    a.spec[3] = (uint32_t)vk_dtype_code(out->dtype);
    a.spec[4] = per_thread ? 0 : 1;
    a.spec[5] = wd != NULL;
    a.spec[6] = bd != NULL;
    vk_groups_1d(per_thread ? rows : rows * wg, wg, a.groups);
    st = vk_launch(&a);
  }
  ember_tensor_release(x);
  ember_tensor_release(wd);
  ember_tensor_release(bd);
  return st;
}

/* }====== */

/* {====== batch_norm (inference) */

typedef struct batch_push {
  uint32_t numel;
  int32_t channels, inner, off_x;
  int32_t off[4], st[4];
  uint32_t eps[3];
} batch_push;

ember_status vk_batch_norm(ember_call *c) {
  ember_tensor *out = c->out[0];
  int64_t numel = ember_tensor_numel(out);
  if (numel == 0) return EMBER_OK;
  ember_tensor *x = vk_dense(c->in[0], EMBER_DTYPE_NONE, 0, NULL);
  if (x == NULL) return EMBER_ERROR;
  ember_tensor *par[4] = { c->in[1], c->in[2], c->nin > 3 ? c->in[3] : NULL,
                           c->nin > 4 ? c->in[4] : NULL };
  batch_push p;
  memset(&p, 0, sizeof p);
  int64_t ch = x->shape[1], inner = 1;
  for (int d = 2; d < x->ndim; d++) inner *= x->shape[d];
  ember_status st = check_size(c, x);
  for (int k = 0; k < 4 && st == EMBER_OK; k++) {
    if (par[k] == NULL) continue;
    int64_t last = par[k]->offset + (ch - 1) * par[k]->stride[0];
    if (par[k]->stride[0] < 0 || last > VK_INDEX_LIMIT)
      st = ember_op_error(c, "a channel vector's layout is beyond the Vulkan kernel's 32-bit indexing");
    p.off[k] = (int32_t)par[k]->offset;
    p.st[k] = (int32_t)par[k]->stride[0];
  }
  char name[40];
  ember_dtype dts[1] = { out->dtype };
  if (st == EMBER_OK) st = vk_shader_variant(name, sizeof name, "norm_batch", 1, dts);
  if (st == EMBER_OK) {
    p.numel = (uint32_t)numel;
    p.channels = (int32_t)ch;
    p.inner = (int32_t)inner;
    p.off_x = (int32_t)x->offset;
    put_eps(p.eps, c->attr[0].f);
    vk_launch_args a = { .shader = name, .nbind = 6, .push = &p, .push_bytes = sizeof p };
    a.bind[0] = x;
    a.bind[1] = out;
    for (int k = 0; k < 4; k++) a.bind[2 + k] = par[k];
    a.write[1] = 1;
    a.spec[0] = 256; a.spec[1] = 1; a.spec[2] = 1;
    a.spec[3] = (uint32_t)vk_dtype_code(out->dtype);
    a.spec[4] = par[2] != NULL;
    a.spec[5] = par[3] != NULL;
    vk_groups_1d(numel, 256, a.groups);
    st = vk_launch(&a);
  }
  ember_tensor_release(x);
  return st;
}

/* }====== */
