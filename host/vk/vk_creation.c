/*
** vk_creation.c — the creation family on Vulkan (and dropout, which draws from the
** same stream): constant fills through the backend's fill, ranges and eye through
** shaders/creation.comp, the random tensors through shaders/random.comp.
**
** The random kernels are the CPU's (host/cpu/creation.c, nn.c) block for block: they
** reserve the same number of draws from the Philox stream with ember_rng_reserve, so
** the generator moves exactly as a CPU call moves it, and the shader derives element
** i from the same draws, so ember.manual_seed(s) gives the same tensor on both
** devices (bit for bit but for randn, which agrees to the rounding of log/sin/cos).
*/
#include <math.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "creation.h"

/* {====== helpers */

/* outputs and inputs are addressed with 32-bit element indices */
static ember_status check_size(const ember_call *c, int64_t n) {
  if (n > INT32_MAX)
    return ember_op_error(c, "%lld elements is beyond the 32-bit indexing of the vulkan kernels",
                          (long long)n);
  return EMBER_OK;
}

/* out's every element set to the bytes elem (one element of out's dtype) */
static ember_status fill_bits(ember_tensor *out, const void *elem) {
  ember_tensor *one = ember_tensor_empty(out->dtype, 0, NULL);
  if (one == NULL) return EMBER_ERROR;
  memcpy(ember_tensor_data(one), elem, ember_dtype_size(out->dtype));
  ember_status st = ember_copy_(out, one);
  ember_tensor_release(one);
  return st;
}

static void put_f32(uint32_t *w, float v) { memcpy(w, &v, 4); }
static void put_f64(uint32_t *w, double v) { memcpy(w, &v, 8); }
static void put_u64(uint32_t *w, uint64_t v) { w[0] = (uint32_t)v; w[1] = (uint32_t)(v >> 32); }

/* }====== */

/* {====== constant fills */

ember_status vk_empty(ember_call *c) {
  (void)c;                                       /* the memory as it is, as on the cpu */
  return EMBER_OK;
}

ember_status vk_zeros(ember_call *c) {
  const char zero[8] = {0};                      /* all-zero bits in every dtype */
  return fill_bits(c->out[0], zero);
}

ember_status vk_ones(ember_call *c) {
  char one[8];
  ember_store_i64(c->out[0]->dtype, one, 1);
  return fill_bits(c->out[0], one);
}

ember_status vk_full(ember_call *c) {
  char elem[8];
  ember_creation_fill_value(c, c->out[0]->dtype, elem);
  return fill_bits(c->out[0], elem);
}

/* }====== */

/* {====== ranges and eye (shaders/creation.comp) */

enum { C_ARANGE_INT, C_ARANGE, C_LINSPACE, C_LINSPACE_HALF, C_EYE };

typedef struct creation_push {
  uint32_t numel;
  int32_t off;
  uint32_t n, half_n;
  uint32_t sc[8];
} creation_push;

/* What the CPU computes in double runs in the f64 variant when the device has it. */
static int wide_math(void) { return vk.has_f64; }

/* param k of the shader's WIDE parameters */
static void put_wide(creation_push *p, int k, double v) {
  if (wide_math()) put_f64(p->sc + 2 * k, v);
  else put_f32(p->sc + 2 * k, (float)v);
}

static ember_status creation_launch(ember_call *c, int op, creation_push *p) {
  ember_tensor *out = c->out[0];
  int64_t n = ember_tensor_numel(out);
  if (n == 0) return EMBER_OK;
  if (check_size(c, n + out->offset) != EMBER_OK) return EMBER_ERROR;
  p->numel = (uint32_t)n;
  p->off = (int32_t)out->offset;
  ember_dtype dts[2] = { out->dtype, wide_math() ? EMBER_F64 : out->dtype };
  char name[32];
  if (vk_shader_variant(name, sizeof name, "creation", 2, dts) != EMBER_OK) return EMBER_ERROR;
  vk_launch_args a = { .shader = name, .nbind = 1, .bind = { out }, .write = { 1 },
                       .push = p, .push_bytes = sizeof *p };
  a.spec[0] = 256; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = (uint32_t)op;
  a.spec[4] = (uint32_t)vk_dtype_code(out->dtype);
  vk_groups_1d(n, 256, a.groups);
  return vk_launch(&a);
}

/* start + step * i: in wrapping int64 for an integral range into an integer dtype,
** else in double (the f64 variant), converted to the dtype as ember_store_f64 does */
ember_status vk_arange(ember_call *c) {
  ember_range r;
  ember_creation_range(c, &r);
  creation_push p;
  memset(&p, 0, sizeof p);
  ember_dtype dt = c->out[0]->dtype;
  if (r.integral && !ember_dtype_is_float(dt)) {
    put_u64(p.sc, (uint64_t)r.istart);
    put_u64(p.sc + 2, (uint64_t)r.istep);
    return creation_launch(c, C_ARANGE_INT, &p);
  }
  put_wide(&p, 0, r.start);
  put_wide(&p, 1, r.step);
  return creation_launch(c, C_ARANGE, &p);
}

