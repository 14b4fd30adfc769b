/*
** ops_reduce.c — op table entries of the reduce family: sum mean prod max min argmax
** argmin var std norm logsumexp all any cumsum.
**
** Dims follow PyTorch: `dim` may be one dim or a list (absent = every dim), negative
** dims count from the end, keepdim leaves reduced dims as size 1. Result dtypes follow
** PyTorch too: sum/prod/cumsum of integers or bools give i64 (or the dtype attribute),
** mean/var/std/norm need a float input, logsumexp turns integers into the default
** float, max/min keep the input dtype, index outputs are i64 (1-based from Lua), all and
** any give bool (u8 for a u8 input, as PyTorch). Kernels: host/cpu/reduce*.c. Backward
** rules follow PyTorch at ties and zeros (max without a dim shares evenly, with a dim
** picks the index; prod handles zeros in the input; norm has a rule per kind of p).
*/
#include <math.h>
#include <stdio.h>

#include "ops.h"
#include "autograd.h"
#include "../cpu/reduce.h"
#include "../vk/vk_kernels.h"

#define REDUCE_NATIVE (EMBER_FLOATS | EMBER_INTS_NATIVE)

/* {====== shape and dtype rules */

/* Output 0 of reducing input 0 over the dims attribute k (keepdim attribute kd). */
static ember_status reduce_out(ember_call *c, int k, int kd, ember_dtype dt, uint32_t *mask) {
  const ember_tensor *x = c->in[0];
  if (ember_reduce_mask(c, k, x->ndim, mask) != EMBER_OK) return EMBER_ERROR;
  int64_t shape[EMBER_MAX_DIMS];
  int n = ember_reduce_shape(x->ndim, x->shape, *mask, (int)c->attr[kd].i, shape);
  ember_set_out(c, 0, dt, n, shape);
  return EMBER_OK;
}

/* Compute in the kernel's dtype nearest `want`; the output is converted back to it. */
static void compute_in(ember_call *c, ember_dtype want, uint32_t native) {
  c->compute = ember_compute_dtype(want, native);
  ember_cast_inputs(c, 0, 1, c->compute);
  c->out_kernel[0] = c->compute;
}

static ember_status need_float(ember_call *c, ember_dtype dt, const char *hint) {
  if (ember_dtype_is_float(dt)) return EMBER_OK;
  return ember_op_error(c, "input dtype %s is not a floating point dtype%s", ember_dtype_name(dt),
                        hint);
}

