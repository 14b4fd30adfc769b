/*
** trace.c — records eager op calls into a graph. The dispatcher shows the tracer each
** call the traced function made (ember_trace_hook); the tracer maps the tensors it has
** seen to graph values, turns tensors it has not seen into constants, and writes one
** node per call. What a kernel does behind the op's back is made explicit here, so
** that the runtime never has to: casts infer asked for become `to` nodes, list ops
** become the views they made, in-place writes become new values.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* tensor -> value: open addressing on the pointer. The tracer holds a reference to
** every tensor it maps, so no pointer is freed and reused while it traces. */
typedef struct tmap_entry { ember_tensor *t; int value; } tmap_entry;
typedef struct name_entry { ember_tensor *t; char *name; } name_entry;

struct ember_tracer {
  ember_graph *g;
  tmap_entry *map;
  int cap, count;
  name_entry *names;
  int nnames;
  ember_status failed;       /* the first error; the graph is refused at the end */
  char error[512];
  int seen_call;
  ember_status (*prev_hook)(ember_call *c);
};

static _Thread_local ember_tracer *active;

static unsigned slot_of(const ember_tracer *tr, const ember_tensor *t) {
  return (unsigned)(((uintptr_t)t >> 4) * 2654435761u) & (unsigned)(tr->cap - 1);
}

static int lookup(const ember_tracer *tr, const ember_tensor *t) {
  if (tr->cap == 0) return -1;
  for (unsigned h = slot_of(tr, t); tr->map[h].t; h = (h + 1) & (unsigned)(tr->cap - 1))
    if (tr->map[h].t == t) return tr->map[h].value;
  return -1;
}

static ember_status bind(ember_tracer *tr, ember_tensor *t, int value) {
  if (2 * (tr->count + 1) > tr->cap) {
    int cap = tr->cap ? 2 * tr->cap : 256;
    tmap_entry *m = calloc((size_t)cap, sizeof *m);
    if (m == NULL) return ember_error("export: out of memory");
    tmap_entry *old = tr->map;
    int oldcap = tr->cap;
    tr->map = m;
    tr->cap = cap;
    for (int i = 0; i < oldcap; i++)
      if (old[i].t) {
        unsigned h = slot_of(tr, old[i].t);
        while (m[h].t) h = (h + 1) & (unsigned)(cap - 1);
        m[h] = old[i];
      }
    free(old);
  }
  unsigned h = slot_of(tr, t);
  while (tr->map[h].t && tr->map[h].t != t) h = (h + 1) & (unsigned)(tr->cap - 1);
  if (tr->map[h].t == NULL) {
    ember_tensor_retain(t);
    tr->map[h].t = t;
    tr->count++;
  }
  tr->map[h].value = value;
  return EMBER_OK;
}

static const char *name_of(const ember_tracer *tr, const ember_tensor *t) {
  for (int i = 0; i < tr->nnames; i++)
    if (tr->names[i].t == t) return tr->names[i].name;
  return NULL;
}

/* A tensor the tracer has not seen. One with a traced value's storage and exactly its
** layout is that value under another header (detach, a Lua-side alias); one that shares
** a traced value's storage any other way was derived outside the op table, which the
** graph cannot express. Anything else is a constant. */
static int value_of(ember_tracer *tr, ember_tensor *t) {
  int v = lookup(tr, t);
  if (v >= 0) return v;
  for (int i = 0; i < tr->cap; i++) {
    const ember_tensor *u = tr->map[i].t;
    if (u == NULL || u->storage != t->storage) continue;
    const ember_gvalue *x = &tr->g->values[tr->map[i].value];
    if (x->kind == EMBER_GV_CONST) continue;
    if (u->dtype == t->dtype && u->ndim == t->ndim && u->offset == t->offset &&
        memcmp(u->shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]) == 0 &&
        memcmp(u->stride, t->stride, (size_t)t->ndim * sizeof t->stride[0]) == 0) {
      v = tr->map[i].value;
      return bind(tr, t, v) == EMBER_OK ? v : -1;
    }
    ember_error("export: a tensor derived from a traced value outside the op table (by a Lua "
                "function that is not an op) reached an op; only ops can be traced");
    return -1;
  }
  v = ember_graph_add_const(tr->g, name_of(tr, t), t);
  if (v >= 0 && bind(tr, t, v) != EMBER_OK) return -1;
  return v;
}

static ember_attr *defaults_of(const ember_op *op, ember_attr *attr) {
  memset(attr, 0, EMBER_MAX_ATTRS * sizeof *attr);
  int na = ember_op_attr_count(op);
  if (na) memcpy(attr, ember_op_defaults(op), (size_t)na * sizeof *attr);
  return attr;
}