/* The ends and the step as ember_cpu_linspace computes them; the shader does the
** per-element arithmetic in the same type. */
ember_status vk_linspace(ember_call *c) {
  ember_tensor *out = c->out[0];
  double a = ember_creation_attr(c, "start")->f, b = ember_creation_attr(c, "end")->f;
  int64_t n = ember_tensor_numel(out);
  ember_dtype dt = out->dtype;
  if (n == 0) return EMBER_OK;
  if (n == 1) {
    char elem[8];
    ember_store_f64(dt, elem, a);
    return fill_bits(out, elem);
  }
  creation_push p;
  memset(&p, 0, sizeof p);
  p.n = (uint32_t)n;
  p.half_n = (uint32_t)(n / 2);
  if (dt == EMBER_F32 || dt == EMBER_F16 || dt == EMBER_BF16) {
    float fa = (float)a, fb = (float)b, step = (fb - fa) / (float)(n - 1);
    if (dt != EMBER_F32) ember_creation_linspace_half(dt, a, b, n, &fa, &fb, &step);
    put_f32(p.sc, fa);
    put_f32(p.sc + 2, fb);
    put_f32(p.sc + 4, step);
    return creation_launch(c, dt == EMBER_F32 ? C_LINSPACE : C_LINSPACE_HALF, &p);
  }
  if (!ember_dtype_is_float(dt)) {               /* integer dtypes: integral ends */
    a = trunc(a);
    b = trunc(b);
  }
  put_wide(&p, 0, a);
  put_wide(&p, 1, b);
  put_wide(&p, 2, (b - a) / (double)(n - 1));
  return creation_launch(c, C_LINSPACE, &p);
}

ember_status vk_eye(ember_call *c) {
  creation_push p;
  memset(&p, 0, sizeof p);
  p.n = (uint32_t)c->out[0]->shape[1];
  return creation_launch(c, C_EYE, &p);
}

/* }====== */

/* {====== random tensors and dropout (shaders/random.comp) */

enum { R_RAND, R_RANDN, R_RANDINT, R_DROPOUT };

typedef struct random_push {
  uint32_t key[2], ctr[2];
  uint32_t numel, blocks;
  int32_t off_o, ndim;
  int32_t shape[4], st[4];
  int32_t off_a;
  uint32_t thr, wide, pad;
  uint32_t sc[4];
} random_push;

/* One dispatch of op over out (and the input x for dropout): `per_block` elements
** per Philox block, blocks counted from `first` under key. */
static ember_status random_launch(int op, ember_tensor *out, const ember_tensor *x, uint64_t key,
                                  uint64_t first, int per_block, random_push *p) {
  int64_t n = ember_tensor_numel(out);
  if (n == 0) return EMBER_OK;
  put_u64(p->key, key);
  put_u64(p->ctr, first);
  p->numel = (uint32_t)n;
  p->blocks = (uint32_t)((n + per_block - 1) / per_block);
  p->off_o = (int32_t)out->offset;
  ember_dtype dts[2] = { out->dtype, x ? x->dtype : out->dtype };
  char name[32];
  if (vk_shader_variant(name, sizeof name, "random", 2, dts) != EMBER_OK) return EMBER_ERROR;
  vk_launch_args a = { .shader = name, .nbind = x ? 2 : 1, .bind = { out, x }, .write = { 1, 0 },
                       .push = p, .push_bytes = sizeof *p };
  a.spec[0] = 64; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = (uint32_t)op;
  a.spec[4] = (uint32_t)vk_dtype_code(dts[0]);
  a.spec[5] = (uint32_t)vk_dtype_code(dts[1]);
  vk_groups_1d(p->blocks, 64, a.groups);
  return vk_launch(&a);
}

/* Checks that can fail come before the draws are reserved: a failed call leaves the
** generator where it was. */
static ember_status random_out(ember_call *c, int64_t *n) {
  ember_tensor *out = c->out[0];
  char name[32];
  *n = ember_tensor_numel(out);
  if (check_size(c, *n + out->offset) != EMBER_OK) return EMBER_ERROR;
  return vk_shader_variant(name, sizeof name, "random", 1, &out->dtype);
}

