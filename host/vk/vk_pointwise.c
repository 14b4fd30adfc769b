/*
** vk_pointwise.c — the elementwise family on Vulkan: every op is one dispatch of
** shaders/pointwise.comp, specialised by op code and dtypes. The dispatcher has
** already cast the inputs to the op's compute dtype (c->compute), as for the CPU
** kernels; the shader reads each input in its dtype and writes the output in its own.
*/
#include <stdio.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../../shaders/pointwise_ops.h"

typedef struct pw_push {
  int32_t ndim;
  uint32_t numel;
  int32_t nin, flags;
  int32_t shape[4];
  int32_t off[4];
  int32_t st[16];
  uint32_t sc[4];
} pw_push;

static int fits(const vk_layout *l, int n) {
  if (l->ndim > VK_LAYOUT_DIMS || l->numel > INT32_MAX) return 0;
  for (int k = 0; k < n; k++) {
    if (l->offset[k] > INT32_MAX) return 0;
    for (int d = 0; d < l->ndim; d++)
      if (!vk_fits_i32(l->stride[k][d])) return 0;
  }
  return 1;
}

static void encode_params(pw_push *p, ember_dtype value_dt, int f64_variant, double p0, double p1) {
  if (!ember_dtype_is_float(value_dt)) {          /* integer math: an int64 alpha */
    int64_t v = (int64_t)p0;
    memcpy(p->sc, &v, 8);
  } else if (f64_variant && value_dt == EMBER_F64) {
    memcpy(p->sc, &p0, 8);
    memcpy(p->sc + 2, &p1, 8);
  } else {
    float a = (float)p0, b = (float)p1;
    memcpy(p->sc, &a, 4);
    memcpy(p->sc + 1, &b, 4);
  }
}

/* The number held by 0-dim cpu tensor t (already in the kernel's compute dtype) as the
** shader reads it: float bits, double bits, or an int64. */
static void put_number(pw_push *p, int k, const ember_tensor *t) {
  uint32_t w[2] = { 0, 0 };
  const void *v = ember_tensor_data(t);
  if (t->dtype == EMBER_F32) {
    memcpy(w, v, 4);
  } else if (t->dtype == EMBER_F64) {
    memcpy(w, v, 8);
  } else {
    int64_t i = ember_load_i64(t->dtype, v);
    memcpy(w, &i, 8);
  }
  p->off[k] = (int32_t)w[0];
  p->st[4 * k] = (int32_t)w[1];
  p->flags |= 1 << (7 + k);
}

/* 0 done, -1 error (set), 1 the layout does not fit the push constants */
static int launch(ember_tensor *out, int op, int nin, ember_tensor *const *in,
                  double p0, double p1, int flags) {
  const ember_tensor *t[4] = { out, NULL, NULL, NULL };
  int n = 1;
  for (int k = 0; k < nin; k++) t[n++] = in[k] ? in[k] : out;
  vk_layout l;
  vk_layout_make(&l, out->ndim, out->shape, n, t);
  if (l.numel == 0) return 0;
  if (!fits(&l, n)) return 1;                     /* the caller makes things dense */
  pw_push p;
  memset(&p, 0, sizeof p);
  p.ndim = l.ndim;
  p.numel = (uint32_t)l.numel;
  p.nin = nin;
  p.flags = flags;
  for (int d = 0; d < l.ndim; d++) p.shape[d] = (int32_t)l.shape[d];
  for (int k = 0; k < n; k++) {
    p.off[k] = (int32_t)l.offset[k];
    for (int d = 0; d < l.ndim; d++) p.st[4 * k + d] = (int32_t)l.stride[k][d];
  }
  for (int k = 1; k < n; k++)
    if (t[k]->storage->device == EMBER_CPU) {   /* a number: its bits ride in the push */
      put_number(&p, k, t[k]);
      t[k] = NULL;
    }
  int f64 = out->dtype == EMBER_F64;
  ember_dtype dts[4] = { out->dtype, out->dtype, out->dtype, out->dtype };
  for (int k = 0; k < nin; k++) {
    if (in[k] == NULL) continue;
    dts[k + 1] = in[k]->dtype;
    f64 |= in[k]->dtype == EMBER_F64;
  }
  ember_dtype value_dt = op == PW_WHERE ? dts[2] : dts[1];
  encode_params(&p, value_dt, f64, p0, p1);
  char name[32];
  if (vk_shader_variant(name, sizeof name, "pointwise", 4, dts) != EMBER_OK) return -1;
  vk_launch_args a = { .shader = name, .nbind = n, .push = &p, .push_bytes = sizeof p };
  for (int k = 0; k < n; k++) a.bind[k] = t[k];
  a.write[0] = 1;
  a.spec[0] = 256; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = (uint32_t)op;
  for (int k = 0; k < 4; k++) a.spec[4 + k] = (uint32_t)vk_dtype_code(dts[k]);
  vk_groups_1d(l.numel, 256, a.groups);
  return vk_launch(&a) == EMBER_OK ? 0 : -1;
}

