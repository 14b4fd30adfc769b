/*
** autograd.h — internal API of the autograd engine (engine.c) and the helpers that
** backward rules in host/ops/ops_*.c are written with (grad_util.c).
**
** A rule is a C function over tensors: it calls ops through these helpers, each of
** which returns a new reference, or NULL with the error set. Every helper takes NULL
** inputs and then returns NULL, so a rule can chain calls and check once:
**
**     ember_tensor *t = ember_ag_mul(g, c->in[1]);
**     grad_in[0] = t;                        (NULL here means the error is set)
*/
#ifndef EMBER_AUTOGRAD_H
#define EMBER_AUTOGRAD_H

#include "ops.h"

/* Does the rule of call c have to give a gradient for input i? */
static inline int ember_needs_grad(const ember_call *c, int i) {
  return (c->grad_mask >> (i < 31 ? i : 31)) & 1u;
}

/* {====== calling ops from rules (grad_util.c) */

/* Any op by name with attributes in ember_op_run's text form ("dim=0,keepdim=true");
** the first output. Index attributes are 0-based here. */
ember_tensor *ember_ag_op(const char *name, int nin, ember_tensor *const *in, const char *attrs);
/* The same for ops that read index values from an input tensor (gather, scatter_add,
** index_select, embedding): index_base is the base of those values, which a rule
** passes on from its own call (c->index_base: 1 when the call came from Lua). */
ember_tensor *ember_ag_op_base(int index_base, const char *name, int nin, ember_tensor *const *in,
                               const char *attrs);
/* The same with the attributes printed from a format. */
ember_tensor *ember_ag_opf(const char *name, int nin, ember_tensor *const *in, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 4, 5)))
#endif
  ;

ember_tensor *ember_ag_add(ember_tensor *a, ember_tensor *b);
ember_tensor *ember_ag_sub(ember_tensor *a, ember_tensor *b);
ember_tensor *ember_ag_mul(ember_tensor *a, ember_tensor *b);
ember_tensor *ember_ag_div(ember_tensor *a, ember_tensor *b);
ember_tensor *ember_ag_neg(ember_tensor *a);
ember_tensor *ember_ag_scale(ember_tensor *a, double s);          /* a * s */
ember_tensor *ember_ag_matmul(ember_tensor *a, ember_tensor *b);
ember_tensor *ember_ag_mm(ember_tensor *a, ember_tensor *b);      /* 2-D only */
ember_tensor *ember_ag_transpose(ember_tensor *a, int d0, int d1);/* view; negative dims ok */
ember_tensor *ember_ag_where(ember_tensor *cond, ember_tensor *a, ember_tensor *b);
ember_tensor *ember_ag_zeros_like(const ember_tensor *t);
ember_tensor *ember_ag_full_like(const ember_tensor *t, double v);
/* zeros of dtype dt and that shape on the device of tensor `on` */
ember_tensor *ember_ag_zeros(const ember_tensor *on, ember_dtype dt, int ndim, const int64_t *shape);
ember_tensor *ember_ag_to(ember_tensor *a, ember_dtype dt);
ember_tensor *ember_ag_reshape(ember_tensor *a, int ndim, const int64_t *shape);
ember_tensor *ember_ag_expand(ember_tensor *a, int ndim, const int64_t *shape);
/* Sum over dims[0..n) (0-based, may be negative), keeping them or not. */
ember_tensor *ember_ag_sum_dims(ember_tensor *a, int n, const int *dims, int keepdim);
/* Sum a gradient of a broadcast shape down to ndim/shape (the inverse of broadcasting):
** leading dims summed away, dims of size 1 in shape summed with keepdim. */
ember_tensor *ember_ag_sum_to(ember_tensor *g, int ndim, const int64_t *shape);
/* g as a gradient of input t: summed to its shape, converted to its dtype. */
ember_tensor *ember_ag_like_input(ember_tensor *g, const ember_tensor *t);

/* The gradient of a reduction over dims (attr k of kind DIMS, keepdim flag kd) brought
** back to the input's shape: the reduced dims reinserted as size 1, then expanded. */
ember_tensor *ember_ag_unreduce(const ember_call *c, ember_tensor *g, int dims_attr, int keepdim);

/* }====== */

/* {====== the engine (engine.c) */

/* Free what autograd hangs off a tensor (installed as ember_autograd_free_hook). */
void ember_autograd_free_meta(ember_tensor *t);

/* How many graph nodes are alive (specs check that graphs are freed). */
long ember_autograd_live_nodes(void);

/* }====== */

#endif