/* A `to` node converting value v to dtype dt; returns the new value. */
static int add_cast(ember_graph *g, int v, ember_dtype dt) {
  const ember_op *to = ember_op_find("to");
  ember_attr attr[EMBER_MAX_ATTRS];
  defaults_of(to, attr);
  attr[0].present = 1;
  attr[0].i = dt;
  const ember_gvalue *x = &g->values[v];
  int ndim = x->ndim;
  int64_t shape[1][EMBER_MAX_DIMS];
  memcpy(shape[0], x->shape, sizeof shape[0]);
  int n = ember_graph_add_node(g, to, 1, &v, attr, 1, &dt, &ndim, (const int64_t (*)[EMBER_MAX_DIMS])shape);
  return n < 0 ? -1 : g->nodes[n].out[0];
}

static int add_view(ember_graph *g, const char *opname, int v, int64_t a0, int64_t a1, int64_t a2,
                    const ember_tensor *out) {
  const ember_op *op = ember_op_find(opname);
  ember_attr attr[EMBER_MAX_ATTRS];
  defaults_of(op, attr);
  int64_t args[3] = {a0, a1, a2};
  for (int k = 0; k < 3 && op->attrs[k].name; k++) {
    attr[k].present = 1;
    attr[k].i = args[k];
    attr[k].f = (double)args[k];
  }
  int ndim = out->ndim;
  int64_t shape[1][EMBER_MAX_DIMS];
  memcpy(shape[0], out->shape, sizeof shape[0]);
  int n = ember_graph_add_node(g, op, 1, &v, attr, 1, &out->dtype, &ndim,
                               (const int64_t (*)[EMBER_MAX_DIMS])shape);
  if (n < 0) return -1;
  int o = g->nodes[n].out[0];
  g->values[o].is_view = 1;
  return o;
}

/* chunk, split, unbind: each piece is a view of the input; record it as the narrow
** (or select) that makes it. */
static ember_status record_list(ember_tracer *tr, ember_call *c, int in) {
  const ember_tensor *x = c->in[0];
  for (int k = 0; k < c->nlist; k++) {
    ember_tensor *p = c->list_out[k];
    int v;
    if (p->storage != x->storage)
      return ember_error("export: %s made a piece that is not a view of its input", c->op->name);
    int d = 0;
    if (p->ndim == x->ndim) {
      while (d < x->ndim && p->shape[d] == x->shape[d]) d++;
      if (d == x->ndim) {
        v = in;   /* the whole input */
      } else {
        int64_t start = x->stride[d] ? (p->offset - x->offset) / x->stride[d] : 0;
        v = add_view(tr->g, "narrow", in, d, start, p->shape[d], p);
      }
    } else if (p->ndim == x->ndim - 1) {
      while (d < p->ndim && p->shape[d] == x->shape[d]) d++;
      int64_t index = x->stride[d] ? (p->offset - x->offset) / x->stride[d] : 0;
      v = add_view(tr->g, "select", in, d, index, 0, p);
    } else {
      return ember_error("export: %s made a piece of %d dims from %d", c->op->name, p->ndim, x->ndim);
    }
    if (v < 0 || bind(tr, p, v) != EMBER_OK) return EMBER_ERROR;
  }
  return EMBER_OK;
}

static int attr_is(const ember_call *c, const char *name, int64_t value) {
  int k = ember_op_attr_index(c->op, name);
  return k >= 0 && c->attr[k].present && c->attr[k].i == value;
}

/* Calls that compute nothing the graph needs: their output is their input's value. */
static int is_identity(const ember_call *c) {
  const char *name = c->op->name;
  if (strcmp(name, "dropout") == 0) return attr_is(c, "training", 0);
  if (strcmp(name, "to") == 0) return !c->attr[0].present || c->attr[0].i == c->in[0]->dtype;
  if (strcmp(name, "contiguous") == 0 || strcmp(name, "detach") == 0) return 1;
  return 0;
}

/* The storage of t is shared with some other traced value: a write into t would be
** seen through that value too, which a graph of values cannot say. */
static int shares_storage(const ember_tracer *tr, const ember_tensor *t, int value) {
  for (int i = 0; i < tr->cap; i++) {
    const ember_tensor *u = tr->map[i].t;
    if (u && u != t && u->storage == t->storage && tr->map[i].value != value &&
        tr->g->values[tr->map[i].value].kind != EMBER_GV_CONST)
      return 1;
  }
  return 0;
}

