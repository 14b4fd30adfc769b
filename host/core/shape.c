/*
** shape.c — shapes, strides, broadcasting and type promotion.
*/
#include <stdio.h>
#include <string.h>

#include "core.h"

int ember_norm_dim(int dim, int ndim) {
  int n = ndim == 0 ? 1 : ndim;   /* a scalar accepts dim 0 and -1, as in PyTorch */
  if (dim < -n || dim >= n) return -1;
  return dim < 0 ? dim + n : dim;
}

int64_t ember_shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

void ember_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    stride[i] = s;
    s *= shape[i] > 1 ? shape[i] : 1;
  }
}

int ember_same_shape(const ember_tensor *a, const ember_tensor *b) {
  return a->ndim == b->ndim && memcmp(a->shape, b->shape, a->ndim * sizeof a->shape[0]) == 0;
}

char *ember_shape_text(int ndim, const int64_t *shape, char *buf, size_t n) {
  if (ndim == 0) {
    snprintf(buf, n, "[]");
    return buf;
  }
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < ndim && len < n; i++)
    len += snprintf(buf + len, n - len, i ? "x%lld" : "%lld", (long long)shape[i]);
  return buf;
}

ember_status ember_broadcast_shapes(const char *op, int na, const int64_t *a, int nb,
                                    const int64_t *b, int *nout, int64_t *out) {
  if (na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0) {   /* the common case */
    if (out != a) memmove(out, a, (size_t)na * sizeof *a);
    *nout = na;
    return EMBER_OK;
  }
  int n = na > nb ? na : nb;
  int64_t res[EMBER_MAX_DIMS];   /* out may alias a or b: build the result aside */
  if (n > EMBER_MAX_DIMS) return ember_error("%s: more than %d dims", op, EMBER_MAX_DIMS);
  for (int i = 0; i < n; i++) {
    int ia = na - n + i, ib = nb - n + i;
    int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char x[128], y[128];
      return ember_error("%s: shapes %s and %s cannot be broadcast (size %lld vs %lld in dim %d)",
                         op, ember_shape_text(na, a, x, sizeof x),
                         ember_shape_text(nb, b, y, sizeof y), (long long)sa, (long long)sb,
                         i + 1);
    }
    res[i] = sa == 1 ? sb : sa;
  }
  for (int i = 0; i < n; i++) out[i] = res[i];
  *nout = n;
  return EMBER_OK;
}

void ember_broadcast_strides(const ember_tensor *t, int ndim, const int64_t *shape,
                             int64_t *stride) {
  for (int i = 0; i < ndim; i++) {
    int it = t->ndim - ndim + i;
    stride[i] = (it < 0 || (t->shape[it] == 1 && shape[i] != 1)) ? 0 : t->stride[it];
  }
}

/* {====== type promotion */

/* Two operands of one dtype give that dtype, unless both are Lua numbers. */
static ember_dtype result_type_same(const ember_tensor *t, const ember_tensor *u) {
  if (!(t->flags & u->flags & EMBER_TENSOR_WRAPPED_NUMBER)) return t->dtype;
  return ember_dtype_is_float(t->dtype) ? EMBER_DEFAULT_FLOAT : t->dtype == EMBER_BOOL ? EMBER_BOOL : EMBER_I64;
}

static int category(ember_dtype dt) {
  if (dt == EMBER_BOOL) return 0;
  return ember_dtype_is_float(dt) ? 2 : 1;
}

/* The smallest dtype that holds both, as torch.promote_types. */
ember_dtype ember_promote_types(ember_dtype a, ember_dtype b) {
  if (a == b) return a;
  int ca = category(a), cb = category(b);
  if (ca != cb) {
    if (ca < cb) { ember_dtype t = a; a = b; b = t; }
    return a;    /* the higher category wins whole: i64 + f16 -> f16, as in PyTorch */
  }
  if (ca == 2) {
    if (a == EMBER_F64 || b == EMBER_F64) return EMBER_F64;
    if (a == EMBER_F32 || b == EMBER_F32) return EMBER_F32;
    return EMBER_F32;   /* f16 with bf16 */
  }
  /* integers: u8 with a signed type needs the next wider signed type */
  if (a == EMBER_U8 || b == EMBER_U8) {
    ember_dtype s = a == EMBER_U8 ? b : a;
    return s == EMBER_I8 ? EMBER_I16 : s;
  }
  return ember_dtype_size(a) > ember_dtype_size(b) ? a : b;
}

ember_dtype ember_result_type(int n, ember_tensor *const *t) {
  if (n == 2 && t[0] && t[1] && t[0]->dtype == t[1]->dtype)   /* the common case */
    return result_type_same(t[0], t[1]);
  /* three tiers: tensors with dims, 0-dim tensors, wrapped numbers */
  ember_dtype tier[3] = { EMBER_DTYPE_NONE, EMBER_DTYPE_NONE, EMBER_DTYPE_NONE };
  for (int i = 0; i < n; i++) {
    if (t[i] == NULL) continue;
    int k = (t[i]->flags & EMBER_TENSOR_WRAPPED_NUMBER) ? 2 : t[i]->ndim == 0 ? 1 : 0;
    ember_dtype d = t[i]->dtype;
    if (k == 2) /* a Lua number stands for its category's default dtype */
      d = ember_dtype_is_float(d) ? EMBER_DEFAULT_FLOAT : d == EMBER_BOOL ? EMBER_BOOL : EMBER_I64;
    tier[k] = tier[k] == EMBER_DTYPE_NONE ? d : ember_promote_types(tier[k], d);
  }
  ember_dtype r = EMBER_DTYPE_NONE;
  for (int k = 0; k < 3; k++) {
    if (tier[k] == EMBER_DTYPE_NONE) continue;
    if (r == EMBER_DTYPE_NONE) r = tier[k];
    else if (category(tier[k]) > category(r)) r = tier[k];
  }
  return r == EMBER_DTYPE_NONE ? EMBER_DEFAULT_FLOAT : r;
}

/* }====== */
