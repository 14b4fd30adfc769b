/*
** vk_norm_train.c — batch_norm_train and its backward kernel on Vulkan
** (shaders/norm_batch_train.comp, shaders/norm_batch_train_bwd.comp), as
** host/cpu/norm_batch.c computes them.
**
** Inputs have been cast to the compute dtype (f32 or f64) by the dispatcher and the
** outputs are fresh and contiguous. x (and g) are made contiguous on the device first
** (one copy when strided); the channel vectors (weight, bias, mean, var) are read in
** place through their offsets and strides. One workgroup per channel: it sums the
** channel's N x inner values with a stride of the group, reduces in shared memory, and
** then writes the channel's elementwise outputs itself, so each op is one dispatch.
*/
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"

/* eps (a double attribute) as the shaders read it: float bits, then double bits */
static void put_eps(uint32_t *w, double eps) {
  float f = (float)eps;
  memcpy(&w[0], &f, 4);
  memcpy(&w[1], &eps, 8);
}

/* x's geometry (N, C, inner), once its storage is known to be indexable in 32 bits */
static ember_status geometry(ember_call *c, const ember_tensor *x, uint32_t dims[3]) {
  if (x->offset + ember_tensor_numel(x) > VK_INDEX_LIMIT)
    return ember_op_error(c, "%lld elements are beyond the Vulkan kernels' 32-bit indexing",
                          (long long)ember_tensor_numel(x));
  int64_t inner = 1;
  for (int d = 2; d < x->ndim; d++) inner *= x->shape[d];
  dims[0] = (uint32_t)x->shape[0];
  dims[1] = (uint32_t)x->shape[1];
  dims[2] = (uint32_t)inner;
  return EMBER_OK;
}

/* A channel vector's offset and stride as the shaders take them (t may be NULL). */
static ember_status channel_layout(ember_call *c, const ember_tensor *t, int32_t *off,
                                   int32_t *st) {
  *off = *st = 0;
  if (t == NULL) return EMBER_OK;
  int64_t last = t->offset + (t->shape[0] - 1) * t->stride[0];
  if (t->stride[0] < 0 || last > VK_INDEX_LIMIT)
    return ember_op_error(c, "a channel vector's layout is beyond the Vulkan kernel's 32-bit indexing");
  *off = (int32_t)t->offset;
  *st = (int32_t)t->stride[0];
  return EMBER_OK;
}

/* A launch of one workgroup per channel, over count values each. */
static void per_channel(vk_launch_args *a, uint32_t ch, int64_t count, ember_dtype dt) {
  uint32_t wg = vk_reduce_group(count);
  a->spec[0] = wg; a->spec[1] = 1; a->spec[2] = 1;
  a->spec[3] = (uint32_t)vk_dtype_code(dt);
  vk_groups_1d((int64_t)ch * wg, wg, a->groups);
}

/* {====== batch_norm_train */

typedef struct train_push {
  uint32_t channels, n, inner, off_x;
  int32_t off_w, st_w, off_b, st_b;
  uint32_t eps[3];
} train_push;

ember_status vk_batch_norm_train(ember_call *c) {
  ember_tensor *y = c->out[0];
  if (ember_tensor_numel(y) == 0) return EMBER_OK;
  ember_tensor *w = c->nin > 1 ? c->in[1] : NULL, *b = c->nin > 2 ? c->in[2] : NULL;
  ember_tensor *x = vk_dense(c->in[0], EMBER_DTYPE_NONE, 0, NULL);
  if (x == NULL) return EMBER_ERROR;
  train_push p;
  memset(&p, 0, sizeof p);
  uint32_t dims[3];
  ember_status st = geometry(c, x, dims);
  if (st == EMBER_OK) st = channel_layout(c, w, &p.off_w, &p.st_w);
  if (st == EMBER_OK) st = channel_layout(c, b, &p.off_b, &p.st_b);
  char name[40];
  ember_dtype dts[1] = { y->dtype };
  if (st == EMBER_OK) st = vk_shader_variant(name, sizeof name, "norm_batch_train", 1, dts);
  if (st == EMBER_OK) {
    p.n = dims[0];
    p.channels = dims[1];
    p.inner = dims[2];
    p.off_x = (uint32_t)x->offset;
    put_eps(p.eps, c->attr[0].f);
    vk_launch_args a = { .shader = name, .nbind = 6, .push = &p, .push_bytes = sizeof p };
    a.bind[0] = x;
    a.bind[1] = y;
    a.bind[2] = c->out[1];
    a.bind[3] = c->out[2];
    a.bind[4] = w;
    a.bind[5] = b;
    a.write[1] = a.write[2] = a.write[3] = 1;
    per_channel(&a, p.channels, (int64_t)p.n * p.inner, y->dtype);
    a.spec[4] = w != NULL;
    a.spec[5] = b != NULL;
    st = vk_launch(&a);
  }
  ember_tensor_release(x);
  return st;
}

/* }====== */

/* {====== batch_norm_train_backward */

typedef struct back_push {
  uint32_t channels, n, inner, off_g, off_x;
  int32_t off[3], st[3];      /* mean, var, weight */
  uint32_t eps[3];
} back_push;

ember_status vk_batch_norm_train_backward(ember_call *c) {
  ember_tensor *dx = c->out[0];
  if (ember_tensor_numel(dx) == 0) return EMBER_OK;
  ember_tensor *par[3] = { c->in[2], c->in[3], c->nin > 4 ? c->in[4] : NULL };
  ember_tensor *g = vk_dense(c->in[0], EMBER_DTYPE_NONE, 0, NULL);
  ember_tensor *x = g ? vk_dense(c->in[1], EMBER_DTYPE_NONE, 0, NULL) : NULL;
  back_push p;
  memset(&p, 0, sizeof p);
  uint32_t dims[3];
  ember_status st = g && x ? geometry(c, x, dims) : EMBER_ERROR;
  if (st == EMBER_OK) st = geometry(c, g, dims);
  for (int k = 0; k < 3 && st == EMBER_OK; k++)
    st = channel_layout(c, par[k], &p.off[k], &p.st[k]);
  char name[40];
  ember_dtype dts[1] = { dx->dtype };
  if (st == EMBER_OK) st = vk_shader_variant(name, sizeof name, "norm_batch_train_bwd", 1, dts);
  if (st == EMBER_OK) {
    p.n = dims[0];
    p.channels = dims[1];
    p.inner = dims[2];
    p.off_g = (uint32_t)g->offset;
    p.off_x = (uint32_t)x->offset;
    put_eps(p.eps, c->attr[0].f);
    vk_launch_args a = { .shader = name, .nbind = 8, .push = &p, .push_bytes = sizeof p };
    a.bind[0] = g;
    a.bind[1] = x;
    for (int k = 0; k < 3; k++) a.bind[2 + k] = par[k];
    a.bind[5] = dx;
    a.bind[6] = c->out[1];
    a.bind[7] = c->out[2];
    a.write[5] = a.write[6] = a.write[7] = 1;
    per_channel(&a, p.channels, (int64_t)p.n * p.inner, dx->dtype);
    a.spec[4] = par[2] != NULL;
    st = vk_launch(&a);
  }
  ember_tensor_release(g);
  ember_tensor_release(x);
  return st;
}

/* }====== */
