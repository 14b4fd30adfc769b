/*
** vk_index.c — the index ops on Vulkan: index_select, gather, scatter, scatter_add,
** masked_fill, masked_select, nonzero, and the nn family's embedding and one_hot; and
** the helpers vk_sort.c and vk_shape.c share.
**
** The semantics are host/cpu/index.c's and host/cpu/nn.c's: index values count from
** c->index_base, any integer dtype and any strides; a value out of range is an error
** that names it as the caller wrote it (the first one in the index's row-major order).
** Only the device sees the values: the kernels that read them check them, move nothing
** for a bad one, and report its position through an error slot (vk.h), so a call
** records without waiting for the device; the error surfaces at the next wait (a
** read-back, ember.vk.sync), with the cpu's message, as a CUDA device-side assert does.
** So an in-place scatter_ / scatter_add_ with a bad index may have written the good
** ones by then (the cpu checks every value first and writes nothing).
** masked_select and nonzero, and one_hot without num_classes, read back the size of
** their result to allocate it (index_check.comp finds one_hot's largest value), as
** PyTorch does on CUDA. Elements move as raw bits, so every dtype runs;
** only scatter_add computes (f32, f64, i64), and in the cpu's order: its sums are
** deterministic and bit for bit the cpu's (index_scatter.comp).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/shape.h"
#include "../../shaders/pointwise_ops.h"

#define WG 256            /* workgroup of every shader here */
#define CHECK_GROUPS 64   /* most workgroups index_check.comp runs: partials read back */
#define BLOCK (4 * WG)    /* elements per workgroup of index_count.comp */

/* {====== helpers */

ember_status vk_ix_fit32(const ember_call *c, int n, const ember_tensor *const *ts) {
  for (int k = 0; k < n; k++) {
    const ember_tensor *t = ts[k];
    if (t == NULL) continue;
    int ok = t->storage->nbytes / ember_dtype_size(t->dtype) <= INT32_MAX;
    for (int d = 0; d < t->ndim && ok; d++) ok = vk_fits_i32(t->stride[d]);
    if (!ok)
      return ember_op_error(c, "vulkan addresses tensors with 32-bit element offsets; a "
                            "tensor of %zu bytes is beyond that", t->storage->nbytes);
  }
  return EMBER_OK;
}

ember_status vk_ix_launch(vk_launch_args *a, const char *base, int ndt, const ember_dtype *dts) {
  char name[48];
  if (vk_shader_variant(name, sizeof name, base, ndt, dts) != EMBER_OK) return EMBER_ERROR;
  a->shader = name;
  if (a->spec[0] == 0) {
    a->spec[0] = WG;
    a->spec[1] = a->spec[2] = 1;
  }
  return vk_launch(a);
}


/* Merge adjacent dims that every stride array walks as one, drop dims of 1: the
** row-major order of the elements stays the same. Returns the dims left. */
static int merge_dims(int ndim, int64_t *shape, int nops, int64_t (*st)[EMBER_MAX_DIMS]) {
  int nd = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    int merge = nd > 0;
    for (int k = 0; k < nops && merge; k++) merge = st[k][nd - 1] == st[k][d] * shape[d];
    if (merge) {
      shape[nd - 1] *= shape[d];
      for (int k = 0; k < nops; k++) st[k][nd - 1] = st[k][d];
    } else {
      shape[nd] = shape[d];
      for (int k = 0; k < nops; k++) st[k][nd] = st[k][d];
      nd++;
    }
  }
  return nd;
}

static void put_dims(int32_t *dst, int n, const int64_t *src) {
  for (int d = 0; d < n; d++) dst[d] = (int32_t)src[d];
}

/* n bytes of t from element `at` on: submits the batch and waits for it. */
static ember_status read_back(const ember_tensor *t, int64_t at, void *dst, size_t n) {
  size_t es = ember_dtype_size(t->dtype);
  return vk_download(vk_storage_alloc(t->storage), (VkDeviceSize)(t->offset + at) * es, dst, n);
}

static ember_tensor *device_empty(ember_dtype dt, int64_t n) {
  return ember_tensor_empty_on(EMBER_VULKAN, dt, 1, &n);
}

/* }====== */

/* {====== the range check of index values with a read-back: one_hot without num_classes
** (it needs the largest value to size its result; the other kernels check the values
** they use and report through an error slot, below) */

