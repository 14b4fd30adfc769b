/*
** grad_util.c — the ops backward rules are written with. Each goes through the
** dispatcher like any call (same checks, same kernels, any device); the ones every
** training step uses skip the parsing of attribute text.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"

/* The first output of a dispatched call; the others are released. */
static ember_tensor *finish_outputs_first(ember_call *c) {
  for (int k = 1; k < c->nout; k++) ember_tensor_release(c->out[k]);
  return c->out[0];
}

/* One call of op on in[0..nin) with attrs already set by the caller; first output. */
static ember_tensor *finish(ember_call *c) {
  if (ember_dispatch(c) != EMBER_OK) return NULL;
  return finish_outputs_first(c);
}

static const ember_op *op_named(const ember_op **cache, const char *name) {
  if (*cache == NULL) *cache = ember_op_find(name);
  return *cache;
}

static ember_tensor *binary(const ember_op *op, ember_tensor *a, ember_tensor *b) {
  if (a == NULL || b == NULL) return NULL;
  ember_tensor *in[2] = { a, b };
  ember_call c;
  ember_call_init(&c, op, 2, in);
  return finish(&c);
}

static ember_tensor *unary(const ember_op *op, ember_tensor *a) {
  if (a == NULL) return NULL;
  ember_call c;
  ember_call_init(&c, op, 1, &a);
  return finish(&c);
}

static const ember_op *op_add, *op_sub, *op_mul, *op_div, *op_neg, *op_matmul, *op_mm,
                      *op_transpose, *op_where, *op_sum, *op_reshape, *op_expand;

ember_tensor *ember_ag_add(ember_tensor *a, ember_tensor *b) {
  return binary(op_named(&op_add, "add"), a, b);
}
ember_tensor *ember_ag_sub(ember_tensor *a, ember_tensor *b) {
  return binary(op_named(&op_sub, "sub"), a, b);
}
ember_tensor *ember_ag_mul(ember_tensor *a, ember_tensor *b) {
  return binary(op_named(&op_mul, "mul"), a, b);
}
ember_tensor *ember_ag_div(ember_tensor *a, ember_tensor *b) {
  return binary(op_named(&op_div, "div"), a, b);
}
ember_tensor *ember_ag_matmul(ember_tensor *a, ember_tensor *b) {
  return binary(op_named(&op_matmul, "matmul"), a, b);
}
ember_tensor *ember_ag_mm(ember_tensor *a, ember_tensor *b) {
  return binary(op_named(&op_mm, "mm"), a, b);
}
ember_tensor *ember_ag_neg(ember_tensor *a) { return unary(op_named(&op_neg, "neg"), a); }

/* a * s with s a wrapped number: the result keeps a's dtype */
ember_tensor *ember_ag_scale(ember_tensor *a, double s) {
  if (a == NULL) return NULL;
  ember_tensor *k = ember_tensor_scalar(EMBER_F64, s);
  if (k == NULL) return NULL;
  k->flags |= EMBER_TENSOR_WRAPPED_NUMBER;
  ember_tensor *r = ember_ag_mul(a, k);
  ember_tensor_release(k);
  return r;
}

ember_tensor *ember_ag_transpose(ember_tensor *a, int d0, int d1) {
  if (a == NULL) return NULL;
  ember_call c;
  ember_call_init(&c, op_named(&op_transpose, "transpose"), 1, &a);
  c.attr[0].present = c.attr[1].present = 1;
  c.attr[0].i = d0;
  c.attr[1].i = d1;
  return finish(&c);
}

ember_tensor *ember_ag_where(ember_tensor *cond, ember_tensor *a, ember_tensor *b) {
  if (cond == NULL || a == NULL || b == NULL) return NULL;
  ember_tensor *in[3] = { cond, a, b };
  ember_call c;
  ember_call_init(&c, op_named(&op_where, "where"), 3, in);
  return finish(&c);
}

ember_tensor *ember_ag_zeros(const ember_tensor *on, ember_dtype dt, int ndim, const int64_t *shape) {
  return ember_tensor_zeros_on(on->storage->device, dt, ndim, shape);
}

ember_tensor *ember_ag_zeros_like(const ember_tensor *t) {
  if (t == NULL) return NULL;
  return ember_tensor_zeros_on(t->storage->device, t->dtype, t->ndim, t->shape);
}

ember_tensor *ember_ag_full_like(const ember_tensor *t, double v) {
  if (t == NULL) return NULL;
  ember_tensor *r = ember_tensor_empty_on(t->storage->device, t->dtype, t->ndim, t->shape);
  if (r && ember_fill_(r, v) != EMBER_OK) {
    ember_tensor_release(r);
    return NULL;
  }
  return r;
}

ember_tensor *ember_ag_to(ember_tensor *a, ember_dtype dt) {
  if (a == NULL) return NULL;
  return ember_to_dtype(a, dt);
}

static ember_tensor *shaped(const ember_op *op, ember_tensor *a, int ndim, const int64_t *shape) {
  if (a == NULL) return NULL;
  ember_call c;
  ember_call_init(&c, op, 1, &a);
  c.attr[0].present = 1;
  c.attr[0].n = ndim;
  if (ndim > 0) memcpy(c.attr[0].v, shape, ndim * sizeof *shape);
  return finish(&c);
}

ember_tensor *ember_ag_reshape(ember_tensor *a, int ndim, const int64_t *shape) {
  return shaped(op_named(&op_reshape, "reshape"), a, ndim, shape);
}

ember_tensor *ember_ag_expand(ember_tensor *a, int ndim, const int64_t *shape) {
  return shaped(op_named(&op_expand, "expand"), a, ndim, shape);
}