ember_status vk_rand(ember_call *c) {
  int64_t n;
  if (random_out(c, &n) != EMBER_OK) return EMBER_ERROR;
  int per_block = c->out[0]->dtype == EMBER_F64 ? 2 : 4;
  uint64_t first = ember_rng_reserve(n * (4 / per_block));
  random_push p;
  memset(&p, 0, sizeof p);
  return random_launch(R_RAND, c->out[0], NULL, ember_rng_seed(), first, per_block, &p);
}

ember_status vk_randn(ember_call *c) {
  int64_t n;
  if (random_out(c, &n) != EMBER_OK) return EMBER_ERROR;
  int per_block = c->out[0]->dtype == EMBER_F64 ? 2 : 4;
  uint64_t first = ember_rng_reserve((n + (n & 1)) * (4 / per_block));
  random_push p;
  memset(&p, 0, sizeof p);
  return random_launch(R_RANDN, c->out[0], NULL, ember_rng_seed(), first, per_block, &p);
}

ember_status vk_randint(ember_call *c) {
  int64_t n, low, high;
  if (random_out(c, &n) != EMBER_OK) return EMBER_ERROR;
  ember_creation_int_bounds(c, &low, &high);
  uint64_t range = (uint64_t)high - (uint64_t)low;
  int wide = range > ((uint64_t)1 << 32);
  int per_block = wide ? 2 : 4;
  uint64_t first = ember_rng_reserve(n * (4 / per_block));
  random_push p;
  memset(&p, 0, sizeof p);
  p.wide = (uint32_t)wide;
  put_u64(p.sc, (uint64_t)low);
  put_u64(p.sc + 2, range);
  return random_launch(R_RANDINT, c->out[0], NULL, ember_rng_seed(), first, per_block, &p);
}

/* y = x where draw i of (key, first) keeps element i, times 1/(1-p), else 0; as
** drop_scale in host/cpu/nn.c. u >= p for u = (draw >> 8) / 2^24 is exactly
** draw >> 8 >= ceil(p 2^24), which needs no double on the device. x is read through
** its strides in logical order (made dense if they do not fit the push constants). */
static ember_status drop_scale(ember_call *c, uint64_t key, uint64_t first, double p,
                               ember_tensor *x, ember_tensor *out) {
  random_push q;
  memset(&q, 0, sizeof q);
  q.thr = (uint32_t)ceil(p * 16777216.0);
  if (out->dtype == EMBER_F64) put_f64(q.sc, 1.0 / (1.0 - p));
  else put_f32(q.sc, (float)(1.0 / (1.0 - p)));
  vk_layout l;
  const ember_tensor *ts[2] = { out, x };
  vk_layout_make(&l, out->ndim, out->shape, 2, ts);
  int fits = l.ndim <= 4 && l.offset[1] <= INT32_MAX;
  for (int d = 0; fits && d < l.ndim; d++)
    fits = vk_fits_i32(l.stride[1][d]);
  ember_tensor *dense = NULL;
  if (!fits) {
    if ((dense = vk_dense(x, EMBER_DTYPE_NONE, 0, NULL)) == NULL) return EMBER_ERROR;
    if (check_size(c, dense->offset + ember_tensor_numel(dense)) != EMBER_OK) {
      ember_tensor_release(dense);
      return EMBER_ERROR;
    }
    ts[1] = x = dense;
    vk_layout_make(&l, out->ndim, out->shape, 2, ts);
  }
  q.ndim = l.ndim;
  q.off_a = (int32_t)l.offset[1];
  for (int d = 0; d < l.ndim; d++) {
    q.shape[d] = (int32_t)l.shape[d];
    q.st[d] = (int32_t)l.stride[1][d];
  }
  ember_status st = random_launch(R_DROPOUT, out, x, key, first, 4, &q);
  ember_tensor_release(dense);
  return st;
}

ember_status vk_dropout(ember_call *c) {
  ember_tensor *out = c->out[0];
  double p = c->attr[0].f;
  if (!c->attr[1].i || p == 0) return ember_copy_(out, c->in[0]);
  if (p == 1) return ember_fill_(out, 0);
  int64_t n;
  if (random_out(c, &n) != EMBER_OK) return EMBER_ERROR;
  uint64_t key = ember_rng_seed();
  return drop_scale(c, key, ember_rng_reserve(n), p, c->in[0], out);
}

/* the forward's mask drawn again at the stream position it kept (attr 1: key and
** counter as four 32-bit words, low word first) */
ember_status vk_dropout_backward(ember_call *c) {
  const int64_t *w = c->attr[1].v;
  int64_t n;
  if (random_out(c, &n) != EMBER_OK) return EMBER_ERROR;
  return drop_scale(c, (uint64_t)w[0] | (uint64_t)w[1] << 32, (uint64_t)w[2] | (uint64_t)w[3] << 32,
                    c->attr[0].f, c->in[0], c->out[0]);
}

/* }====== */