typedef struct check_push {
  int32_t ndim;
  uint32_t numel;
  int32_t off, base;
  uint32_t size_lo, size_hi;
  int32_t flags, pad;
  int32_t shape[8], st[8];
} check_push;

typedef struct ix_check {
  ember_tensor *res;        /* 4 int64 per workgroup (index_check.comp) */
  int groups;
} ix_check;

typedef struct ix_stats {
  int bad;
  int64_t value;            /* the first bad value in row-major order */
  int64_t min, max;
} ix_stats;

/* Launch the check of ix's values against [base, base + size) (size < 0: no upper
** bound); check_finish reads the result back (a wait for the device). */
static ember_status check_launch(const ember_call *c, const ember_tensor *ix, int64_t base,
                                 int64_t size, ix_check *k) {
  k->res = NULL;
  k->groups = 0;
  int64_t n = ember_tensor_numel(ix);
  if (n == 0) return EMBER_OK;
  const ember_tensor *ts[1] = { ix };
  if (vk_ix_fit32(c, 1, ts) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[EMBER_MAX_DIMS], st[1][EMBER_MAX_DIMS];
  for (int d = 0; d < ix->ndim; d++) {
    shape[d] = ix->shape[d];
    st[0][d] = ix->stride[d];
  }
  int nd = merge_dims(ix->ndim, shape, 1, st);
  int64_t g = (n + WG - 1) / WG, rn;
  if (g > CHECK_GROUPS) g = CHECK_GROUPS;
  rn = 4 * g;
  if ((k->res = device_empty(EMBER_I64, rn)) == NULL) return EMBER_ERROR;
  k->groups = (int)g;
  check_push p = { .ndim = nd, .numel = (uint32_t)n, .off = (int32_t)ix->offset,
                   .base = (int32_t)base, .size_lo = (uint32_t)((uint64_t)size & 0xffffffffu),
                   .size_hi = (uint32_t)((uint64_t)size >> 32), .flags = size < 0 };
  put_dims(p.shape, nd, shape);
  put_dims(p.st, nd, st[0]);
  vk_launch_args a = { .nbind = 2, .bind = { ix, k->res }, .write = { 0, 1 }, .push = &p,
                       .push_bytes = sizeof p, .groups = { (uint32_t)g, 1, 1 } };
  a.spec[3] = (uint32_t)vk_dtype_code(ix->dtype);
  if (vk_ix_launch(&a, "index_check", 1, &ix->dtype) == EMBER_OK) return EMBER_OK;
  ember_tensor_release(k->res);
  k->res = NULL;
  return EMBER_ERROR;
}

static ember_status check_finish(ix_check *k, ix_stats *s) {
  s->bad = 0;
  s->value = 0;
  s->min = INT64_MAX;
  s->max = INT64_MIN;
  if (k->res == NULL) return EMBER_OK;
  int64_t r[4 * CHECK_GROUPS];
  ember_status st = read_back(k->res, 0, r, (size_t)k->groups * 4 * sizeof r[0]);
  ember_tensor_release(k->res);
  k->res = NULL;
  if (st != EMBER_OK) return st;
  int64_t first = INT64_MAX;
  for (int g = 0; g < k->groups; g++) {
    if (r[4 * g] < first) {
      first = r[4 * g];
      s->value = r[4 * g + 1];
    }
    if (r[4 * g + 2] < s->min) s->min = r[4 * g + 2];
    if (r[4 * g + 3] > s->max) s->max = r[4 * g + 3];
  }
  s->bad = first != INT64_MAX;
  return EMBER_OK;
}

/* }====== */

/* {====== bad index values the kernels found: error slots (vk.h) */

/* A kernel that meets a bad index value reports the lowest walk position p that had one;
** the slot keeps a view of the index values and what the message needs, and at the next
** wait reads that one value back (only then) to name it as the cpu does. The value read
** is the one in the index tensor at that time: an index written in place between the
** call and the wait would be named with its new value. */

enum { ERR_DIM, ERR_EMBEDDING, ERR_CLASS };   /* which cpu message */

typedef struct ix_error {
  ember_tensor *ix;         /* a view of the index values, alive until the slot is checked */
  int64_t div, mod;         /* the index's position of p: (p / div) % mod (mod 0: none) */
  int kind, d;
  int64_t size, base;       /* the range of the values: [base, base + size) */
  char op[32];
  char shape[128];          /* ERR_EMBEDDING: the weight's shape */
} ix_error;

static ix_error error_of(const ember_call *c, int kind, int d, int64_t size) {
  ix_error e = { .div = 1, .kind = kind, .d = d, .size = size, .base = c->index_base };
  snprintf(e.op, sizeof e.op, "%s", c->op->name);
  return e;
}

static void error_free(void *ctx) {
  ix_error *e = ctx;
  ember_tensor_release(e->ix);
  free(e);
}

/* host/cpu/index.c's and host/cpu/nn.c's messages, word for word */
static ember_status error_raise(void *ctx, uint32_t first) {
  const ix_error *e = ctx;
  const ember_tensor *ix = e->ix;
  int64_t p = (int64_t)first / e->div, at = 0;
  if (e->mod) p %= e->mod;
  for (int k = ix->ndim - 1; k >= 0; k--) {
    at += p % ix->shape[k] * ix->stride[k];
    p /= ix->shape[k];
  }
  uint8_t raw[8] = {0};
  int64_t v;
  if (read_back(ix, at, raw, ember_dtype_size(ix->dtype)) != EMBER_OK) return EMBER_ERROR;
  ember_convert(EMBER_I64, &v, ix->dtype, raw, 1);
  long long b = (long long)e->base, hi = (long long)(e->size - 1 + e->base);
  switch (e->kind) {
  case ERR_EMBEDDING:
    return ember_error("%s: index %lld is out of range [%lld, %lld] for weight of shape %s",
                       e->op, (long long)v, b, hi, e->shape);
  case ERR_CLASS:
    return ember_error("%s: class value %lld is out of range [%lld, %lld] for %lld classes",
                       e->op, (long long)v, b, hi, (long long)e->size);
  default:
    return ember_error("%s: index %lld is out of range for dim %d of size %lld%s", e->op,
                       (long long)v, e->d + (e->base ? 1 : 0), (long long)e->size,
                       e->base ? " (indices count from 1)" : "");
  }
}

/* A slot for a launch that reads the values of ix (0 and an error when none can be had). */
static int error_slot(const ix_error *tmpl, const ember_tensor *ix) {
  ix_error *e = malloc(sizeof *e);
  ember_tensor *view = e ? ember_tensor_view_of(ix, ix->ndim, ix->shape, ix->stride, ix->offset) : NULL;
  if (view == NULL) {
    free(e);
    ember_error("out of memory");
    return 0;
  }
  *e = *tmpl;
  e->ix = view;
  return vk_error_slot(error_raise, e, error_free);
}

/* }====== */

/* {====== index_select, gather, embedding: index_gather.comp */

typedef struct gather_push {
  int32_t ndim;
  uint32_t numel;
  int32_t off_o, off_s, off_i;
  int32_t ds, size, base;
  int32_t shape[8], ss[8], is[8];
} gather_push;

/* out (contiguous, of ndim, shape) = src walked with strides ss, the addressed dim by
** the index value (walked with strides is) times ds; a bad value reported to the error
** slot that e describes (its div and mod map out's positions to the index's). An empty
** out of a nonempty index runs the check alone, over the index (the cpu checks every
** value). */
static ember_status gather_run(ember_call *c, const ember_tensor *out, const ember_tensor *src,
                               const ember_tensor *ix, int ndim, const int64_t *shape,
                               const int64_t *ss, const int64_t *is, int64_t ds, int64_t size,
                               ix_error *e) {
  int64_t n = ember_shape_numel(ndim, shape), ni = ember_tensor_numel(ix);
  if (ni == 0) return EMBER_OK;
  const ember_tensor *ts[3] = { out, src, ix };
  if (vk_ix_fit32(c, 3, ts) != EMBER_OK) return EMBER_ERROR;
  int check = n == 0;
  int64_t zeros[EMBER_MAX_DIMS] = {0};
  if (check) {
    ndim = ix->ndim;
    shape = ix->shape;
    ss = zeros;
    is = ix->stride;
    ds = 0;
    n = ni;
    e->div = 1;
    e->mod = 0;
  }
  int64_t sh[EMBER_MAX_DIMS], st[3][EMBER_MAX_DIMS];
  ember_contiguous_strides(ndim, shape, st[0]);
  for (int d = 0; d < ndim; d++) {
    sh[d] = shape[d];
    st[1][d] = ss[d];
    st[2][d] = is[d];
  }
  int nd = merge_dims(ndim, sh, 3, st);
  gather_push p = { .ndim = nd, .numel = (uint32_t)n, .off_o = check ? 0 : (int32_t)out->offset,
                    .off_s = check ? 0 : (int32_t)src->offset, .off_i = (int32_t)ix->offset,
                    .ds = (int32_t)ds, .size = (int32_t)size, .base = c->index_base };
  put_dims(p.shape, nd, sh);
  put_dims(p.ss, nd, st[1]);
  put_dims(p.is, nd, st[2]);
  int slot = error_slot(e, ix);
  if (slot == 0) return EMBER_ERROR;
  vk_launch_args a = { .nbind = 3, .bind = { check ? NULL : out, check ? NULL : src, ix },
                       .write = { !check, 0, 0 }, .push = &p, .push_bytes = sizeof p,
                       .error_slot = slot };
  a.spec[3] = (uint32_t)ember_dtype_size(out->dtype);
  a.spec[4] = (uint32_t)vk_dtype_code(ix->dtype);
  a.spec[5] = (uint32_t)check;
  vk_groups_1d(n, WG, a.groups);
  ember_dtype dts[2] = { vk_raw_dtype(out->dtype), ix->dtype };
  return vk_ix_launch(&a, "index_gather", 2, dts);
}

ember_status vk_index_select(ember_call *c) {
  ember_tensor t = ember_as_vector(c->in[0]), ix = ember_as_vector(c->in[1]), out = ember_as_vector(c->out[0]);
  int d = (int)c->attr[0].i;
  int64_t ss[EMBER_MAX_DIMS], is[EMBER_MAX_DIMS], size = t.shape[d];
  for (int q = 0; q < t.ndim; q++) {
    ss[q] = q == d ? 0 : t.stride[q];
    is[q] = q == d ? ix.stride[0] : 0;
  }
  /* out's position p is index position (p / inner) % m: its coordinate along d */
  ix_error e = error_of(c, ERR_DIM, d, size);
  e.div = ember_shape_numel(out.ndim - d - 1, out.shape + d + 1);
  e.mod = ix.shape[0];
  return gather_run(c, &out, &t, &ix, out.ndim, out.shape, ss, is, t.stride[d], size, &e);
}

ember_status vk_gather(ember_call *c) {
  ember_tensor t = ember_as_vector(c->in[0]), ix = ember_as_vector(c->in[1]), out = ember_as_vector(c->out[0]);
  int d = (int)c->attr[0].i;
  int64_t ss[EMBER_MAX_DIMS], size = t.shape[d];
  for (int q = 0; q < t.ndim; q++) ss[q] = q == d ? 0 : t.stride[q];
  ix_error e = error_of(c, ERR_DIM, d, size);   /* out's positions are the index's */
  return gather_run(c, &out, &t, &ix, ix.ndim, ix.shape, ss, ix.stride, t.stride[d], size, &e);
}

/* out[..., j] = w[idx[...] - base, j] (idx already i64; w of any dtype and strides) */
ember_status vk_embedding(ember_call *c) {
  ember_tensor *idx = c->in[0], *w = c->in[1], *out = c->out[0];
  int nd = idx->ndim + 1;
  int64_t ss[EMBER_MAX_DIMS], is[EMBER_MAX_DIMS], rows = w->shape[0];
  for (int q = 0; q < nd - 1; q++) {
    ss[q] = 0;
    is[q] = idx->stride[q];
  }
  ss[nd - 1] = w->stride[1];
  is[nd - 1] = 0;
  ix_error e = error_of(c, ERR_EMBEDDING, 0, rows);   /* out's position p is index p / dim */
  e.div = w->shape[1] > 0 ? w->shape[1] : 1;
  ember_shape_str(w, e.shape, sizeof e.shape);
  return gather_run(c, out, w, idx, nd, out->shape, ss, is, w->stride[0], rows, &e);
}

/* }====== */

/* {====== scatter, scatter_add, one_hot: index_scatter.comp */

typedef struct scatter_push {
  int32_t ndim;
  uint32_t numel;
  int32_t off, dim, base, flags;
  uint32_t val[2];
  int32_t shape[8], a[8], b[8];
} scatter_push;

enum { SC_TARGET, SC_WIN, SC_WRITE, SC_SEGSUM };
enum { SCATTER, SCATTER_ADD, SCATTER_UNIQUE };   /* UNIQUE: targets never repeat */

static ember_status scatter_pass(int mode, scatter_push *p, const ember_tensor *const *bind,
                                 const int *write, ember_dtype vdt, ember_dtype idt,
                                 ember_dtype compute, int slot) {
  vk_launch_args a = { .nbind = 6, .push = p, .push_bytes = sizeof *p, .error_slot = slot };
  for (int k = 0; k < 6; k++) {
    a.bind[k] = bind[k];
    a.write[k] = write[k];
  }
  a.spec[3] = (uint32_t)mode;
  a.spec[4] = (uint32_t)ember_dtype_size(vdt);
  a.spec[5] = (uint32_t)vk_dtype_code(idt);
  a.spec[6] = (uint32_t)vk_dtype_code(compute);
  vk_groups_1d(p->numel, WG, a.groups);
  /* only the passes that read the index need its dtype's variant */
  ember_dtype dts[2] = { mode == SC_SEGSUM ? compute : vk_raw_dtype(vdt), idt };
  return vk_ix_launch(&a, "index_scatter", mode == SC_TARGET ? 2 : 1, dts);
}

/* Into T (contiguous; its dim d addressed by the index values): over the positions of
** ix, T's element gets src's (NULL: the value bits), or src's added (SCATTER_ADD, in
** `compute`). A bad index value writes nothing and goes to the error slot e describes
** (e NULL: the values were checked already); the good ones are written all the same. */
static ember_status scatter_into(ember_call *c, const ember_tensor *T, const ember_tensor *ix,
                                 const ember_tensor *src, const uint8_t *value, int d, int how,
                                 ember_dtype compute, const ix_error *e) {
  int64_t n = ember_tensor_numel(ix), tn = ember_tensor_numel(T);
  if (n == 0) return EMBER_OK;
  const ember_tensor *ts[3] = { T, ix, src };
  if (vk_ix_fit32(c, 3, ts) != EMBER_OK) return EMBER_ERROR;
  ember_tensor *K = device_empty(EMBER_I64, n), *P = device_empty(EMBER_I32, n), *W = NULL;
  ember_status st = K && P ? EMBER_OK : EMBER_ERROR;
  scatter_push p = { .ndim = ix->ndim, .numel = (uint32_t)n, .off = (int32_t)ix->offset,
                     .dim = d, .base = c->index_base, .val = { (uint32_t)T->shape[d], 0 } };
  int64_t cs[EMBER_MAX_DIMS];
  ember_contiguous_strides(T->ndim, T->shape, cs);
  put_dims(p.shape, ix->ndim, ix->shape);
  put_dims(p.a, ix->ndim, ix->stride);
  put_dims(p.b, T->ndim, cs);
  const ember_tensor *bt[6] = { ix, K, P, NULL, NULL, NULL };
  int wt[6] = { 0, 1, 1, 0, 0, 0 };
  ember_dtype vdt = T->dtype;
  int slot = 0;
  if (st == EMBER_OK && e && (slot = error_slot(e, ix)) == 0) st = EMBER_ERROR;
  if (st == EMBER_OK) st = scatter_pass(SC_TARGET, &p, bt, wt, vdt, ix->dtype, compute, slot);
  /* from here the walk is src's: its strides over the index's shape */
  memset(p.a, 0, sizeof p.a);
  memset(p.b, 0, sizeof p.b);
  if (src) put_dims(p.a, src->ndim, src->stride);
  p.off = src ? (int32_t)src->offset : 0;
  p.b[0] = (int32_t)T->offset;
  if (st == EMBER_OK && how == SCATTER_ADD) {
    st = vk_sort_pairs(&K, &P, 1, n);
    const ember_tensor *bs[6] = { NULL, K, P, NULL, src, T };
    int ws[6] = { 0, 0, 0, 0, 0, 1 };
    if (st == EMBER_OK) st = scatter_pass(SC_SEGSUM, &p, bs, ws, vdt, ix->dtype, compute, 0);
  } else if (st == EMBER_OK) {
    if (how == SCATTER) {        /* the last writer of each target, by integer atomics */
      W = ember_tensor_zeros_on(EMBER_VULKAN, EMBER_I32, 1, &tn);
      const ember_tensor *bw[6] = { NULL, K, NULL, W, NULL, NULL };
      int ww[6] = { 0, 0, 0, 1, 0, 0 };
      st = W ? scatter_pass(SC_WIN, &p, bw, ww, vdt, ix->dtype, compute, 0) : EMBER_ERROR;
    }
    p.flags = (src ? 0 : 1) | (how == SCATTER ? 2 : 0);
    memcpy(p.val, value, sizeof p.val);
    const ember_tensor *bw[6] = { NULL, K, NULL, W, src, T };
    int ww[6] = { 0, 0, 0, 0, 0, 1 };
    if (st == EMBER_OK) st = scatter_pass(SC_WRITE, &p, bw, ww, vdt, ix->dtype, compute, 0);
  }
  ember_tensor_release(K);
  ember_tensor_release(P);
  ember_tensor_release(W);
  return st;
}

/* One value for scatter: the Lua number the caller passed (the dispatcher moved a copy
** to the device; the caller's own tensor is read) or the value attribute; as bytes
** in dt, converted as the cpu converts. */
static ember_status one_value(ember_call *c, const ember_tensor *user, ember_dtype dt,
                              uint8_t *value) {
  memset(value, 0, 8);
  if (user == NULL) {
    ember_scalar_bytes(dt, c->attr[1].f, c->attr[1].i, (char *)value);
    return EMBER_OK;
  }
  if (user->storage->device == EMBER_CPU) {
    ember_convert(dt, value, user->dtype, ember_tensor_data(user), 1);
    return EMBER_OK;
  }
  uint8_t raw[8] = {0};
  if (read_back(user, 0, raw, ember_dtype_size(user->dtype)) != EMBER_OK) return EMBER_ERROR;
  ember_convert(dt, value, user->dtype, raw, 1);
  return EMBER_OK;
}

static ember_status scatter_common(ember_call *c, int add) {
  ember_tensor *dst = c->out[0], *src = c->nin > 2 ? c->in[2] : NULL;
  const ember_tensor *user = c->nin > 2 ? c->in_user[2] : NULL;
  int d = (int)c->attr[0].i;
  ember_tensor o = ember_as_vector(dst), ix = ember_as_vector(c->in[1]);
  uint8_t value[8] = {0};
  int one = !add && (src == NULL || (user->flags & EMBER_TENSOR_WRAPPED_NUMBER));
  if (one && one_value(c, src ? user : NULL, o.dtype, value) != EMBER_OK) return EMBER_ERROR;
  /* The index values are checked as they are used, with no wait for the device: a bad
  ** one surfaces at the next wait, and an in-place scatter_ / scatter_add_ may have
  ** written the good ones by then (the cpu writes nothing; docs/vulkan.md, Faults). */
  ix_error e = error_of(c, ERR_DIM, d, o.shape[d]);
  if (dst != c->in[0] && ember_copy_(dst, c->in[0]) != EMBER_OK) return EMBER_ERROR;
  /* a strided in-place target: scattered into a contiguous copy, copied back */
  ember_tensor *T = ember_contiguous(dst);
  if (T == NULL) return EMBER_ERROR;
  ember_tensor tv = ember_as_vector(T), sv = src && !one ? ember_as_vector(src) : tv;
  ember_status st = scatter_into(c, &tv, &ix, one ? NULL : &sv, value, d,
                                 add ? SCATTER_ADD : SCATTER, c->compute, &e);
  if (st == EMBER_OK && T != dst) st = ember_copy_(dst, T);
  ember_tensor_release(T);
  return st;
}

ember_status vk_scatter(ember_call *c) { return scatter_common(c, 0); }
ember_status vk_scatter_add(ember_call *c) { return scatter_common(c, 1); }

/* i64 zeros of indices' shape x classes with a 1 at each class value: a scatter of 1
** along the last dim, the indices viewed with a last dim of 1 */
ember_status vk_one_hot(ember_call *c) {
  ember_tensor *idx = c->in[0];
  int64_t n = ember_tensor_numel(idx), base = c->index_base, classes = c->attr[0].i;
  if (classes < 0 && n == 0)
    return ember_op_error(c, "cannot infer num_classes from an empty tensor");
  /* Without num_classes the size of the result is the largest value: read back (with
  ** the first bad one). With it, the scatter checks the values and reports a bad one
  ** through an error slot, with no wait. */
  ix_error e = error_of(c, ERR_CLASS, 0, classes);
  if (classes < 0) {
    ix_check k;
    ix_stats s;
    if (check_launch(c, idx, base, classes, &k) != EMBER_OK || check_finish(&k, &s) != EMBER_OK)
      return EMBER_ERROR;
    /* the check had no upper bound: only values below base are bad */
    classes = s.max - base + 1 > 0 ? s.max - base + 1 : 0;
    if (classes == 0) s.bad = 1;   /* every value is, the first one first */
    if (s.bad)
      return ember_op_error(c, "class value %lld is out of range [%lld, %lld] for %lld classes",
                            (long long)s.value, (long long)base, (long long)(classes - 1 + base),
                            (long long)classes);
  }
  int nd = idx->ndim + 1;
  int64_t shape[EMBER_MAX_DIMS], stride[EMBER_MAX_DIMS];
  for (int d = 0; d < nd - 1; d++) {
    shape[d] = idx->shape[d];
    stride[d] = idx->stride[d];
  }
  shape[nd - 1] = classes;
  stride[nd - 1] = 0;
  ember_tensor *out = ember_tensor_zeros_on(EMBER_VULKAN, EMBER_I64, nd, shape);
  if (out == NULL) return EMBER_ERROR;
  shape[nd - 1] = 1;
  ember_tensor col = *idx;             /* idx viewed with a last dim of 1 */
  col.ndim = nd;
  memcpy(col.shape, shape, sizeof shape);
  memcpy(col.stride, stride, sizeof stride);
  uint8_t one[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
  ember_status st = scatter_into(c, out, &col, NULL, one, nd - 1, SCATTER_UNIQUE, EMBER_I64,
                                 c->attr[0].i < 0 ? NULL : &e);
  if (st != EMBER_OK) {
    ember_tensor_release(out);
    return st;
  }
  c->out[0] = out;
  c->nout = 1;
  return EMBER_OK;
}

/* }====== */

/* {====== masked_fill: where(mask, value, t) on the elementwise kernel */

/* The where runs on the raw integer dtype of the element's size (headers that view
** the same storages so): its integer path moves bits, so f64 needs no f64 support and
** every value, NaN payloads and i64 past 2^53 included, lands as the cpu writes it. */
ember_status vk_masked_fill(ember_call *c) {
  ember_dtype raw = vk_raw_dtype(c->out[0]->dtype);
  char value[8];
  ember_scalar_bytes(c->out[0]->dtype, c->attr[0].f, c->attr[0].i, value);
  ember_tensor *h = ember_tensor_empty(raw, 0, NULL);
  if (h == NULL) return EMBER_ERROR;
  memcpy(ember_tensor_data(h), value, ember_dtype_size(raw));
  ember_tensor *v = ember_to_device(h, EMBER_VULKAN);
  ember_tensor_release(h);
  if (v == NULL) return EMBER_ERROR;
  ember_tensor out = *c->out[0], t = *c->in[0];
  out.dtype = t.dtype = raw;
  out.autograd = t.autograd = NULL;
  ember_tensor *in[3] = { c->in[1], v, &t };
  ember_status st = vk_pointwise(&out, PW_WHERE, 3, in, 0, 0, 0);
  ember_tensor_release(v);
  return st;
}

/* }====== */

/* {====== masked_select, nonzero: index_count.comp */

typedef struct count_push {
  int32_t ndim;
  uint32_t numel;
  int32_t off0, off1;
  uint32_t nblocks;
  int32_t base;
  int32_t shape[8], s0[8], s1[8];
} count_push;

enum { CT_COUNT, CT_SCAN, CT_FILL };
enum { KIND_MASKED, KIND_NONZERO };

static ember_status count_pass(int mode, int kind, count_push *p, const ember_tensor *a,
                               const ember_tensor *m, const ember_tensor *cnt,
                               const ember_tensor *out) {
  vk_launch_args l = { .nbind = 4, .bind = { a, m, cnt, out },
                       .write = { 0, 0, mode != CT_FILL, 1 }, .push = p, .push_bytes = sizeof *p };
  l.spec[3] = (uint32_t)mode;
  l.spec[4] = (uint32_t)kind;
  l.spec[5] = (uint32_t)ember_dtype_size(a->dtype);
  l.spec[6] = (uint32_t)ember_dtype_is_float(a->dtype);
  if (mode == CT_SCAN) {
    l.groups[0] = l.groups[1] = l.groups[2] = 1;
  } else {
    vk_groups_1d((int64_t)p->nblocks * WG, WG, l.groups);
  }
  ember_dtype raw = vk_raw_dtype(a->dtype);
  return vk_ix_launch(&l, "index_count", 1, &raw);
}

/* The elements of a walk (shape, strides st[0] of a, st[1] of m) that are selected:
** counted, the count read back, *out allocated (masked: a vector of a's dtype;
** nonzero: n x cols int64) and filled. */
static ember_status select_run(ember_call *c, int kind, const ember_tensor *a,
                               const ember_tensor *m, int ndim, const int64_t *shape,
                               int64_t (*st)[EMBER_MAX_DIMS], int cols, ember_tensor **out) {
  int64_t numel = ember_shape_numel(ndim, shape), total = 0;
  *out = NULL;
  const ember_tensor *ts[2] = { a, m };
  if (vk_ix_fit32(c, 2, ts) != EMBER_OK) return EMBER_ERROR;
  if (numel > INT32_MAX - BLOCK)
    return ember_op_error(c, "%lld elements is beyond 32-bit indexing on vulkan", (long long)numel);
  int64_t nblocks = (numel + BLOCK - 1) / BLOCK;
  count_push p = { .ndim = ndim, .numel = (uint32_t)numel, .off0 = (int32_t)a->offset,
                   .off1 = m ? (int32_t)m->offset : 0, .nblocks = (uint32_t)nblocks,
                   .base = c->index_base };
  put_dims(p.shape, ndim, shape);
  put_dims(p.s0, ndim, st[0]);
  put_dims(p.s1, ndim, st[1]);
  ember_tensor *cnt = NULL;
  ember_status s = EMBER_OK;
  if (numel > 0) {
    uint32_t n32 = 0;
    cnt = device_empty(EMBER_I32, nblocks + 1);
    s = cnt ? count_pass(CT_COUNT, kind, &p, a, m, cnt, NULL) : EMBER_ERROR;
    if (s == EMBER_OK) s = count_pass(CT_SCAN, kind, &p, a, m, cnt, NULL);
    if (s == EMBER_OK) s = read_back(cnt, nblocks, &n32, sizeof n32);
    total = n32;
  }
  int64_t shape2[2] = { total, cols };
  if (s == EMBER_OK)
    *out = kind == KIND_NONZERO ? ember_tensor_empty_on(EMBER_VULKAN, EMBER_I64, 2, shape2)
                                : ember_tensor_empty_on(EMBER_VULKAN, a->dtype, 1, &total);
  if (*out == NULL) s = EMBER_ERROR;
  if (s == EMBER_OK && total > 0 && (kind == KIND_MASKED || cols > 0))
    s = count_pass(CT_FILL, kind, &p, a, m, cnt, *out);
  ember_tensor_release(cnt);
  if (s != EMBER_OK) {
    ember_tensor_release(*out);
    *out = NULL;
  }
  return s;
}

ember_status vk_masked_select(ember_call *c) {
  ember_tensor *t = c->in[0], *mask = c->in[1];
  int nd;
  int64_t shape[EMBER_MAX_DIMS], st[2][EMBER_MAX_DIMS];
  if (ember_broadcast_shapes(c->op->name, t->ndim, t->shape, mask->ndim, mask->shape, &nd,
                             shape) != EMBER_OK)
    return EMBER_ERROR;
  ember_broadcast_strides(t, nd, shape, st[0]);
  ember_broadcast_strides(mask, nd, shape, st[1]);
  nd = merge_dims(nd, shape, 2, st);
  ember_tensor *out;
  if (select_run(c, KIND_MASKED, t, mask, nd, shape, st, 0, &out) != EMBER_OK) return EMBER_ERROR;
  c->out[0] = out;
  c->nout = 1;
  return EMBER_OK;
}

/* the coordinates need the tensor's own dims: no merging here */
ember_status vk_nonzero(ember_call *c) {
  ember_tensor *t = c->in[0];
  int64_t st[2][EMBER_MAX_DIMS];
  memset(st, 0, sizeof st);
  memcpy(st[0], t->stride, sizeof t->stride);
  ember_tensor *out;
  if (select_run(c, KIND_NONZERO, t, NULL, t->ndim, t->shape, st, t->ndim, &out) != EMBER_OK)
    return EMBER_ERROR;
  c->out[0] = out;
  c->nout = 1;
  return EMBER_OK;
}

/* }====== */
