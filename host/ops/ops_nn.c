/*
** ops_nn.c — op table entries of the nn family: the functional forms of layers that
** nn modules call (linear, softmax, log_softmax, layer_norm, batch_norm, embedding,
** dropout, one_hot), their backward rules, and dropout_backward, the kernel dropout's
** rule dispatches (not bound in Lua). Argument orders and layouts are PyTorch's
** (linear weight is out x in, batch_norm's channel is dim 2 in Lua = dim 1 of NCHW).
** Float ops take f32/f64 natively and compute f16/bf16 in f32; index inputs hold
** 1-based values from Lua (c->index_base). Kernels are in host/cpu/nn.c, where
** dropout_backward's shares dropout's mask.
*/
#include <stdio.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/nn.h"
#include "../vk/vk_kernels.h"

/* dropout keeps in this attribute slot, past its declared ones, the Philox key and
** counter its kernel draws from (see infer_dropout and grad_dropout) */
#define DROPOUT_STREAM 2

/* {====== shape and dtype rules */

static ember_status need_float(ember_call *c, const ember_tensor *t, const char *what) {
  if (ember_dtype_is_float(t->dtype)) return EMBER_OK;
  return ember_op_error(c, "%s must be a floating point tensor, got %s", what,
                        ember_dtype_name(t->dtype));
}

static ember_status need_index(ember_call *c, const ember_tensor *t) {
  if (ember_dtype_is_int(t->dtype)) return EMBER_OK;
  return ember_op_error(c, "indices must be an integer tensor, got %s", ember_dtype_name(t->dtype));
}

static ember_tensor *optional_in(const ember_call *c, int i) {
  return i < c->nin ? c->in[i] : NULL;
}

/* Output 0 like input 0; inputs [0, n) cast to the float compute dtype. */
static void float_like_input(ember_call *c, int n) {
  ember_dtype dt = c->in[0]->dtype;
  c->compute = ember_compute_dtype(dt, EMBER_FLOATS);
  ember_cast_inputs(c, 0, n, c->compute);
  ember_set_out(c, 0, dt, c->in[0]->ndim, c->in[0]->shape);
  c->out_kernel[0] = c->compute;
}

