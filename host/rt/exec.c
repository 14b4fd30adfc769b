/*
** exec.c — runs a loaded program on the CPU. Every value's header was made at load;
** shapes are worked out once, and again only after an input's shape changed
** (rt_update_shapes, which also lets each op's own infer check them). Execute then
** calls each node's kernel straight from the op table on headers over the arena:
** no dispatcher, no allocation, no shape work.
*/
#include <string.h>
#include <time.h>

#include "rt.h"

/* The header of a view op's output: the op's own view maker fills the header it is
** given (the runtime owns it). A maker that made its own header instead has it copied. */
static ember_rt_status make_view(ember_rt_program *p, rt_node *n) {
  ember_call *c = &n->call;
  ember_tensor *want = &p->values[n->out[0]].t;
  c->out[0] = want;
  if (c->op->cpu(c) != EMBER_OK)
    return rt_fail(EMBER_RT_ERROR_EXECUTE, "node %d (%s): %s", (int)(n - p->nodes), c->op->name,
                   ember_last_error());
  if (c->out[0] != want) {
    ember_tensor *made = c->out[0];
    want->ndim = made->ndim;
    memcpy(want->shape, made->shape, sizeof want->shape);
    memcpy(want->stride, made->stride, sizeof want->stride);
    want->offset = made->offset;
    want->storage = made->storage;
    want->dtype = made->dtype;
    /* the maker retained the storage for its header; the program's header shares
       the storage of a value that outlives it, so the reference goes back */
    ember_tensor_release(made);
    c->out[0] = want;
  }
  return EMBER_RT_OK;
}

/* Node n only moves strides: its outputs are views. */
static int is_view_node(const ember_rt_program *p, const rt_node *n) {
  return (n->op->flags & EMBER_OP_VIEW) && p->values[n->out[0]].is_view;
}

ember_rt_status rt_update_shapes(ember_rt_program *p) {
  for (int k = 0; k < p->ninputs; k++) {
    rt_value *v = &p->values[p->inputs[k].value];
    memcpy(v->t.shape, p->inputs[k].shape, sizeof v->t.shape);
    ember_contiguous_strides(v->ndim, v->t.shape, v->t.stride);
    v->t.offset = 0;
  }
  for (int i = 0; i < p->nnodes; i++) {
    rt_node *n = &p->nodes[i];
    ember_call *c = &n->call;
    for (int s = 0; s < n->nsym; s++) {
      ember_attr *a = &c->attr[n->sym[s].k];
      int64_t x = rt_eval(p, &n->sym[s].e);
      if (n->sym[s].j >= 0) a->v[n->sym[s].j] = x;
      else { a->i = x; a->f = (double)x; }
    }
    int ncast = n->nin < EMBER_INLINE_INPUTS ? n->nin : EMBER_INLINE_INPUTS;
    for (int j = 0; j < ncast; j++) {
      c->in_cast[j] = EMBER_DTYPE_NONE;
      c->in_user[j] = c->in[j];
      c->in_owned[j] = NULL;
    }
    for (int k = 0; k < EMBER_MAX_OUTPUTS; k++) {
      c->out[k] = NULL;
      c->out_kernel[k] = EMBER_DTYPE_NONE;
    }
    c->nout = n->op->nout;
    c->inplace = n->inplace;
    c->compute = EMBER_DTYPE_NONE;
    if (n->op->infer(c) != EMBER_OK)
      return rt_fail(EMBER_RT_ERROR_EXECUTE, "node %d (%s): %s", i, n->op->name, ember_last_error());
    int view = is_view_node(p, n);
    if (c->nout != n->nout)
      return rt_fail(EMBER_RT_ERROR_FORMAT, "program: node %d (%s) makes %d outputs, the file says %d",
                     i, n->op->name, c->nout, n->nout);
    for (int j = 0; j < ncast && !(n->op->flags & EMBER_OP_VIEW); j++)
      if (c->in_cast[j] != EMBER_DTYPE_NONE && c->in_cast[j] != c->in[j]->dtype)
        return rt_fail(EMBER_RT_ERROR_FORMAT, "program: node %d (%s) would need input %d converted "
                       "to %s; a program makes every conversion a node", i, n->op->name, j + 1,
                       ember_dtype_name(c->in_cast[j]));
    /* what the op gives: a view's maker fills its header; a copying view op's infer
    ** checks only attributes (its maker sizes the copy as the file says); others infer */
    if (view && make_view(p, n) != EMBER_RT_OK) return EMBER_RT_ERROR_EXECUTE;
    for (int k = 0; k < n->nout; k++) {
      rt_value *v = &p->values[n->out[k]];
      int64_t shape[EMBER_MAX_DIMS];
      for (int d = 0; d < v->ndim; d++) shape[d] = rt_eval(p, &v->dim[d]);
      ember_dtype gd = c->out_kernel[k] != EMBER_DTYPE_NONE ? c->out_kernel[k] : c->out_dtype[k];
      int gn = c->out_ndim[k];
      const int64_t *gs = c->out_shape[k];
      if (view) {
        gd = v->t.dtype, gn = v->t.ndim, gs = v->t.shape;
      } else if (n->op->flags & EMBER_OP_VIEW) {
        gd = v->dtype, gn = v->ndim, gs = shape;
      }
      if (gd != v->dtype || gn != v->ndim || memcmp(gs, shape, (size_t)v->ndim * sizeof shape[0]) != 0) {
        char a[128], b[128];
        return rt_fail(EMBER_RT_ERROR_FORMAT, "program: node %d (%s) output %d is %s %s, the file "
                       "says %s %s", i, n->op->name, k + 1, ember_dtype_name(gd),
                       ember_shape_text(gn, gs, a, sizeof a), ember_dtype_name(v->dtype),
                       ember_shape_text(v->ndim, shape, b, sizeof b));
      }
      if (!v->is_view) {
        memcpy(v->t.shape, shape, sizeof shape);
        ember_contiguous_strides(v->ndim, v->t.shape, v->t.stride);
      }
      c->out[k] = &v->t;
    }
  }
  p->shapes_dirty = 0;
  return EMBER_RT_OK;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Index values cross the API 0-based; the graph reads them with its own base. They are
** integers (the loader refuses an index value of another dtype), and adding modulo 2^bits
** gives the same bits signed or unsigned, as ember_store_i64's wrapping does: only the
** element's width matters. (ember_load_i64 and ember_store_i64 would bring along their
** float paths, and with them the minifloat codecs, which a runtime without ops never needs.) */
void rt_shift_index(ember_dtype dt, void *dst, const void *src, int64_t n, int64_t by) {
  size_t es = ember_dtype_size(dt);
  for (int64_t i = 0; i < n; i++)
    switch (es) {
    case 1: ((uint8_t *)dst)[i] = (uint8_t)(((const uint8_t *)src)[i] + (uint64_t)by); break;
    case 2: ((uint16_t *)dst)[i] = (uint16_t)(((const uint16_t *)src)[i] + (uint64_t)by); break;
    case 4: ((uint32_t *)dst)[i] = (uint32_t)(((const uint32_t *)src)[i] + (uint64_t)by); break;
    default: ((uint64_t *)dst)[i] = ((const uint64_t *)src)[i] + (uint64_t)by; break;
    }
}

