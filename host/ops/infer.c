/*
** infer.c — helpers shared by the ops' shape and dtype rules.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

ember_status ember_op_error(const ember_call *c, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ember_error("%s: %s", c->op->name, msg);
}

void ember_set_out(ember_call *c, int k, ember_dtype dt, int ndim, const int64_t *shape) {
  c->out_dtype[k] = dt;
  c->out_ndim[k] = ndim;
  if (ndim) memcpy(c->out_shape[k], shape, ndim * sizeof *shape);
}

ember_dtype ember_compute_dtype(ember_dtype want, uint32_t native) {
  if (native & (1u << want)) return want;
  static const ember_dtype float_order[] = { EMBER_F32, EMBER_F64 };
  static const ember_dtype int_order[] = { EMBER_I64, EMBER_I32, EMBER_F64, EMBER_F32 };
  const ember_dtype *order = ember_dtype_is_float(want) ? float_order : int_order;
  int n = ember_dtype_is_float(want) ? 2 : 4;
  for (int i = 0; i < n; i++)
    if ((native & (1u << order[i])) && ember_dtype_size(order[i]) >= ember_dtype_size(want))
      return order[i];
  for (int d = EMBER_DTYPE_COUNT - 1; d >= 0; d--)   /* the kernel's widest */
    if (native & (1u << d)) return (ember_dtype)d;
  return want;
}

void ember_cast_inputs(ember_call *c, int first, int n, ember_dtype dt) {
  for (int i = first; i < first + n && i < c->nin && i < EMBER_INLINE_INPUTS; i++)
    if (c->in[i] && c->in[i]->dtype != dt) c->in_cast[i] = dt;
}

ember_status ember_broadcast_inputs(ember_call *c, int n, int *nd, int64_t *shape) {
  int started = 0;
  *nd = 0;
  for (int i = 0; i < n; i++) {
    const ember_tensor *t = c->in[i];
    if (t == NULL) continue;
    if (!started) {
      *nd = t->ndim;
      memcpy(shape, t->shape, t->ndim * sizeof *shape);
      started = 1;
    } else if (ember_broadcast_shapes(c->op->name, *nd, shape, t->ndim, t->shape, nd, shape) != EMBER_OK) {
      return EMBER_ERROR;
    }
  }
  return EMBER_OK;
}

ember_status ember_infer_broadcast(ember_call *c, int n, ember_dtype out_dt, uint32_t native) {
  int nd;
  int64_t shape[EMBER_MAX_DIMS];
  if (ember_broadcast_inputs(c, n, &nd, shape) != EMBER_OK) return EMBER_ERROR;
  ember_dtype rt = ember_result_type(n, c->in);
  c->compute = ember_compute_dtype(rt, native);
  ember_cast_inputs(c, 0, n, c->compute);
  ember_set_out(c, 0, out_dt == EMBER_DTYPE_NONE ? rt : out_dt, nd, shape);
  if (out_dt == EMBER_DTYPE_NONE) c->out_kernel[0] = c->compute;
  return EMBER_OK;
}

ember_status ember_attr_dim(ember_call *c, int k, int ndim, int *dim) {
  int d = ember_norm_dim((int)c->attr[k].i, ndim);
  if (d < 0)
    return ember_op_error(c, "dim %lld out of range for a tensor with %d dims",
                          (long long)c->attr[k].i + (c->index_base && c->attr[k].i >= 0 ? 1 : 0), ndim);
  *dim = d;
  return EMBER_OK;
}