ember_status vk_pointwise(ember_tensor *out, int op, int nin, ember_tensor *const *in,
                          double p0, double p1, int flags) {
  int r = launch(out, op, nin, in, p0, p1, flags);
  if (r <= 0) return r == 0 ? EMBER_OK : EMBER_ERROR;
  /* more merged dims than the push constants hold, or offsets past 32 bits: inputs
  ** made dense in out's shape (which merges all their dims into one), and if that is
  ** not enough, the output too */
  if (ember_tensor_numel(out) > INT32_MAX)
    return ember_error("vulkan: %lld elements in one elementwise op is beyond 32-bit indexing",
                       (long long)ember_tensor_numel(out));
  ember_tensor *d[3] = { NULL, NULL, NULL };
  ember_status st = EMBER_OK;
  for (int k = 0; k < nin && st == EMBER_OK; k++)
    if (in[k] && !(d[k] = vk_dense(in[k], EMBER_DTYPE_NONE, out->ndim, out->shape)))
      st = EMBER_ERROR;
  ember_tensor *tmp = NULL;
  if (st == EMBER_OK && (r = launch(out, op, nin, d, p0, p1, flags)) != 0) {
    if (r < 0) {
      st = EMBER_ERROR;
    } else {                         /* the output itself is the strided one */
      tmp = ember_tensor_empty_on(EMBER_VULKAN, out->dtype, out->ndim, out->shape);
      st = tmp && launch(tmp, op, nin, d, p0, p1, flags) == 0 ? ember_copy_(out, tmp) : EMBER_ERROR;
    }
  }
  for (int k = 0; k < 3; k++) ember_tensor_release(d[k]);
  ember_tensor_release(tmp);
  return st;
}

/* {====== the kernels of the op table */

static ember_status unary(ember_call *c, int op) {
  return vk_pointwise(c->out[0], op, 1, c->in, 0, 0, 0);
}

static ember_status binary(ember_call *c, int op) {
  return vk_pointwise(c->out[0], op, 2, c->in, 0, 0, 0);
}

ember_status vk_add(ember_call *c) { return vk_pointwise(c->out[0], PW_ADD, 2, c->in, c->attr[0].f, 0, 0); }
ember_status vk_sub(ember_call *c) { return vk_pointwise(c->out[0], PW_SUB, 2, c->in, c->attr[0].f, 0, 0); }
ember_status vk_mul(ember_call *c) { return binary(c, PW_MUL); }

ember_status vk_div(ember_call *c) {
  const char *mode = c->attr[0].present ? c->attr[0].s : "none";
  return binary(c, mode[0] == 't' ? PW_DIV_TRUNC : mode[0] == 'f' ? PW_DIV_FLOOR : PW_DIV);
}

ember_status vk_remainder(ember_call *c) { return binary(c, PW_REMAINDER); }
ember_status vk_floor_divide(ember_call *c) { return binary(c, PW_DIV_FLOOR); }
ember_status vk_pow(ember_call *c) { return binary(c, PW_POW); }
ember_status vk_maximum(ember_call *c) { return binary(c, PW_MAXIMUM); }
ember_status vk_minimum(ember_call *c) { return binary(c, PW_MINIMUM); }

/* in[1] (min) and in[2] (max) may be absent */
ember_status vk_clamp(ember_call *c) {
  ember_tensor *lo = c->nin > 1 ? c->in[1] : NULL, *hi = c->nin > 2 ? c->in[2] : NULL;
  ember_tensor *in[3] = { c->in[0], lo, hi };
  return vk_pointwise(c->out[0], PW_CLAMP, 3, in, 0, 0, (lo ? 1 : 0) | (hi ? 2 : 0));
}