void rt_index_inputs(ember_rt_program *p) {
  if (p->index_base == 0) return;
  for (int k = 0; k < p->ninputs; k++) {
    rt_value *v = &p->values[p->inputs[k].value];
    if (v->is_index)
      rt_shift_index(v->dtype, v->t.storage->data, p->inputs[k].data, ember_tensor_numel(&v->t), p->index_base);
  }
}

void rt_index_outputs(ember_rt_program *p) {
  if (p->index_base == 0) return;
  for (int k = 0; k < p->noutputs; k++) {
    rt_value *v = &p->values[p->outputs[k].value];
    if (v->is_index) {
      void *data = ember_tensor_data(&v->t);
      rt_shift_index(v->dtype, data, data, ember_tensor_numel(&v->t), -p->index_base);
    }
  }
}

static ember_rt_status run_nodes(ember_rt_program *p) {
  for (int i = 0; i < p->nnodes; i++) {
    rt_node *n = &p->nodes[i];
    if (is_view_node(p, n)) continue;
    double t0 = p->profiling ? now() : 0;
    if (n->op->cpu(&n->call) != EMBER_OK)
      return rt_fail(EMBER_RT_ERROR_EXECUTE, "node %d (%s): %s", i, n->op->name, ember_last_error());
    if (p->profiling) {
      n->seconds += now() - t0;
      n->calls++;
    }
  }
  return EMBER_RT_OK;
}

ember_rt_status rt_execute_cpu(ember_rt_program *p) {
  rt_index_inputs(p);
  ember_scratch_region region;
  ember_scratch_init(&region, (char *)p->arena + p->arena_bytes, (size_t)p->workspace_bytes);
  ember_scratch_begin(&region);
  ember_rt_status st = run_nodes(p);
  ember_scratch_end();
  p->scratch_overflows += region.overflows;
  if (st == EMBER_RT_OK) rt_index_outputs(p);
  return st;
}

ember_rt_status rt_measure_workspace(ember_rt_program *p, int64_t *peak) {
  *peak = 0;
  if (p->dev) return rt_fail(EMBER_RT_ERROR_ARGUMENT, "program: the kernels' scratch is measured on the cpu");
  for (int k = 0; k < p->ninputs; k++) memset(p->inputs[k].data, 0, p->inputs[k].capacity);
  if (p->shapes_dirty && rt_update_shapes(p) != EMBER_RT_OK) return rt_last_status();
  rt_index_inputs(p);
  ember_scratch_region region;
  ember_scratch_init(&region, NULL, 0);   /* measure mode */
  ember_scratch_begin(&region);
  ember_rt_status st = run_nodes(p);
  ember_scratch_end();
  *peak = (int64_t)region.peak;
  if (st != EMBER_RT_OK)
    return rt_fail(st, "export: the run at the bounds that sizes the kernels' scratch failed: %s",
                   ember_last_error());
  return EMBER_RT_OK;
}