/* sum, prod: attrs dim, keepdim, dtype. Integers and bools sum in i64. */
static ember_status infer_sum(ember_call *c) {
  ember_dtype in = c->in[0]->dtype;
  ember_dtype rt = c->attr[2].present ? (ember_dtype)c->attr[2].i
                 : ember_dtype_is_float(in) ? in : EMBER_I64;
  uint32_t mask;
  if (reduce_out(c, 0, 1, rt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, rt, REDUCE_NATIVE);
  return EMBER_OK;
}

/* mean: attrs dim, keepdim, dtype. Floats only, as PyTorch (dtype may make it one). */
static ember_status infer_mean(ember_call *c) {
  ember_dtype rt = c->attr[2].present ? (ember_dtype)c->attr[2].i : c->in[0]->dtype;
  if (c->attr[2].present && !ember_dtype_is_float(rt))
    return ember_op_error(c, "dtype %s is not a floating point dtype", ember_dtype_name(rt));
  if (need_float(c, rt, "; mean needs one (convert it, or give dtype = \"f32\")") != EMBER_OK)
    return EMBER_ERROR;
  uint32_t mask;
  if (reduce_out(c, 0, 1, rt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, rt, EMBER_FLOATS);
  return EMBER_OK;
}

/* The DIM attribute 0, normalised (0 for a 0-dim input); the message names the shape. */
static ember_status one_dim(ember_call *c, int *dim) {
  uint32_t mask;
  if (ember_reduce_mask(c, 0, c->in[0]->ndim, &mask) != EMBER_OK) return EMBER_ERROR;
  for (*dim = 0; mask > 1; mask >>= 1) ++*dim;
  return EMBER_OK;
}

/* The one dim of max/min/argmax/argmin, when given: its size must not be 0. */
static ember_status extreme_dim(ember_call *c, int *dim) {
  const ember_tensor *x = c->in[0];
  char s[128];
  *dim = -1;
  if (!c->attr[0].present) {
    if (ember_tensor_numel(x) == 0)
      return ember_op_error(c, "the input of shape %s is empty, and an empty tensor has no %s; "
                            "give a dim to reduce", ember_shape_text(x->ndim, x->shape, s, sizeof s),
                            c->op->name);
    return EMBER_OK;
  }
  if (one_dim(c, dim) != EMBER_OK) return EMBER_ERROR;
  if (x->ndim > 0 && x->shape[*dim] == 0)
    return ember_op_error(c, "cannot reduce dim %d of size 0 (input of shape %s): an empty "
                          "dim has no %s", *dim + c->index_base,
                          ember_shape_text(x->ndim, x->shape, s, sizeof s), c->op->name);
  return EMBER_OK;
}

/* max, min: attrs dim, keepdim. With a dim: values and indices; without: the value. */
static ember_status infer_max(ember_call *c) {
  int dim;
  if (extreme_dim(c, &dim) != EMBER_OK) return EMBER_ERROR;
  const ember_tensor *x = c->in[0];
  uint32_t mask;
  if (reduce_out(c, 0, 1, x->dtype, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, x->dtype, REDUCE_NATIVE);
  c->nout = c->attr[0].present ? 2 : 1;
  if (c->nout == 2) ember_set_out(c, 1, EMBER_I64, c->out_ndim[0], c->out_shape[0]);
  return EMBER_OK;
}

/* argmax, argmin: attrs dim, keepdim; i64 positions (in the flattened input without dim). */
static ember_status infer_argmax(ember_call *c) {
  int dim;
  if (extreme_dim(c, &dim) != EMBER_OK) return EMBER_ERROR;
  uint32_t mask;
  if (reduce_out(c, 0, 1, EMBER_I64, &mask) != EMBER_OK) return EMBER_ERROR;
  c->compute = ember_compute_dtype(c->in[0]->dtype, REDUCE_NATIVE);
  ember_cast_inputs(c, 0, 1, c->compute);
  return EMBER_OK;
}

/* var, std: attrs dim, correction, keepdim. Floats only. */
static ember_status infer_var(ember_call *c) {
  ember_dtype dt = c->in[0]->dtype;
  if (need_float(c, dt, "; var and std need one") != EMBER_OK) return EMBER_ERROR;
  uint32_t mask;
  if (reduce_out(c, 0, 2, dt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, dt, EMBER_FLOATS);
  return EMBER_OK;
}

/* norm: attrs p, dim, keepdim. Floats only. */
static ember_status infer_norm(ember_call *c) {
  ember_dtype dt = c->in[0]->dtype;
  if (need_float(c, dt, "; norm needs one") != EMBER_OK) return EMBER_ERROR;
  if (c->attr[0].f != c->attr[0].f) return ember_op_error(c, "p is NaN");
  uint32_t mask;
  if (reduce_out(c, 1, 2, dt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, dt, EMBER_FLOATS);
  return EMBER_OK;
}

/* logsumexp: attrs dim, keepdim. Integers give the default float dtype. */
static ember_status infer_logsumexp(ember_call *c) {
  ember_dtype dt = c->in[0]->dtype;
  if (!ember_dtype_is_float(dt)) dt = EMBER_DEFAULT_FLOAT;
  uint32_t mask;
  if (reduce_out(c, 0, 1, dt, &mask) != EMBER_OK) return EMBER_ERROR;
  compute_in(c, dt, EMBER_FLOATS);
  return EMBER_OK;
}

/* all, any: attrs dim, keepdim; the kernel reads f32 f64 i64 and bytes natively. */
static ember_status infer_all(ember_call *c) {
  ember_dtype in = c->in[0]->dtype;
  uint32_t mask;
  if (reduce_out(c, 0, 1, in == EMBER_U8 ? EMBER_U8 : EMBER_BOOL, &mask) != EMBER_OK)
    return EMBER_ERROR;
  c->compute = ember_compute_dtype(in, REDUCE_NATIVE | (1u << EMBER_U8) | (1u << EMBER_BOOL));
  ember_cast_inputs(c, 0, 1, c->compute);
  return EMBER_OK;
}

/* cumsum: attrs dim, dtype; same shape; integers and bools sum in i64. */
static ember_status infer_cumsum(ember_call *c) {
  const ember_tensor *x = c->in[0];
  int dim;
  if (!c->attr[0].present) return ember_op_error(c, "needs the dim to sum along");
  if (one_dim(c, &dim) != EMBER_OK) return EMBER_ERROR;
  ember_dtype rt = c->attr[1].present ? (ember_dtype)c->attr[1].i
                 : ember_dtype_is_float(x->dtype) ? x->dtype : EMBER_I64;
  ember_set_out(c, 0, rt, x->ndim, x->shape);
  compute_in(c, rt, REDUCE_NATIVE);
  return EMBER_OK;
}

/* }====== */

static const ember_attr_def sum_attrs[] = {
  {"dim", EMBER_ATTR_DIMS, "none"}, {"keepdim", EMBER_ATTR_BOOL, "false"},
  {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL},
};
static const ember_attr_def dims_attrs[] = {
  {"dim", EMBER_ATTR_DIMS, "none"}, {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def dim_attrs[] = {
  {"dim", EMBER_ATTR_DIM, "none"}, {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def var_attrs[] = {
  {"dim", EMBER_ATTR_DIMS, "none"}, {"correction", EMBER_ATTR_FLOAT, "1"},
  {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def norm_attrs[] = {
  {"p", EMBER_ATTR_FLOAT, "2"}, {"dim", EMBER_ATTR_DIMS, "none"},
  {"keepdim", EMBER_ATTR_BOOL, "false"}, {NULL, 0, NULL},
};
static const ember_attr_def cumsum_attrs[] = {
  {"dim", EMBER_ATTR_DIM, NULL}, {"dtype", EMBER_ATTR_DTYPE, "none"}, {NULL, 0, NULL},
};

#define INDEX_FLAGS (EMBER_OP_BOTH | EMBER_OP_INDEX_OUT)
/* max and min read the input and the value without a dim, the indices with one */
#define EXTREME_SAVES (EMBER_SAVES_IN(0) | EMBER_SAVES_OUT(0) | EMBER_SAVES_OUT(1))

/* {====== backward rules
**
** A reduction's gradient has the result's shape; it goes back to the input's shape in
** two steps: the reduced dims come back as size 1 (kept), then broadcasting spreads it,
** either inside the op that uses it or by an expand (a view: nothing is copied). The
** reduced dims are read with ember_reduce_mask, the rule the kernels use, so an empty
** dim list means every dim here as it does there.
*/

static ember_tensor *number(double v) {   /* a Lua-style number: takes the tensor's dtype */
  ember_tensor *k = ember_tensor_scalar(EMBER_F64, v);
  if (k) k->flags |= EMBER_TENSOR_WRAPPED_NUMBER;
  return k;
}

static void drop(ember_tensor *a, ember_tensor *b, ember_tensor *c, ember_tensor *d) {
  ember_tensor_release(a);
  ember_tensor_release(b);
  ember_tensor_release(c);
  ember_tensor_release(d);
}

static uint32_t reduced(const ember_call *c, int k) {
  uint32_t mask = 0;
  ember_reduce_mask(c, k, c->in[0]->ndim, &mask);   /* infer has checked it */
  return mask;
}

/* How many input elements fold into each element of the result. */
static int64_t fold_count(const ember_call *c, int k) {
  const ember_tensor *x = c->in[0];
  uint32_t mask = reduced(c, k);
  int64_t n = 1;
  for (int d = 0; d < x->ndim; d++)
    if ((mask >> d) & 1) n *= x->shape[d];
  return n;
}

/* The reduced dims of attribute k as attribute text: "dim=0:2" ("dim=none": all). */
static const char *dims_text(const ember_call *c, int k, char *buf, size_t size) {
  int nd = c->in[0]->ndim;
  uint32_t mask = reduced(c, k);
  if (nd == 0 || mask == (1u << nd) - 1) return "dim=none";
  size_t used = (size_t)snprintf(buf, size, "dim=");
  for (int d = 0; d < nd && used < size; d++)
    if ((mask >> d) & 1)
      used += (size_t)snprintf(buf + used, size - used, "%s%d", used > 4 ? ":" : "", d);
  return buf;
}

/* t, a result of reducing over attribute k's dims, with those dims back as size 1 */
static ember_tensor *kept(const ember_call *c, ember_tensor *t, int k, int keepdim) {
  if (t == NULL) return NULL;
  if (keepdim) {
    ember_tensor_retain(t);
    return t;
  }
  const ember_tensor *x = c->in[0];
  uint32_t mask = reduced(c, k);
  int64_t shape[EMBER_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = (mask >> d) & 1 ? 1 : x->shape[d];
  return ember_ag_reshape(t, x->ndim, shape);
}

/* ... and expanded to the input's shape */
static ember_tensor *spread(const ember_call *c, ember_tensor *t, int k, int keepdim) {
  ember_tensor *r = kept(c, t, k, keepdim);
  ember_tensor *e = ember_ag_expand(r, c->in[0]->ndim, c->in[0]->shape);
  ember_tensor_release(r);
  return e;
}

static ember_tensor *op2(const char *name, ember_tensor *a, ember_tensor *b, const char *attrs) {
  ember_tensor *in[2] = { a, b };
  return ember_ag_op(name, 2, in, attrs);
}

static ember_status done(ember_tensor **gi, ember_tensor *r) {
  gi[0] = r;
  return r ? EMBER_OK : EMBER_ERROR;
}

/* sum(x, dim, keepdim): the gradient spread back over the summed dims */
static ember_status grad_sum(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return done(gi, spread(c, g[0], 0, (int)c->attr[1].i));
}

/* mean: as sum, divided by the count (scaled before it is spread: fewer elements) */
static ember_status grad_mean(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *s = ember_ag_scale(g[0], 1.0 / (double)fold_count(c, 0));
  ember_tensor *r = spread(c, s, 0, (int)c->attr[1].i);
  ember_tensor_release(s);
  return done(gi, r);
}

/* prod: each element's gradient is the product of the others, which is out / x where
** x has no zeros. With zeros, as PyTorch: in a run with one zero, the zero gets the
** product of the rest and the others 0; a run with two or more gives 0 to all. One
** rule covers every case without reading values back on the host: the product of the
** rest is prod(x1) / x1, x1 being x with its zeros made 1, zeroed where another zero
** shares the run. */
static ember_status grad_prod(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = c->in[0];
  if (x->ndim == 0) {
    ember_tensor_retain(g[0]);
    return done(gi, g[0]);
  }
  char buf[96], attrs[160];
  const char *dims = dims_text(c, 0, buf, sizeof buf);
  ember_tensor *zero = number(0);
  ember_tensor *z = op2("eq", x, zero, "");
  ember_tensor *x1 = op2("masked_fill", x, z, "value=1");
  snprintf(attrs, sizeof attrs, "%s,keepdim=true,dtype=%s", dims,
           ember_dtype_name(c->out[0]->dtype));
  ember_tensor *p1 = ember_ag_op("prod", 1, &x1, attrs);
  snprintf(attrs, sizeof attrs, "%s,keepdim=true", dims);
  ember_tensor *nz = ember_ag_op("sum", 1, &z, attrs);
  ember_tensor *more = op2("gt", nz, z, "");      /* another zero in the run */
  ember_tensor *rest = ember_ag_div(p1, x1);
  ember_tensor *gk = kept(c, g[0], 0, (int)c->attr[1].i);
  ember_tensor *t = ember_ag_mul(gk, rest);
  ember_tensor *r = op2("masked_fill", t, more, "value=0");
  drop(zero, z, x1, p1);
  drop(nz, more, rest, gk);
  ember_tensor_release(t);
  return done(gi, r);
}

/* max, min. Without a dim (one value): as PyTorch, the gradient is shared evenly by
** every element equal to the result (by the NaNs when the result is NaN). With a dim:
** all of it goes to the position the indices output names, as PyTorch. */
static ember_status grad_extreme(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = c->in[0];
  if (x->ndim == 0) return done(gi, ember_ag_reshape(g[0], 0, NULL));
  if (!c->attr[0].present) {
    ember_tensor *out = c->out[0];
    ember_tensor *at = op2("eq", x, out, "");
    ember_tensor *xn = ember_ag_op("isnan", 1, &x, ""), *on = ember_ag_op("isnan", 1, &out, "");
    ember_tensor *both = op2("logical_and", xn, on, "");
    ember_tensor *mask = op2("logical_or", at, both, "");
    drop(at, xn, on, both);
    ember_tensor *count = ember_ag_op("sum", 1, &mask, "");
    ember_tensor *share = ember_ag_div(g[0], count);
    ember_tensor *zero = number(0);
    ember_tensor *r = ember_ag_where(mask, share, zero);
    drop(mask, count, share, zero);
    return done(gi, r);
  }
  int kd = (int)c->attr[1].i, d = 0;
  for (uint32_t m = reduced(c, 0); m > 1; m >>= 1) d++;
  ember_tensor *gk = kept(c, g[0], 0, kd), *ik = kept(c, c->out[1], 0, kd);
  ember_tensor *r = gk && ik ? ember_ag_zeros(gk, gk->dtype, x->ndim, x->shape) : NULL;
  if (r) {
    ember_tensor *in[3] = { r, ik, gk };
    ember_call v;
    ember_call_init(&v, ember_op_find("scatter"), 3, in);
    v.index_base = c->index_base;
    v.attr[0].present = 1;
    v.attr[0].i = d;
    v.inplace = 1;                              /* into the fresh zeros */
    if (ember_dispatch(&v) == EMBER_OK) ember_tensor_release(v.out[0]);
    else {
      ember_tensor_release(r);
      r = NULL;
    }
  }
  drop(gk, ik, NULL, NULL);
  return done(gi, r);
}

/* var, std (attrs dim, correction, keepdim): d var = 2 (x - mean) / (N - correction);
** d std = d var / (2 std), taken as 0 where std is 0 (as PyTorch, which would
** otherwise give 0/0). The factor is applied to g while it is still small. */
static ember_status grad_var_common(const ember_call *c, ember_tensor *const *g, ember_tensor **gi,
                                    int is_std) {
  ember_tensor *x = c->in[0];
  int kd = (int)c->attr[2].i;
  double dof = (double)fold_count(c, 0) - c->attr[1].f;
  ember_tensor *gv = g[0];
  ember_tensor_retain(gv);
  if (is_std) {
    ember_tensor *zero = number(0);
    ember_tensor *q = ember_ag_div(g[0], c->out[0]);
    ember_tensor *flat = op2("eq", c->out[0], zero, "");
    ember_tensor_release(gv);
    gv = op2("masked_fill", q, flat, "value=0");
    drop(zero, q, flat, NULL);
  }
  ember_tensor *s = ember_ag_scale(gv, (is_std ? 1.0 : 2.0) / dof);
  ember_tensor *gk = kept(c, s, 0, kd);
  char buf[96], attrs[128];
  snprintf(attrs, sizeof attrs, "%s,keepdim=true", dims_text(c, 0, buf, sizeof buf));
  ember_tensor *mu = ember_ag_op("mean", 1, &x, attrs);
  ember_tensor *dev = ember_ag_sub(x, mu);
  ember_tensor *r = ember_ag_mul(gk, dev);
  drop(gv, s, gk, mu);
  ember_tensor_release(dev);
  return done(gi, r);
}

static ember_status grad_var(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return grad_var_common(c, g, gi, 0);
}

static ember_status grad_std(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  return grad_var_common(c, g, gi, 1);
}

/* t ^ e for a number e */
static ember_tensor *power(ember_tensor *t, double e) {
  ember_tensor *k = number(e);
  ember_tensor *r = op2("pow", t, k, "");
  ember_tensor_release(k);
  return r;
}

/* norm (attrs p, dim, keepdim), as PyTorch at each p:
**   p = 0: a count, no gradient;   p = 1: sign(x) g;
**   p = 2: g x / norm, 0 where the norm is 0;
**   p = +-inf: g sign(x) shared evenly by the elements whose |x| is the norm (or NaN);
**   other p: g sign(x) |x|^(p-1) / norm^(p-1), with 0 where the norm is 0 (p > 1) or
**   where x is 0 (p < 1, where |x|^(p-1) is infinite). */
static ember_status grad_norm(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  ember_tensor *x = c->in[0];
  double p = c->attr[0].f;
  int kd = (int)c->attr[2].i;
  if (p == 0) return EMBER_OK;
  ember_tensor *gk = kept(c, g[0], 1, kd), *nk = kept(c, c->out[0], 1, kd), *r = NULL;
  ember_tensor *zero = number(0);
  if (p == 1) {
    ember_tensor *sg = ember_ag_op("sign", 1, &x, "");
    r = ember_ag_mul(sg, gk);
    ember_tensor_release(sg);
  } else if (p == 2) {
    ember_tensor *q = ember_ag_div(x, nk);
    ember_tensor *flat = op2("eq", nk, zero, "");
    ember_tensor *qz = op2("masked_fill", q, flat, "value=0");
    r = ember_ag_mul(gk, qz);
    drop(q, flat, qz, NULL);
  } else if (isinf(p)) {
    char buf[96], attrs[128];
    snprintf(attrs, sizeof attrs, "%s,keepdim=true", dims_text(c, 1, buf, sizeof buf));
    ember_tensor *ax = ember_ag_op("abs", 1, &x, "");
    ember_tensor *at = op2("eq", ax, nk, "");
    ember_tensor *nan = ember_ag_op("isnan", 1, &ax, "");
    ember_tensor *mask = op2("logical_or", at, nan, "");
    drop(ax, at, nan, NULL);
    ember_tensor *count = ember_ag_op("sum", 1, &mask, attrs);
    ember_tensor *share = ember_ag_div(gk, count);
    ember_tensor *sg = ember_ag_op("sign", 1, &x, "");
    ember_tensor *sh = ember_ag_mul(sg, share);
    r = ember_ag_where(mask, sh, zero);
    drop(mask, count, share, sg);
    ember_tensor_release(sh);
  } else {
    ember_tensor *ax = ember_ag_op("abs", 1, &x, "");
    ember_tensor *sg = ember_ag_op("sign", 1, &x, "");
    ember_tensor *scaled, *factor;
    if (p < 1) {           /* sign(x) |x|^(p-1), 0 at x = 0;  g norm^(1-p) */
      ember_tensor *pw = power(ax, p - 1);
      ember_tensor *xz = op2("eq", x, zero, "");
      ember_tensor *sp = ember_ag_mul(sg, pw);
      scaled = op2("masked_fill", sp, xz, "value=0");
      ember_tensor *np = power(nk, 1 - p);
      factor = ember_ag_mul(gk, np);
      drop(pw, xz, sp, np);
    } else {               /* x |x|^(p-2) (or sign(x) |x|^(p-1) below 2);  g / norm^(p-1) */
      ember_tensor *pw = power(ax, p < 2 ? p - 1 : p - 2);
      scaled = ember_ag_mul(p < 2 ? sg : x, pw);
      ember_tensor *np = power(nk, p - 1);
      ember_tensor *q = ember_ag_div(gk, np);
      ember_tensor *flat = op2("eq", nk, zero, "");
      factor = op2("masked_fill", q, flat, "value=0");
      drop(pw, np, q, flat);
    }
    r = ember_ag_mul(scaled, factor);
    drop(ax, sg, scaled, factor);
  }
  drop(gk, nk, zero, NULL);
  return done(gi, r);
}

/* logsumexp: g exp(x - out), the softmax of x over the reduced dims */
static ember_status grad_logsumexp(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  int kd = (int)c->attr[1].i;
  ember_tensor *ok = kept(c, c->out[0], 0, kd), *gk = kept(c, g[0], 0, kd);
  ember_tensor *dx = ember_ag_sub(c->in[0], ok);
  ember_tensor *e = ember_ag_op("exp", 1, &dx, "");
  ember_tensor *r = ember_ag_mul(gk, e);
  drop(ok, gk, dx, e);
  return done(gi, r);
}

/* cumsum: element i feeds every later sum, so its gradient is the sum of g from i to
** the end: a cumsum of g run backwards (flip, cumsum, flip) */
static ember_status grad_cumsum(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  const ember_tensor *x = c->in[0];
  int d = x->ndim ? ember_norm_dim((int)c->attr[0].i, x->ndim) : 0;
  if (x->ndim == 0 || x->shape[d] <= 1) {
    ember_tensor_retain(g[0]);
    return done(gi, g[0]);
  }
  ember_tensor *f = ember_ag_opf("flip", 1, &g[0], "dims=%d", d);
  ember_tensor *s = ember_ag_opf("cumsum", 1, &f, "dim=%d", d);
  ember_tensor *r = ember_ag_opf("flip", 1, &s, "dims=%d", d);
  drop(f, s, NULL, NULL);
  return done(gi, r);
}

/* }====== */

const ember_op ember_ops_reduce[] = {
  { .name = "sum", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = sum_attrs,
    .infer = infer_sum, .cpu = ember_cpu_sum, .vulkan = EMBER_VK(vk_sum), .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_sum),
    .doc = "sum(x, dim=all, keepdim=false, dtype) over one or several dims; int/bool give i64" },
  { .name = "mean", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = sum_attrs,
    .infer = infer_mean, .cpu = ember_cpu_mean, .vulkan = EMBER_VK(vk_mean), .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_mean),
    .doc = "mean(x, dim=all, keepdim=false, dtype); float input (or float dtype) only" },
  { .name = "prod", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = sum_attrs,
    .infer = infer_sum, .cpu = ember_cpu_prod, .vulkan = EMBER_VK(vk_prod), .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_prod),
    .saves = EMBER_SAVES_IN(0),
    .doc = "prod(x, dim=all, keepdim=false, dtype); int/bool give i64; empty gives 1" },
  { .name = "max", .min_inputs = 1, .max_inputs = 1, .nout = 2, .attrs = dim_attrs,
    .infer = infer_max, .cpu = ember_cpu_max, .vulkan = EMBER_VK(vk_max), .flags = INDEX_FLAGS, .backward = EMBER_GRAD(grad_extreme),
    .saves = EXTREME_SAVES,
    .doc = "max(x) -> 0-dim value; max(x, dim, keepdim=false) -> values, i64 indices; NaN wins" },
  { .name = "min", .min_inputs = 1, .max_inputs = 1, .nout = 2, .attrs = dim_attrs,
    .infer = infer_max, .cpu = ember_cpu_min, .vulkan = EMBER_VK(vk_min), .flags = INDEX_FLAGS, .backward = EMBER_GRAD(grad_extreme),
    .saves = EXTREME_SAVES,
    .doc = "min(x) -> 0-dim value; min(x, dim, keepdim=false) -> values, i64 indices; NaN wins" },
  { .name = "argmax", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attrs,
    .infer = infer_argmax, .cpu = ember_cpu_argmax, .vulkan = EMBER_VK(vk_argmax), .flags = INDEX_FLAGS,
    .doc = "argmax(x, dim=none, keepdim=false): i64 index of the first max (NaN wins); "
           "without dim, into the flattened x" },
  { .name = "argmin", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dim_attrs,
    .infer = infer_argmax, .cpu = ember_cpu_argmin, .vulkan = EMBER_VK(vk_argmin), .flags = INDEX_FLAGS,
    .doc = "argmin(x, dim=none, keepdim=false): i64 index of the first min (NaN wins); "
           "without dim, into the flattened x" },
  { .name = "var", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = var_attrs,
    .infer = infer_var, .cpu = ember_cpu_var, .vulkan = EMBER_VK(vk_var), .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_var),
    .saves = EMBER_SAVES_IN(0),
    .doc = "var(x, dim=all, correction=1, keepdim=false): sum((x-mean)^2)/(N-correction); floats" },
  { .name = "std", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = var_attrs,
    .infer = infer_var, .cpu = ember_cpu_std, .vulkan = EMBER_VK(vk_std), .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_std),
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_OUT(0),
    .doc = "std(x, dim=all, correction=1, keepdim=false) = sqrt(var); floats" },
  { .name = "norm", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = norm_attrs,
    .infer = infer_norm, .cpu = ember_cpu_norm, .vulkan = EMBER_VK(vk_norm), .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_norm),
    .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_OUT(0),
    .doc = "norm(x, p=2, dim=all, keepdim=false) = sum(|x|^p)^(1/p); p = inf, -inf: max, "
           "min |x|; p = 0: count of nonzeros; floats" },
  { .name = "logsumexp", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dims_attrs,
    .infer = infer_logsumexp, .cpu = ember_cpu_logsumexp, .vulkan = EMBER_VK(vk_logsumexp), .flags = EMBER_OP_BOTH,
    .backward = EMBER_GRAD(grad_logsumexp), .saves = EMBER_SAVES_IN(0) | EMBER_SAVES_OUT(0),
    .doc = "logsumexp(x, dim=all, keepdim=false) = log(sum(exp(x))), shifted by the max" },
  { .name = "all", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dims_attrs,
    .infer = infer_all, .cpu = ember_cpu_all, .vulkan = EMBER_VK(vk_all), .flags = EMBER_OP_BOTH,
    .doc = "all(x, dim=all, keepdim=false): bool, true when every element is nonzero" },
  { .name = "any", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = dims_attrs,
    .infer = infer_all, .cpu = ember_cpu_any, .vulkan = EMBER_VK(vk_any), .flags = EMBER_OP_BOTH,
    .doc = "any(x, dim=all, keepdim=false): bool, true when some element is nonzero" },
  { .name = "cumsum", .min_inputs = 1, .max_inputs = 1, .nout = 1, .attrs = cumsum_attrs,
    .infer = infer_cumsum, .cpu = ember_cpu_cumsum, .vulkan = EMBER_VK(vk_cumsum), .flags = EMBER_OP_BOTH, .backward = EMBER_GRAD(grad_cumsum),
    .doc = "cumsum(x, dim, dtype): running sums along dim, same shape; int/bool give i64" },
  { .name = NULL },
};
