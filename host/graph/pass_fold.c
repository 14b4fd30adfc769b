/*
** pass_fold.c — constant folding: a node whose inputs are all constants is run once,
** at export, through the dispatcher, and its outputs become constants.
**
** The walk goes in node order, so a chain of such nodes folds in one pass (each folded
** output is a constant by the time its reader is reached). Creation ops, which have no
** inputs, fold too; a view of a constant folds into a contiguous constant of its own.
**
** A node is kept, not folded, when
**   - it draws random numbers: folding would freeze one draw into the file;
**   - it exists only in place (copy_, fill_): running it would write into a constant;
**   - one of its attributes follows a dynamic dim, or one of its outputs is a graph
**     output (those must stay node outputs that own arena bytes: docs/export.md);
**   - its outputs would hold more than FOLD_GROWTH times the bytes of its inputs and
**     more than FOLD_SMALL bytes in all. A constant is stored in the program file and
**     held in memory for the program's life, so `expand` of a scalar to a million
**     elements, or `zeros(1000, 1000)`, is cheaper computed than stored.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define FOLD_GROWTH 4
#define FOLD_SMALL 4096

static int64_t value_bytes(const ember_gvalue *x) {
  int64_t numel = ember_shape_numel(x->ndim, x->shape);
  return (numel * ember_dtype_traits_table[x->dtype].bits + 7) / 8;
}

static int is_graph_output(const ember_graph *g, int v) {
  for (int j = 0; j < g->noutputs; j++) if (g->outputs[j] == v) return 1;
  return 0;
}

/* The constants of a graph become tensors of one file, so their names must differ:
** base, else base.2, base.3 ... */
static char *unique_name(const ember_graph *g, const char *base) {
  size_t len = strlen(base) + 24;
  char *name = malloc(len);
  if (name == NULL) return NULL;
  snprintf(name, len, "%s", base);
  for (int k = 2;; k++) {
    int taken = 0;
    for (int v = 0; v < g->nvalues && !taken; v++)
      taken = g->values[v].name && strcmp(g->values[v].name, name) == 0;
    if (!taken) return name;
    snprintf(name, len, "%s.%d", base, k);
  }
}

static int foldable(const ember_graph *g, const ember_gnode *n) {
  if (n->op->flags & (EMBER_OP_RANDOM | EMBER_OP_ALLOCS | EMBER_OP_LIST_OUT)) return 0;
  if (n->inplace || n->nsym > 0) return 0;
  int64_t in_bytes = 0, out_bytes = 0;
  for (int j = 0; j < n->nin; j++) {
    if (n->in[j] < 0) continue;
    const ember_gvalue *x = &g->values[n->in[j]];
    if (x->kind != EMBER_GV_CONST) return 0;
    in_bytes += value_bytes(x);
  }
  for (int k = 0; k < n->nout; k++) {
    const ember_gvalue *x = &g->values[n->out[k]];
    if (is_graph_output(g, n->out[k])) return 0;
    for (int d = 0; d < x->ndim; d++) if (!ember_gexpr_is_const(&x->dim[d])) return 0;
    out_bytes += value_bytes(x);
  }
  return out_bytes <= FOLD_SMALL || out_bytes <= FOLD_GROWTH * in_bytes;
}

/* The folded value as a constant of its own: contiguous, sharing no input's storage,
** in the dtype and shape the graph recorded. Takes over t. */
static ember_tensor *as_constant(const ember_graph *g, const ember_gnode *n, int k,
                                 ember_tensor *const *in, ember_tensor *t) {
  const ember_gvalue *x = &g->values[n->out[k]];
  int shared = !ember_tensor_is_contiguous(t);
  for (int j = 0; j < n->nin; j++) shared |= in[j] && in[j]->storage == t->storage;
  if (shared) {
    ember_tensor *c = ember_clone(t);
    ember_tensor_release(t);
    if ((t = c) == NULL) return NULL;
  }
  if (t->dtype != x->dtype) {
    ember_tensor *c = ember_to_dtype(t, x->dtype);
    ember_tensor_release(t);
    if ((t = c) == NULL) return NULL;
  }
  if (t->ndim != x->ndim || memcmp(t->shape, x->shape, (size_t)x->ndim * sizeof x->shape[0]) != 0) {
    char a[128], b[128];
    ember_error("export: folding %s gave a value of shape %s where the graph has %s", n->op->name,
                ember_shape_str(t, a, sizeof a), ember_shape_text(x->ndim, x->shape, b, sizeof b));
    ember_tensor_release(t);
    return NULL;
  }
  return t;
}

/* Runs node i on its constant inputs; its outputs become constants. */
static ember_status fold_node(ember_graph *g, int i) {
  ember_gnode *n = &g->nodes[i];
  ember_tensor *inline_in[EMBER_INLINE_INPUTS];
  ember_tensor **in = n->nin <= EMBER_INLINE_INPUTS ? inline_in : malloc((size_t)n->nin * sizeof *in);
  if (in == NULL) return ember_error("export: out of memory");
  for (int j = 0; j < n->nin; j++) in[j] = n->in[j] < 0 ? NULL : g->values[n->in[j]].tensor;
  ember_call c;
  ember_call_init(&c, n->op, n->nin, in);
  memcpy(c.attr, n->attr, sizeof c.attr);   /* every slot: infer may keep its own past the declared ones */
  c.index_base = g->index_base;
  int grad = ember_set_grad_enabled(0);
  ember_status st = ember_dispatch(&c);
  ember_set_grad_enabled(grad);
  if (st != EMBER_OK) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ember_last_error());
    if (in != inline_in) free(in);
    return ember_error("export: folding %s on its constant inputs failed: %s", n->op->name, msg);
  }
  ember_tensor *out[EMBER_MAX_OUTPUTS] = {0};
  for (int k = 0; k < c.nout; k++) {
    out[k] = c.out[k];
    if (k < n->nout && st == EMBER_OK && (out[k] = as_constant(g, n, k, in, out[k])) == NULL)
      st = EMBER_ERROR;
  }
  if (st == EMBER_OK && c.nout != n->nout)
    st = ember_error("export: folding %s gave %d outputs where the graph has %d", n->op->name,
                     c.nout, n->nout);
  if (in != inline_in) free(in);

  /* name the new constant after what it was made from: "fc.weight.t" */
  const char *from = NULL;
  for (int j = 0; j < n->nin && from == NULL; j++)
    if (n->in[j] >= 0) from = g->values[n->in[j]].name;
  char base[256];
  if (from) snprintf(base, sizeof base, "%s.%s", from, n->op->name);
  else snprintf(base, sizeof base, "%s", n->op->name);
  for (int k = 0; k < n->nout && st == EMBER_OK; k++) {
    char *name = unique_name(g, base);
    int v = name ? ember_graph_add_const(g, name, out[k]) : -1;
    free(name);
    if (v < 0) { st = name ? EMBER_ERROR : ember_error("export: out of memory"); break; }
    int old = g->nodes[i].out[k];
    g->values[v].is_index = g->values[old].is_index;
    ember_graph_replace_uses(g, old, v);
  }
  for (int k = 0; k < c.nout; k++) ember_tensor_release(out[k]);
  if (st == EMBER_OK) ember_graph_kill_node(g, i);
  return st;
}

int ember_pass_fold(ember_graph *g) {
  int folded = 0;
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].op == NULL || !foldable(g, &g->nodes[i])) continue;
    if (fold_node(g, i) != EMBER_OK) return -1;
    folded++;
  }
  if (folded) ember_graph_compact(g);
  return folded;
}