static ember_status record(ember_tracer *tr, ember_call *c) {
  const ember_op *op = c->op;
  ember_graph *g = tr->g;
  if (!tr->seen_call) {
    g->index_base = c->index_base;
    tr->seen_call = 1;
  }
  if ((op->flags & EMBER_OP_RANDOM) && !is_identity(c))
    return ember_error("export: %s draws random numbers, which a program cannot replay; call "
                       "model:eval() (dropout) or make the values outside the traced function", op->name);
  if (op->flags & EMBER_OP_ALLOCS)
    return ember_error("export: %s makes an output whose size depends on the data; a program's "
                       "memory is planned ahead, so it cannot take it", op->name);

  int *in = malloc((size_t)(c->nin > 0 ? c->nin : 1) * sizeof *in);
  if (in == NULL) return ember_error("export: out of memory");
  ember_status st = EMBER_OK;
  for (int i = 0; i < c->nin && st == EMBER_OK; i++) {
    if (c->in[i] == NULL) { in[i] = -1; continue; }
    in[i] = value_of(tr, c->in[i]);
    if (in[i] < 0) st = EMBER_ERROR;
    else if (i < EMBER_INLINE_INPUTS && c->in_cast[i] != EMBER_DTYPE_NONE &&
             c->in_cast[i] != c->in[i]->dtype && !(op->flags & EMBER_OP_VIEW))
      if ((in[i] = add_cast(g, in[i], c->in_cast[i])) < 0) st = EMBER_ERROR;
  }
  if (st != EMBER_OK) { free(in); return st; }

  if (c->inplace) {
    int old = lookup(tr, c->in_user[0]);
    if (old >= 0 && g->values[old].kind == EMBER_GV_CONST) {
      free(in);
      return ember_error("export: %s_ writes into a constant (a parameter or a tensor made "
                         "outside the traced function); write into a copy", op->name);
    }
    if (shares_storage(tr, c->in_user[0], old)) {
      free(in);
      return ember_error("export: %s_ writes through a view into a tensor other values share; "
                         "write into a copy (clone) instead", op->name);
    }
  }

  if (op->flags & EMBER_OP_LIST_OUT) {
    st = record_list(tr, c, in[0]);
    free(in);
    return st;
  }
  if (is_identity(c)) {
    st = bind(tr, c->out[0], in[0]);
    free(in);
    return st;
  }

  ember_dtype dt[EMBER_MAX_OUTPUTS];
  int ndim[EMBER_MAX_OUTPUTS];
  int64_t shape[EMBER_MAX_OUTPUTS][EMBER_MAX_DIMS];
  int cast_out[EMBER_MAX_OUTPUTS];
  for (int k = 0; k < c->nout; k++) {
    const ember_tensor *o = c->out[k];
    cast_out[k] = c->out_kernel[k] != EMBER_DTYPE_NONE && c->out_kernel[k] != o->dtype &&
                  !(op->flags & EMBER_OP_VIEW);
    dt[k] = cast_out[k] ? c->out_kernel[k] : o->dtype;
    ndim[k] = o->ndim;
    memcpy(shape[k], o->shape, sizeof shape[k]);
  }
  ember_attr attr[EMBER_MAX_ATTRS];
  memcpy(attr, c->attr, sizeof attr);
  /* a program does not move between devices: `to` keeps only its dtype */
  if (strcmp(op->name, "to") == 0) attr[1] = ember_op_defaults(op)[1];
  int n = ember_graph_add_node(g, op, c->nin, in, attr, c->nout, dt, ndim,
                               (const int64_t (*)[EMBER_MAX_DIMS])shape);
  free(in);
  if (n < 0) return EMBER_ERROR;
  g->nodes[n].inplace = c->inplace && !(op->flags & EMBER_OP_BOTH);
  for (int k = 0; k < c->nout; k++) {
    int v = g->nodes[n].out[k];
    ember_tensor *o = c->out[k];
    if ((op->flags & EMBER_OP_VIEW) && k == 0 && c->in[0] && o->storage == c->in[0]->storage)
      g->values[v].is_view = 1;
    if ((op->flags & EMBER_OP_INDEX_OUT) && o->dtype == EMBER_I64) g->values[v].is_index = 1;
    if (cast_out[k] && (v = add_cast(g, v, o->dtype)) < 0) return EMBER_ERROR;
    if (bind(tr, o, v) != EMBER_OK) return EMBER_ERROR;
  }
  return EMBER_OK;
}

static ember_status hook(ember_call *c) {
  ember_tracer *tr = active;
  if (tr == NULL || tr->failed != EMBER_OK) return EMBER_OK;
  if (record(tr, c) != EMBER_OK) {
    tr->failed = EMBER_ERROR;
    snprintf(tr->error, sizeof tr->error, "%s", ember_last_error());
    return EMBER_ERROR;   /* the call fails too, so the user's function stops here */
  }
  return EMBER_OK;
}

ember_tracer *ember_trace_begin(void) {
  if (active) {
    ember_error("export: a trace is already running on this thread");
    return NULL;
  }
  ember_tracer *tr = calloc(1, sizeof *tr);
  if (tr == NULL || (tr->g = ember_graph_new()) == NULL) {
    free(tr);
    ember_error("export: out of memory");
    return NULL;
  }
  tr->prev_hook = ember_trace_hook;
  ember_trace_hook = hook;
  active = tr;
  return tr;
}