ember_status vk_where(ember_call *c) {
  return vk_pointwise(c->out[0], PW_WHERE, 3, c->in, 0, 0, 0);
}

ember_status vk_neg(ember_call *c) { return unary(c, PW_NEG); }
ember_status vk_abs(ember_call *c) { return unary(c, PW_ABS); }
ember_status vk_sign(ember_call *c) { return unary(c, PW_SIGN); }
ember_status vk_relu(ember_call *c) { return unary(c, PW_RELU); }
ember_status vk_floor(ember_call *c) { return unary(c, PW_FLOOR); }
ember_status vk_ceil(ember_call *c) { return unary(c, PW_CEIL); }
ember_status vk_round(ember_call *c) { return unary(c, PW_ROUND); }
ember_status vk_trunc(ember_call *c) { return unary(c, PW_TRUNC); }
ember_status vk_sqrt(ember_call *c) { return unary(c, PW_SQRT); }
ember_status vk_rsqrt(ember_call *c) { return unary(c, PW_RSQRT); }
ember_status vk_exp(ember_call *c) { return unary(c, PW_EXP); }
ember_status vk_log(ember_call *c) { return unary(c, PW_LOG); }
ember_status vk_log1p(ember_call *c) { return unary(c, PW_LOG1P); }
ember_status vk_expm1(ember_call *c) { return unary(c, PW_EXPM1); }
ember_status vk_sin(ember_call *c) { return unary(c, PW_SIN); }
ember_status vk_cos(ember_call *c) { return unary(c, PW_COS); }
ember_status vk_tanh(ember_call *c) { return unary(c, PW_TANH); }
ember_status vk_sigmoid(ember_call *c) { return unary(c, PW_SIGMOID); }
ember_status vk_silu(ember_call *c) { return unary(c, PW_SILU); }

ember_status vk_gelu(ember_call *c) {
  int tanh_form = c->attr[0].present && c->attr[0].s[0] == 't';
  return unary(c, tanh_form ? PW_GELU_TANH : PW_GELU);
}

ember_status vk_softplus(ember_call *c) {
  return vk_pointwise(c->out[0], PW_SOFTPLUS, 1, c->in, c->attr[0].f, c->attr[1].f, 0);
}

ember_status vk_eq(ember_call *c) { return binary(c, PW_EQ); }
ember_status vk_ne(ember_call *c) { return binary(c, PW_NE); }
ember_status vk_lt(ember_call *c) { return binary(c, PW_LT); }
ember_status vk_le(ember_call *c) { return binary(c, PW_LE); }
ember_status vk_gt(ember_call *c) { return binary(c, PW_GT); }
ember_status vk_ge(ember_call *c) { return binary(c, PW_GE); }
ember_status vk_logical_and(ember_call *c) { return binary(c, PW_AND); }
ember_status vk_logical_or(ember_call *c) { return binary(c, PW_OR); }
ember_status vk_logical_xor(ember_call *c) { return binary(c, PW_XOR); }
ember_status vk_logical_not(ember_call *c) { return unary(c, PW_NOT); }
ember_status vk_isnan(ember_call *c) { return unary(c, PW_ISNAN); }
ember_status vk_isinf(ember_call *c) { return unary(c, PW_ISINF); }

ember_status vk_relu_backward(ember_call *c) { return binary(c, PW_RELU_BW); }
ember_status vk_tanh_backward(ember_call *c) { return binary(c, PW_TANH_BW); }
ember_status vk_sigmoid_backward(ember_call *c) { return binary(c, PW_SIGMOID_BW); }
ember_status vk_silu_backward(ember_call *c) { return binary(c, PW_SILU_BW); }

ember_status vk_gelu_backward(ember_call *c) {
  return binary(c, c->attr[0].s[0] == 't' ? PW_GELU_TANH_BW : PW_GELU_BW);
}

ember_status vk_softplus_backward(ember_call *c) {
  return vk_pointwise(c->out[0], PW_SOFTPLUS_BW, 2, c->in, c->attr[0].f, c->attr[1].f, 0);
}

/* }====== */