ember_tensor *ember_ag_sum_dims(ember_tensor *a, int n, const int *dims, int keepdim) {
  if (a == NULL) return NULL;
  const ember_op *op = op_named(&op_sum, "sum");
  ember_call c;
  ember_call_init(&c, op, 1, &a);
  int kd = ember_op_attr_index(op, "dim"), kk = ember_op_attr_index(op, "keepdim");
  c.attr[kd].present = 1;
  c.attr[kd].n = n;
  for (int i = 0; i < n; i++) c.attr[kd].v[i] = dims[i];
  c.attr[kk].present = 1;
  c.attr[kk].i = keepdim != 0;
  return finish(&c);
}

ember_tensor *ember_ag_sum_to(ember_tensor *g, int ndim, const int64_t *shape) {
  if (g == NULL) return NULL;
  if (g->ndim == ndim && memcmp(g->shape, shape, ndim * sizeof *shape) == 0) {
    ember_tensor_retain(g);
    return g;
  }
  int lead = g->ndim - ndim;
  if (lead < 0) {
    char a[96], b[96];
    ember_error("backward: gradient of shape %s does not broadcast from shape %s",
                ember_shape_str(g, a, sizeof a), ember_shape_text(ndim, shape, b, sizeof b));
    return NULL;
  }
  int dims[EMBER_MAX_DIMS], n = 0;
  for (int d = 0; d < g->ndim; d++) {
    int64_t want = d < lead ? 1 : shape[d - lead];
    if (d < lead || (want == 1 && g->shape[d] != 1)) dims[n++] = d;
    else if (want != g->shape[d]) {
      char a[96], b[96];
      ember_error("backward: gradient of shape %s does not broadcast from shape %s",
                  ember_shape_str(g, a, sizeof a), ember_shape_text(ndim, shape, b, sizeof b));
      return NULL;
    }
  }
  ember_tensor *s = n ? ember_ag_sum_dims(g, n, dims, 1) : (ember_tensor_retain(g), g);
  if (s == NULL) return NULL;
  if (s->ndim == ndim) return s;
  ember_tensor *r = ember_ag_reshape(s, ndim, shape);
  ember_tensor_release(s);
  return r;
}

/* Summed down to t's shape, converted to its dtype and, for copy_ across devices, moved
** to its device: a gradient lives where its tensor does. */
ember_tensor *ember_ag_like_input(ember_tensor *g, const ember_tensor *t) {
  if (g == NULL) return NULL;
  ember_tensor *s = ember_ag_sum_to(g, t->ndim, t->shape);
  if (s && s->storage->device != t->storage->device) {
    ember_tensor *m = ember_to_device(s, t->storage->device);
    ember_tensor_release(s);
    s = m;
  }
  if (s == NULL || s->dtype == t->dtype) return s;
  ember_tensor *r = ember_to_dtype(s, t->dtype);
  ember_tensor_release(s);
  return r;
}

ember_tensor *ember_ag_unreduce(const ember_call *c, ember_tensor *g, int dims_attr, int keepdim) {
  if (g == NULL) return NULL;
  const ember_tensor *x = c->in[0];
  int64_t kept[EMBER_MAX_DIMS];
  memcpy(kept, x->shape, x->ndim * sizeof *kept);
  const ember_attr *a = &c->attr[dims_attr];
  if (!a->present || a->n == 0) {             /* all dims, as the reduce kernels read it */
    for (int d = 0; d < x->ndim; d++) kept[d] = 1;
  } else {
    for (int i = 0; i < a->n; i++) {
      int64_t d = a->v[i] < 0 ? a->v[i] + x->ndim : a->v[i];
      if (d >= 0 && d < x->ndim) kept[d] = 1;
    }
  }
  ember_tensor *r = keepdim ? (ember_tensor_retain(g), g) : ember_ag_reshape(g, x->ndim, kept);
  if (r == NULL) return NULL;
  ember_tensor *e = ember_ag_expand(r, x->ndim, x->shape);
  ember_tensor_release(r);
  return e;
}

ember_tensor *ember_ag_op_base(int index_base, const char *name, int nin, ember_tensor *const *in,
                               const char *attrs) {
  for (int i = 0; i < nin; i++)
    if (in[i] == NULL) return NULL;
  const ember_op *op = ember_op_find(name);
  if (op == NULL) {
    ember_error("backward: no op named \"%s\"", name);
    return NULL;
  }
  ember_tensor *inline_in[EMBER_INLINE_INPUTS];
  ember_tensor **inp = nin <= EMBER_INLINE_INPUTS ? inline_in : malloc(nin * sizeof *inp);
  if (inp == NULL) {
    ember_error("backward: out of memory");
    return NULL;
  }
  if (nin > 0) memcpy(inp, in, nin * sizeof *inp);
  ember_call c;
  char buf[512];
  ember_call_init(&c, op, nin, inp);
  c.index_base = index_base;
  ember_tensor *r = NULL;
  if (ember_call_parse_attrs(&c, attrs, buf, sizeof buf) == EMBER_OK && ember_dispatch(&c) == EMBER_OK) {
    if (op->flags & EMBER_OP_LIST_OUT) {
      r = c.nlist > 0 ? c.list_out[0] : NULL;
      for (int k = 1; k < c.nlist; k++) ember_tensor_release(c.list_out[k]);
      free(c.list_out);
    } else {
      r = finish_outputs_first(&c);
    }
  }
  if (inp != inline_in) free(inp);
  return r;
}

ember_tensor *ember_ag_op(const char *name, int nin, ember_tensor *const *in, const char *attrs) {
  return ember_ag_op_base(0, name, nin, in, attrs);
}

ember_tensor *ember_ag_opf(const char *name, int nin, ember_tensor *const *in, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return ember_ag_op(name, nin, in, buf);
}