static ember_status infer_linear(ember_call *c) {
  const ember_tensor *x = c->in[0], *w = c->in[1], *b = c->nin > 2 ? c->in[2] : NULL;
  char s1[128], s2[128];
  if (x->ndim < 1 || w->ndim != 2)
    return ember_op_error(c, "expects input with at least 1 dim and a 2-D weight (out x in), "
                          "got shapes %s and %s", ember_shape_str(x, s1, sizeof s1),
                          ember_shape_str(w, s2, sizeof s2));
  if (x->shape[x->ndim - 1] != w->shape[1])
    return ember_op_error(c, "input of shape %s does not fit weight of shape %s (%lld ~= %lld "
                          "in_features)", ember_shape_str(x, s1, sizeof s1),
                          ember_shape_str(w, s2, sizeof s2), (long long)x->shape[x->ndim - 1],
                          (long long)w->shape[1]);
  if (b && (b->ndim > 1 || (b->ndim == 1 && b->shape[0] != w->shape[0] && b->shape[0] != 1)))
    return ember_op_error(c, "bias of shape %s does not fit %lld out_features",
                          ember_shape_str(b, s1, sizeof s1), (long long)w->shape[0]);
  ember_dtype dt = x->dtype;
  if (w->dtype != dt || (b && b->dtype != dt))
    return ember_op_error(c, "expects input, weight and bias of one dtype, got %s, %s and %s",
                          ember_dtype_name(dt), ember_dtype_name(w->dtype),
                          b ? ember_dtype_name(b->dtype) : "none");
  if (dt == EMBER_BOOL) return ember_op_error(c, "not defined for bool tensors");
  int64_t shape[EMBER_MAX_DIMS];
  for (int d = 0; d < x->ndim - 1; d++) shape[d] = x->shape[d];
  shape[x->ndim - 1] = w->shape[0];
  c->compute = ember_compute_dtype(dt, EMBER_FLOATS | EMBER_INTS_NATIVE);
  ember_set_out(c, 0, dt, x->ndim, shape);
  /* the Vulkan GEMM reads f16/bf16 as stored and writes the result in it (as matmul) */
  if ((dt == EMBER_F16 || dt == EMBER_BF16) && ember_call_on_device(c)) return EMBER_OK;
  ember_cast_inputs(c, 0, c->nin, c->compute);
  c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

static ember_status infer_softmax(ember_call *c) {
  int dim;
  if (need_float(c, c->in[0], "input") != EMBER_OK) return EMBER_ERROR;
  if (ember_attr_dim(c, 0, c->in[0]->ndim, &dim) != EMBER_OK) return EMBER_ERROR;
  float_like_input(c, 1);
  return EMBER_OK;
}

static ember_status infer_layer_norm(ember_call *c) {
  const ember_tensor *x = c->in[0];
  const ember_attr *ns = &c->attr[0];
  char s1[128], s2[128];
  if (need_float(c, x, "input") != EMBER_OK) return EMBER_ERROR;
  int bad = ns->n < 1 || ns->n > x->ndim;
  for (int i = 0; !bad && i < ns->n; i++)
    bad = ns->v[i] != x->shape[x->ndim - ns->n + i];
  if (bad)
    return ember_op_error(c, "normalized_shape %s does not match the last dims of input of "
                          "shape %s", ember_shape_text(ns->n, ns->v, s1, sizeof s1),
                          ember_shape_str(x, s2, sizeof s2));
  static const char *const names[] = { NULL, "weight", "bias" };
  for (int k = 1; k < c->nin; k++) {
    const ember_tensor *t = c->in[k];
    if (t == NULL) continue;
    if (need_float(c, t, names[k]) != EMBER_OK) return EMBER_ERROR;
    bad = t->ndim != ns->n;
    for (int i = 0; !bad && i < ns->n; i++) bad = t->shape[i] != ns->v[i];
    if (bad)
      return ember_op_error(c, "%s of shape %s does not match normalized_shape %s", names[k],
                            ember_shape_str(t, s1, sizeof s1),
                            ember_shape_text(ns->n, ns->v, s2, sizeof s2));
  }
  if (c->attr[1].f < 0) return ember_op_error(c, "eps must be >= 0, got %g", c->attr[1].f);
  float_like_input(c, c->nin);
  return EMBER_OK;
}

static ember_status infer_batch_norm(ember_call *c) {
  const ember_tensor *x = c->in[0];
  char s1[128], s2[128];
  if (need_float(c, x, "input") != EMBER_OK) return EMBER_ERROR;
  if (x->ndim < 2)
    return ember_op_error(c, "expects input of shape N x C x ..., got shape %s",
                          ember_shape_str(x, s1, sizeof s1));
  static const char *const names[] = { NULL, "running_mean", "running_var", "weight", "bias" };
  for (int k = 1; k < c->nin; k++) {
    const ember_tensor *t = c->in[k];
    if (t == NULL) continue;
    if (need_float(c, t, names[k]) != EMBER_OK) return EMBER_ERROR;
    if (t->ndim != 1 || t->shape[0] != x->shape[1])
      return ember_op_error(c, "%s of shape %s does not match the %lld channels of input of "
                            "shape %s", names[k], ember_shape_str(t, s1, sizeof s1),
                            (long long)x->shape[1], ember_shape_str(x, s2, sizeof s2));
  }
  if (c->attr[0].f < 0) return ember_op_error(c, "eps must be >= 0, got %g", c->attr[0].f);
  float_like_input(c, c->nin);
  return EMBER_OK;
}

/* The channels (dim 1) of x, and the values per channel, which must be more than one. */
static ember_status train_channels(ember_call *c, const ember_tensor *x, int64_t *ch) {
  char s1[128];
  if (x->ndim < 2)
    return ember_op_error(c, "expects input of shape N x C x ..., got shape %s",
                          ember_shape_str(x, s1, sizeof s1));
  *ch = x->shape[1];
  int64_t per = *ch > 0 ? ember_tensor_numel(x) / *ch : 0;
  if (per <= 1)
    return ember_op_error(c, "expected more than 1 value per channel when training, got input "
                          "of shape %s", ember_shape_str(x, s1, sizeof s1));
  return EMBER_OK;
}

/* A per-channel input: 1-D of ch elements. */
static ember_status channel_input(ember_call *c, const ember_tensor *t, const char *what,
                                  int64_t ch, const ember_tensor *x) {
  char s1[128], s2[128];
  if (t == NULL) return EMBER_OK;
  if (need_float(c, t, what) != EMBER_OK) return EMBER_ERROR;
  if (t->ndim != 1 || t->shape[0] != ch)
    return ember_op_error(c, "%s of shape %s does not match the %lld channels of input of "
                          "shape %s", what, ember_shape_str(t, s1, sizeof s1), (long long)ch,
                          ember_shape_str(x, s2, sizeof s2));
  return EMBER_OK;
}

/* batch_norm_train(input, weight?, bias?) -> y like input, mean and var (C each) */
static ember_status infer_batch_norm_train(ember_call *c) {
  const ember_tensor *x = c->in[0];
  int64_t ch;
  if (need_float(c, x, "input") != EMBER_OK || train_channels(c, x, &ch) != EMBER_OK)
    return EMBER_ERROR;
  if (channel_input(c, optional_in(c, 1), "weight", ch, x) != EMBER_OK ||
      channel_input(c, optional_in(c, 2), "bias", ch, x) != EMBER_OK)
    return EMBER_ERROR;
  if (c->attr[0].f < 0) return ember_op_error(c, "eps must be >= 0, got %g", c->attr[0].f);
  float_like_input(c, c->nin);
  for (int k = 1; k < 3; k++) {
    ember_set_out(c, k, x->dtype, 1, &ch);
    c->out_kernel[k] = c->compute;
  }
  return EMBER_OK;
}

/* batch_norm_train_backward(grad, input, mean, var, weight?) -> grad_input like input,
** and per channel sum(grad) and sum(grad * xhat) */
static ember_status infer_batch_norm_train_backward(ember_call *c) {
  const ember_tensor *g = c->in[0], *x = c->in[1];
  char s1[128], s2[128];
  int64_t ch;
  if (need_float(c, x, "input") != EMBER_OK || train_channels(c, x, &ch) != EMBER_OK)
    return EMBER_ERROR;
  if (!ember_same_shape(g, x))
    return ember_op_error(c, "grad of shape %s does not match input of shape %s",
                          ember_shape_str(g, s1, sizeof s1), ember_shape_str(x, s2, sizeof s2));
  if (channel_input(c, c->in[2], "mean", ch, x) != EMBER_OK ||
      channel_input(c, c->in[3], "var", ch, x) != EMBER_OK ||
      channel_input(c, optional_in(c, 4), "weight", ch, x) != EMBER_OK)
    return EMBER_ERROR;
  ember_dtype dt = x->dtype;
  c->compute = ember_compute_dtype(dt, EMBER_FLOATS);
  ember_cast_inputs(c, 0, c->nin, c->compute);
  ember_set_out(c, 0, dt, x->ndim, x->shape);
  c->out_kernel[0] = c->compute;
  for (int k = 1; k < 3; k++) {
    ember_set_out(c, k, dt, 1, &ch);
    c->out_kernel[k] = c->compute;
  }
  return EMBER_OK;
}

static ember_status infer_embedding(ember_call *c) {
  const ember_tensor *idx = c->in[0], *w = c->in[1];
  char s[128];
  if (need_index(c, idx) != EMBER_OK) return EMBER_ERROR;
  if (w->ndim != 2)
    return ember_op_error(c, "weight must be 2-D (num_embeddings x dim), got shape %s",
                          ember_shape_str(w, s, sizeof s));
  if (idx->ndim + 1 > EMBER_MAX_DIMS)
    return ember_op_error(c, "indices have %d dims (at most %d)", idx->ndim, EMBER_MAX_DIMS - 1);
  int64_t shape[EMBER_MAX_DIMS];
  for (int d = 0; d < idx->ndim; d++) shape[d] = idx->shape[d];
  shape[idx->ndim] = w->shape[1];
  ember_cast_inputs(c, 0, 1, EMBER_I64);
  c->compute = w->dtype;     /* rows are copied as they are, in any dtype */
  ember_set_out(c, 0, w->dtype, idx->ndim + 1, shape);
  return EMBER_OK;
}

static ember_status infer_dropout(ember_call *c) {
  double p = c->attr[0].f;
  if (need_float(c, c->in[0], "input") != EMBER_OK) return EMBER_ERROR;
  if (!(p >= 0 && p <= 1))
    return ember_op_error(c, "probability has to be between 0 and 1, but got %g", p);
  float_like_input(c, 1);
  /* Where the kernel will draw: the stream's key and next counter (reserving 0 draws
  ** moves nothing). The node's copy of the call carries them to backward, which makes
  ** the mask again; a kernel on any device must draw from this same position. */
  ember_attr *s = &c->attr[DROPOUT_STREAM];
  s->present = 1;
  s->n = 2;
  s->v[0] = (int64_t)ember_rng_seed();
  s->v[1] = (int64_t)ember_rng_reserve(0);
  return EMBER_OK;
}

/* dropout_backward(grad, p, stream): stream is the forward's key and counter as four
** 32-bit words, low word first */
static ember_status infer_dropout_backward(ember_call *c) {
  double p = c->attr[0].f;
  const ember_attr *s = &c->attr[1];
  if (need_float(c, c->in[0], "grad") != EMBER_OK) return EMBER_ERROR;
  if (!(p > 0 && p < 1))
    return ember_op_error(c, "p must be between 0 and 1 (exclusive), got %g", p);
  int bad = s->n != 4;
  for (int i = 0; !bad && i < 4; i++) bad = s->v[i] < 0 || s->v[i] > 0xffffffffll;
  if (bad)
    return ember_op_error(c, "stream must be 4 words of 32 bits (key low, key high, counter low, "
                          "counter high)");
  float_like_input(c, 1);
  return EMBER_OK;
}

static ember_status infer_one_hot(ember_call *c) {
  const ember_tensor *idx = c->in[0];
  int64_t classes = c->attr[0].i;
  if (need_index(c, idx) != EMBER_OK) return EMBER_ERROR;
  if (idx->ndim + 1 > EMBER_MAX_DIMS)
    return ember_op_error(c, "indices have %d dims (at most %d)", idx->ndim, EMBER_MAX_DIMS - 1);
  if (classes < -1)
    return ember_op_error(c, "num_classes must be -1 (inferred) or >= 0, got %lld",
                          (long long)classes);
  ember_cast_inputs(c, 0, 1, EMBER_I64);
  c->compute = EMBER_I64;
  int64_t shape[EMBER_MAX_DIMS];
  for (int d = 0; d < idx->ndim; d++) shape[d] = idx->shape[d];
  shape[idx->ndim] = classes;     /* -1 until the kernel has seen the data */
  ember_set_out(c, 0, EMBER_I64, idx->ndim + 1, shape);
  return EMBER_OK;
}

/* }====== */

/* {====== backward rules */

static void drop(ember_tensor *a, ember_tensor *b, ember_tensor *c, ember_tensor *d) {
  ember_tensor_release(a);
  ember_tensor_release(b);
  ember_tensor_release(c);
  ember_tensor_release(d);
}

/* linear(x, w, b) = x @ w^T + b, x's leading dims folded into rows (g likewise):
** dx = g @ w, dw = g^T @ x, db = g summed over the rows. Three calls, each over the
** whole batch; a 1-D x is one row (dw is then an outer product). */
static ember_status grad_linear(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = c->in[0], *w = c->in[1], *go = g[0];
  int64_t nout = w->shape[0], nin = w->shape[1], rows = 1;
  for (int d = 0; d < x->ndim - 1; d++) rows *= x->shape[d];
  int64_t gs[2] = { rows, nout }, xs[2] = { rows, nin };
  ember_tensor *g2 = x->ndim == 2 ? (ember_tensor_retain(go), go) : ember_ag_reshape(go, 2, gs);
  if (g2 == NULL) return EMBER_ERROR;
  ember_status st = EMBER_OK;
  if (ember_needs_grad(c, 0)) {
    ember_tensor *r = ember_ag_mm(g2, w);
    gi[0] = x->ndim == 2 || r == NULL ? r : ember_ag_reshape(r, x->ndim, x->shape);
    if (gi[0] != r) ember_tensor_release(r);
    if (gi[0] == NULL) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && ember_needs_grad(c, 1)) {
    ember_tensor *x2 = x->ndim == 2 ? (ember_tensor_retain(x), x) : ember_ag_reshape(x, 2, xs);
    ember_tensor *gt = ember_ag_transpose(g2, 0, 1);
    gi[1] = ember_ag_mm(gt, x2);
    drop(x2, gt, NULL, NULL);
    if (gi[1] == NULL) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && optional_in(c, 2) && ember_needs_grad(c, 2)) {
    int first = 0;
    gi[2] = ember_ag_sum_dims(g2, 1, &first, 0);  /* the engine sums on to a bias of 1 */
    if (gi[2] == NULL) st = EMBER_ERROR;
  }
  ember_tensor_release(g2);
  return st;
}

/* softmax along dim: dx = y (g - sum(g y)), with y the saved output */
static ember_status grad_softmax(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *y = c->out[0];
  int dim = (int)c->attr[0].i;
  ember_tensor *gy = ember_ag_mul(g[0], y);
  ember_tensor *s = ember_ag_sum_dims(gy, 1, &dim, 1);
  ember_tensor *d = ember_ag_sub(g[0], s);
  gi[0] = ember_ag_mul(y, d);
  drop(gy, s, d, NULL);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

/* log_softmax along dim: dx = g - exp(y) sum(g), exp(y) being the softmax */
static ember_status grad_log_softmax(const ember_call *c, ember_tensor *const *g,
                                     ember_tensor **gi) {
  ember_tensor *y = c->out[0];
  int dim = (int)c->attr[0].i;
  ember_tensor *s = ember_ag_sum_dims(g[0], 1, &dim, 1);
  ember_tensor *p = ember_ag_op("exp", 1, &y, "");
  ember_tensor *ps = ember_ag_mul(p, s);
  gi[0] = ember_ag_sub(g[0], ps);
  drop(s, p, ps, NULL);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static ember_tensor *number(double v) {   /* a Lua-style number: takes the tensor's dtype */
  ember_tensor *k = ember_tensor_scalar(EMBER_F64, v);
  if (k) k->flags |= EMBER_TENSOR_WRAPPED_NUMBER;
  return k;
}

/* layer_norm over the last n dims: with xh = (x - mean) rstd, rstd = 1/sqrt(var + eps)
** (the biased variance, the normalisation's own), and gh = g w,
**   dx = rstd (gh - mean(gh) - xh mean(gh xh)),  dw = sum(g xh),  db = sum(g),
** the means over the normalised dims, the sums over the leading ones. */
static ember_status grad_layer_norm(const ember_call *c, ember_tensor *const *g,
                                    ember_tensor **gi) {
  ember_tensor *x = c->in[0], *w = optional_in(c, 1), *b = optional_in(c, 2);
  int n = c->attr[0].n;
  char mean_attrs[128], var_attrs[160];
  size_t used = (size_t)snprintf(mean_attrs, sizeof mean_attrs, "keepdim=true,dim=");
  for (int i = 0; i < n && used < sizeof mean_attrs; i++)
    used += (size_t)snprintf(mean_attrs + used, sizeof mean_attrs - used, "%s%d", i ? ":" : "",
                             x->ndim - n + i);
  snprintf(var_attrs, sizeof var_attrs, "%s,correction=0", mean_attrs);
  int want_x = ember_needs_grad(c, 0), want_w = w && ember_needs_grad(c, 1);
  if (b && ember_needs_grad(c, 2) && (gi[2] = ember_ag_sum_to(g[0], n, b->shape)) == NULL)
    return EMBER_ERROR;
  if (!want_x && !want_w) return EMBER_OK;
  ember_tensor *mu = ember_ag_op("mean", 1, &x, mean_attrs);
  ember_tensor *var = ember_ag_op("var", 1, &x, var_attrs);
  ember_tensor *eps = number(c->attr[1].f);
  ember_tensor *ve = ember_ag_add(var, eps);
  ember_tensor *rstd = ember_ag_op("rsqrt", 1, &ve, "");
  ember_tensor *xc = ember_ag_sub(x, mu);
  ember_tensor *xh = ember_ag_mul(xc, rstd);
  drop(mu, var, eps, ve);
  ember_tensor_release(xc);
  ember_status st = xh && rstd ? EMBER_OK : EMBER_ERROR;
  if (st == EMBER_OK && want_w) {
    ember_tensor *gx = ember_ag_mul(g[0], xh);
    gi[1] = ember_ag_sum_to(gx, n, w->shape);
    ember_tensor_release(gx);
    if (gi[1] == NULL) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && want_x) {
    ember_tensor *gh = w ? ember_ag_mul(g[0], w) : (ember_tensor_retain(g[0]), g[0]);
    ember_tensor *a = ember_ag_op("mean", 1, &gh, mean_attrs);
    ember_tensor *ghx = ember_ag_mul(gh, xh);
    ember_tensor *m = ember_ag_op("mean", 1, &ghx, mean_attrs);
    ember_tensor *xm = ember_ag_mul(xh, m);
    ember_tensor *t1 = ember_ag_sub(gh, a);
    ember_tensor *t2 = ember_ag_sub(t1, xm);
    gi[0] = ember_ag_mul(t2, rstd);
    drop(gh, a, ghx, m);
    drop(xm, t1, t2, NULL);
    if (gi[0] == NULL) st = EMBER_ERROR;
  }
  drop(rstd, xh, NULL, NULL);
  return st;
}

/* batch_norm, inference form: y = (x - rm) rstd w + b per channel (dim 1), rstd =
** 1/sqrt(rv + eps). dx = g w rstd, dw = sum(g (x - rm) rstd), db = sum(g), the sums
** over every dim but the channel's. The running statistics are not differentiable:
** PyTorch refuses them when they require grad, and so does this rule. */
static ember_status grad_batch_norm(const ember_call *c, ember_tensor *const *g,
                                    ember_tensor **gi) {
  ember_tensor *x = c->in[0], *rm = c->in[1], *rv = c->in[2];
  ember_tensor *w = optional_in(c, 3), *b = optional_in(c, 4);
  if (ember_needs_grad(c, 1) || ember_needs_grad(c, 2))
    return ember_error("backward of batch_norm: running_mean and running_var are not "
                       "differentiable; detach them (or set requires_grad = false)");
  int64_t cs[EMBER_MAX_DIMS];                   /* a channel vector as C x 1 x ... */
  int nd = x->ndim - 1, sum_dims[EMBER_MAX_DIMS], ns = 0;
  for (int d = 0; d < nd; d++) cs[d] = d == 0 ? x->shape[1] : 1;
  for (int d = 0; d < x->ndim; d++)
    if (d != 1) sum_dims[ns++] = d;
  int want_x = ember_needs_grad(c, 0), want_w = w && ember_needs_grad(c, 3);
  if (b && ember_needs_grad(c, 4) && (gi[4] = ember_ag_sum_dims(g[0], ns, sum_dims, 0)) == NULL)
    return EMBER_ERROR;
  if (!want_x && !want_w) return EMBER_OK;
  ember_tensor *k = number(c->attr[0].f);
  ember_tensor *ve = ember_ag_add(rv, k);
  ember_tensor *rstd = ember_ag_op("rsqrt", 1, &ve, "");
  drop(k, ve, NULL, NULL);
  ember_status st = rstd ? EMBER_OK : EMBER_ERROR;
  if (st == EMBER_OK && want_w) {
    ember_tensor *mc = ember_ag_reshape(rm, nd, cs), *rc = ember_ag_reshape(rstd, nd, cs);
    ember_tensor *xc = ember_ag_sub(x, mc);
    ember_tensor *xh = ember_ag_mul(xc, rc);
    ember_tensor *gx = ember_ag_mul(g[0], xh);
    gi[3] = ember_ag_sum_dims(gx, ns, sum_dims, 0);
    drop(mc, rc, xc, xh);
    ember_tensor_release(gx);
    if (gi[3] == NULL) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && want_x) {
    ember_tensor *s = w ? ember_ag_mul(w, rstd) : (ember_tensor_retain(rstd), rstd);
    ember_tensor *sc = ember_ag_reshape(s, nd, cs);
    gi[0] = ember_ag_mul(g[0], sc);
    drop(s, sc, NULL, NULL);
    if (gi[0] == NULL) st = EMBER_ERROR;
  }
  ember_tensor_release(rstd);
  return st;
}

/* batch_norm_train: one kernel gives the input's gradient and, per channel, sum(g) (the
** bias's) and sum(g xhat) (the weight's). The batch statistics it returns are for the
** running averages and carry no gradient (nograd_outs), so only g[0] comes. */
static ember_status grad_batch_norm_train(const ember_call *c, ember_tensor *const *g,
                                          ember_tensor **gi) {
  ember_tensor *w = optional_in(c, 1);
  ember_tensor *in[5] = { g[0], c->in[0], c->out[1], c->out[2], w };
  const ember_op *op = ember_op_find("batch_norm_train_backward");
  if (op == NULL) return ember_error("backward: no op named \"batch_norm_train_backward\"");
  ember_call k;
  ember_call_init(&k, op, w ? 5 : 4, in);
  k.attr[0] = c->attr[0];
  if (ember_dispatch(&k) != EMBER_OK) return EMBER_ERROR;
  gi[0] = ember_needs_grad(c, 0) ? k.out[0] : (ember_tensor_release(k.out[0]), NULL);
  gi[1] = w && ember_needs_grad(c, 1) ? k.out[2] : (ember_tensor_release(k.out[2]), NULL);
  gi[2] = optional_in(c, 2) && ember_needs_grad(c, 2) ? k.out[1]
                                                      : (ember_tensor_release(k.out[1]), NULL);
  return EMBER_OK;
}

/* embedding(indices, w): each row of g is added into the row of w its index picked
** (repeated indices add up): one scatter_add over the indices as a column, expanded
** along the embedding dim */
static ember_status grad_embedding(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *idx = c->in[0], *w = c->in[1];
  if (!ember_needs_grad(c, 1)) return EMBER_OK;
  int64_t n = ember_tensor_numel(idx), dim = w->shape[1];
  int64_t col[2] = { n, 1 }, rows[2] = { n, dim };
  ember_tensor *ic = ember_ag_reshape(idx, 2, col);
  ember_tensor *ie = ember_ag_expand(ic, 2, rows);
  ember_tensor *g2 = ember_ag_reshape(g[0], 2, rows);
  ember_tensor *z = ie && g2 ? ember_ag_zeros(g2, g2->dtype, 2, w->shape) : NULL, *r = NULL;
  if (z) {
    ember_tensor *in[3] = { z, ie, g2 };
    ember_call v;
    ember_call_init(&v, ember_op_find("scatter_add"), 3, in);
    v.index_base = c->index_base;
    v.attr[0].present = 1;
    v.attr[0].i = 0;
    v.inplace = 1;                              /* into the fresh zeros */
    if (ember_dispatch(&v) == EMBER_OK) {
      ember_tensor_release(v.out[0]);
      r = z;
      z = NULL;
    }
  }
  drop(ic, ie, g2, z);
  gi[1] = r;
  return r ? EMBER_OK : EMBER_ERROR;
}

/* dropout: dx = g mask / (1 - p), the mask the forward drew. The output cannot tell
** a dropped element from a kept zero, so the mask is not read back from it: infer
** noted where in the Philox stream the kernel drew (DROPOUT_STREAM), and
** dropout_backward draws the same numbers again. Nothing is kept but two integers. */
static ember_status grad_dropout(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  double p = c->attr[0].f;
  if (!c->attr[1].i || p == 0) {                /* a copy */
    ember_tensor_retain(g[0]);
    gi[0] = g[0];
    return EMBER_OK;
  }
  if (p == 1) return (gi[0] = ember_ag_zeros_like(g[0])) ? EMBER_OK : EMBER_ERROR;
  const ember_attr *s = &c->attr[DROPOUT_STREAM];
  uint64_t key = (uint64_t)s->v[0], counter = (uint64_t)s->v[1];
  ember_tensor *in[1] = { g[0] };
  ember_call v;
  ember_call_init(&v, ember_op_find("dropout_backward"), 1, in);
  v.attr[0].present = 1;
  v.attr[0].f = p;
  v.attr[1].present = 1;
  v.attr[1].n = 4;
  v.attr[1].v[0] = (int64_t)(key & 0xffffffffu);
  v.attr[1].v[1] = (int64_t)(key >> 32);
  v.attr[1].v[2] = (int64_t)(counter & 0xffffffffu);
  v.attr[1].v[3] = (int64_t)(counter >> 32);
  if (ember_dispatch(&v) != EMBER_OK) return EMBER_ERROR;
  gi[0] = v.out[0];
  return EMBER_OK;
}

/* }====== */

static const ember_attr_def dim_attr[] = { {"dim", EMBER_ATTR_DIM, NULL}, {NULL, 0, NULL} };
static const ember_attr_def layer_norm_attrs[] = {
  {"normalized_shape", EMBER_ATTR_INTS, NULL}, {"eps", EMBER_ATTR_FLOAT, "1e-5"}, {NULL, 0, NULL}
};
static const ember_attr_def eps_attr[] = { {"eps", EMBER_ATTR_FLOAT, "1e-5"}, {NULL, 0, NULL} };
static const ember_attr_def dropout_attrs[] = {
  {"p", EMBER_ATTR_FLOAT, "0.5"}, {"training", EMBER_ATTR_BOOL, "true"}, {NULL, 0, NULL}
};
static const ember_attr_def dropout_backward_attrs[] = {
  {"p", EMBER_ATTR_FLOAT, NULL}, {"stream", EMBER_ATTR_INTS, NULL}, {NULL, 0, NULL}
};
static const ember_attr_def one_hot_attrs[] = {
  {"num_classes", EMBER_ATTR_INT, "-1"}, {NULL, 0, NULL}
};

const ember_op ember_ops_nn[] = {
  { .name = "linear", .min_inputs = 2, .max_inputs = 3, .nout = 1,
    .infer = infer_linear, .cpu = ember_cpu_linear, .vulkan = EMBER_VK(vk_linear), .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_linear), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .saves_for = { EMBER_SAVES_IN(1), EMBER_SAVES_IN(0), 0 },
    .doc = "linear(input, weight, bias?) = input @ weight^T + bias; input * x in, weight "
           "out x in, bias out -> * x out; one dtype" },
  { .name = "softmax", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attr,
    .infer = infer_softmax, .cpu = ember_cpu_softmax, .vulkan = EMBER_VK(vk_softmax), .flags = EMBER_OP_BOTH,
    .backward = EMBER_GRAD(grad_softmax), .saves = EMBER_SAVES_OUT(0),
    .doc = "softmax(input, dim): exp(x - max) / sum along dim; float dtypes" },
  { .name = "log_softmax", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attr,
    .infer = infer_softmax, .cpu = ember_cpu_log_softmax, .vulkan = EMBER_VK(vk_log_softmax), .flags = EMBER_OP_BOTH,
    .backward = EMBER_GRAD(grad_log_softmax), .saves = EMBER_SAVES_OUT(0),
    .doc = "log_softmax(input, dim): x - max - log(sum exp(x - max)) along dim; float dtypes" },
  { .name = "layer_norm", .min_inputs = 1, .max_inputs = 3, .nout = 1, .attrs = layer_norm_attrs,
    .infer = infer_layer_norm, .cpu = ember_cpu_layer_norm, .vulkan = EMBER_VK(vk_layer_norm), .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_layer_norm), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1),
    .args = "#1 normalized_shape #2 #3 eps",
    .doc = "layer_norm(input, normalized_shape, weight?, bias?, eps=1e-5): normalise over the "
           "last dims (biased variance); weight and bias of normalized_shape; float dtypes" },
  { .name = "batch_norm", .min_inputs = 3, .max_inputs = 5, .nout = 1, .attrs = eps_attr,
    .infer = infer_batch_norm, .cpu = ember_cpu_batch_norm, .vulkan = EMBER_VK(vk_batch_norm), .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_batch_norm),
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1) | EMBER_SAVES_IN(2) | EMBER_SAVES_IN(3),
    .doc = "batch_norm(input, running_mean, running_var, weight?, bias?, eps=1e-5): inference "
           "form; input N x C x ..., the others C; float dtypes" },
  { .name = "batch_norm_train", .min_inputs = 1, .max_inputs = 3, .nout = 3, .attrs = eps_attr,
    .infer = infer_batch_norm_train, .cpu = ember_cpu_batch_norm_train,
    .vulkan = EMBER_VK(vk_batch_norm_train), .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_batch_norm_train), .nograd_outs = 6,
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_IN(1) | EMBER_SAVES_OUT(1) | EMBER_SAVES_OUT(2),
    .doc = "batch_norm_train(input, weight?, bias?, eps=1e-5) -> y, mean, var: training form, "
           "normalised by each channel's (dim 2) batch mean and biased variance (mean and var "
           "carry no gradient); float dtypes" },
  { .name = "batch_norm_train_backward", .min_inputs = 4, .max_inputs = 5, .nout = 3,
    .attrs = eps_attr, .infer = infer_batch_norm_train_backward,
    .cpu = ember_cpu_batch_norm_train_backward,
    .vulkan = EMBER_VK(vk_batch_norm_train_backward), .flags = 0,
    .doc = "batch_norm_train_backward(grad, input, mean, var, weight?, eps): batch_norm_train's "
           "input gradient, and per channel sum(grad) and sum(grad * xhat)" },
  { .name = "embedding", .min_inputs = 2, .max_inputs = 2, .nout = 1,
    .infer = infer_embedding, .cpu = ember_cpu_embedding, .vulkan = EMBER_VK(vk_embedding),
    .flags = EMBER_OP_FUNCTION,
    .backward = EMBER_GRAD(grad_embedding), .saves = EMBER_SAVES_IN(0),
    .doc = "embedding(indices, weight): rows of weight (n x dim) picked by integer indices "
           "(1-based from Lua) -> indices' shape x dim; any weight dtype" },
  { .name = "dropout", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dropout_attrs,
    .infer = infer_dropout, .cpu = ember_cpu_dropout, .vulkan = EMBER_VK(vk_dropout),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_RANDOM,
    .backward = EMBER_GRAD(grad_dropout),
    .doc = "dropout(input, p=0.5, training=true): zero each element with probability p, scale "
           "the rest by 1/(1-p) (Philox stream); training=false copies; float dtypes" },
  { .name = "dropout_backward", .min_inputs = 1, .max_inputs = 1, .nout = 1,
    .attrs = dropout_backward_attrs, .infer = infer_dropout_backward,
    .cpu = ember_cpu_dropout_backward, .vulkan = EMBER_VK(vk_dropout_backward), .flags = 0,
    .doc = "dropout_backward(grad, p, stream): grad where dropout(p) drawing at stream (key and "
           "counter, 4 words of 32 bits) kept, times 1/(1-p), else 0; float dtypes" },
  { .name = "one_hot", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = one_hot_attrs,
    .infer = infer_one_hot, .cpu = ember_cpu_one_hot, .vulkan = EMBER_VK(vk_one_hot),
    .flags = EMBER_OP_FUNCTION | EMBER_OP_ALLOCS,
    .doc = "one_hot(indices, num_classes=-1): i64 of indices' shape x num_classes; class values "
           "1-based from Lua; -1 takes the largest value" },
  { .name = NULL },
};