int ember_trace_input(ember_tracer *tr, const char *name, ember_tensor *t) {
  if (lookup(tr, t) >= 0) {
    ember_error("export: the same tensor is given as two inputs");
    return -1;
  }
  int v = ember_graph_add_input(tr->g, name, t->dtype, t->ndim, t->shape);
  if (v < 0) return -1;
  tr->g->values[v].is_index = ember_dtype_is_int(t->dtype);
  if (bind(tr, t, v) != EMBER_OK) return -1;
  return v;
}

void ember_trace_name(ember_tracer *tr, ember_tensor *t, const char *name) {
  name_entry *n = realloc(tr->names, (size_t)(tr->nnames + 1) * sizeof *n);
  if (n == NULL) return;
  tr->names = n;
  size_t len = strlen(name) + 1;
  char *s = malloc(len);
  if (s == NULL) return;
  memcpy(s, name, len);
  ember_tensor_retain(t);
  tr->names[tr->nnames].t = t;
  tr->names[tr->nnames++].name = s;
}

static void stop(ember_tracer *tr) {
  if (active == tr) {
    active = NULL;
    ember_trace_hook = tr->prev_hook;
  }
  for (int i = 0; i < tr->cap; i++) ember_tensor_release(tr->map[i].t);
  for (int i = 0; i < tr->nnames; i++) {
    ember_tensor_release(tr->names[i].t);
    free(tr->names[i].name);
  }
  free(tr->map);
  free(tr->names);
}

void ember_trace_abort(ember_tracer *tr) {
  if (tr == NULL) return;
  stop(tr);
  ember_graph_free(tr->g);
  free(tr);
}

/* Outputs are values the runtime hands back from arena bytes it owns: an input, a
** constant, a view or a value given twice is copied out by a clone node. */
static int owned_output(ember_graph *g, int v, const char *seen, ember_tracer *tr) {
  const ember_gvalue *x = &g->values[v];
  if (x->kind == EMBER_GV_NODE && !x->is_view && !seen[v]) return v;
  (void)tr;
  const ember_op *clone = ember_op_find("clone");
  ember_attr attr[EMBER_MAX_ATTRS];
  defaults_of(clone, attr);
  int ndim = x->ndim;
  ember_dtype dt = x->dtype;
  int is_index = x->is_index;
  int64_t shape[1][EMBER_MAX_DIMS];
  memcpy(shape[0], x->shape, sizeof shape[0]);
  int n = ember_graph_add_node(g, clone, 1, &v, attr, 1, &dt, &ndim,
                               (const int64_t (*)[EMBER_MAX_DIMS])shape);
  if (n < 0) return -1;
  int o = g->nodes[n].out[0];
  g->values[o].is_index = is_index;
  return o;
}

ember_graph *ember_trace_end(ember_tracer *tr, int nout, ember_tensor *const *outputs,
                             const char *const *names) {
  if (active == tr) {
    active = NULL;
    ember_trace_hook = tr->prev_hook;
  }
  ember_graph *g = tr->g;
  if (tr->failed != EMBER_OK) {
    ember_error("%s", tr->error);
    ember_trace_abort(tr);
    return NULL;
  }
  int *out = malloc((size_t)(nout > 0 ? nout : 1) * sizeof *out);
  char *seen = NULL;
  ember_status st = out ? EMBER_OK : ember_error("export: out of memory");
  for (int j = 0; j < nout && st == EMBER_OK; j++) {
    out[j] = value_of(tr, outputs[j]);
    if (out[j] < 0) st = EMBER_ERROR;
  }
  if (st == EMBER_OK && (seen = calloc((size_t)g->nvalues + (size_t)nout + 1, 1)) == NULL)
    st = ember_error("export: out of memory");
  for (int j = 0; j < nout && st == EMBER_OK; j++) {
    int v = owned_output(g, out[j], seen, tr);
    if (v < 0) { st = EMBER_ERROR; break; }
    seen[v] = 1;
    out[j] = v;
    if (names && names[j]) {
      free(g->values[v].name);
      size_t len = strlen(names[j]) + 1;
      g->values[v].name = malloc(len);
      if (g->values[v].name) memcpy(g->values[v].name, names[j], len);
    }
  }
  if (st == EMBER_OK) ember_graph_set_outputs(g, nout, out);
  free(out);
  free(seen);
  tr->g = NULL;
  ember_trace_abort(tr);
  if (st != EMBER_OK) { ember_graph_free(g); return NULL; }
  /* the traced values were for tracing; the graph keeps only its constants */
  for (int v = 0; v < g->nvalues; v++)
    if (g->values[v].kind != EMBER_GV_CONST) {
      ember_tensor_release(g->values[v].tensor);
      g->values[v].tensor = NULL;
    }
  return g;
}
