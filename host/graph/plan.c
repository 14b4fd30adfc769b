/*
** plan.c — the memory plan: where in one arena each value a node makes lives.
**
** Sizes are taken at the symbols' upper bounds, so one plan serves every run. Steps:
**
** 1. Lifetimes, in node order: a value lives from the node that makes it to the last
**    node that reads it; a graph output lives to the end. A view (is_view) has no
**    bytes of its own: it aliases the root value it views (through views of views),
**    and the root lives as long as its last view is read.
** 2. In place: an elementwise node's result takes the bytes of its input 0 when that
**    input is a node value (not a graph input or a constant), not a view, of the
**    same dtype and the same dims (so the same bytes at every size), when nothing
**    reads it or a view of it after this node, and no other input of the node reads
**    the same bytes another way (add(a, transpose(a)) would read what it overwrote).
**    Graph outputs are not made in place: each owns its bytes (docs/export.md).
**    Values sharing bytes this way form a group that lives from its first value's
**    node to its last value's last read.
** 3. Placement: greedy by size with best fit. Groups are taken largest first (ties:
**    the earlier first); each goes into the smallest gap, between the groups already
**    placed whose lifetimes overlap its own, that holds it, or after the last of them
**    when none does. Every offset and size is a multiple of 64 bytes.
**
** Graph inputs and constants are not in the arena (offset -1): the runtime holds them.
*/
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define PLAN_ALIGN 64

static int64_t align_up(int64_t n) { return (n + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN; }

static int64_t bytes_at_bounds(const ember_graph *g, const ember_gvalue *x) {
  int64_t max[EMBER_GRAPH_MAX_SYMS] = {0};
  for (int s = 0; s < g->nsyms; s++) max[s] = g->syms[s].max;
  int64_t numel = 1;
  for (int d = 0; d < x->ndim; d++) {
    int64_t n = ember_gexpr_eval(&x->dim[d], max, g->nsyms);
    numel *= n > 0 ? n : 0;
  }
  return (numel * ember_dtype_traits_table[x->dtype].bits + 7) / 8;
}

/* Ops whose result element k depends only on element k of each input, read before
** it is written: they can write over input 0. */
static int elementwise(const ember_op *op) {
  static const char *const names[] = {
    "add", "sub", "mul", "div", "remainder", "floor_divide", "pow", "maximum", "minimum",
    "clamp", "neg", "abs", "sign", "relu", "floor", "ceil", "round", "trunc", "sqrt",
    "rsqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "sigmoid", "silu", "gelu",
    "softplus", "fused_pointwise", NULL };
  for (int k = 0; names[k]; k++) if (strcmp(op->name, names[k]) == 0) return 1;
  return 0;
}

static int same_dims(const ember_gvalue *a, const ember_gvalue *b) {
  return a->dtype == b->dtype && a->ndim == b->ndim &&
         memcmp(a->dim, b->dim, (size_t)a->ndim * sizeof a->dim[0]) == 0;
}

typedef struct plan_state {
  const ember_graph *g;
  int *root;        /* views: the value they view; others: themselves */
  int *owner;       /* the group whose bytes a value uses (itself when it owns them) */
  int *first, *last;/* per group owner: lifetime in node indices, inclusive */
  char *output;     /* is a graph output */
} plan_state;

static int live_node_value(const ember_graph *g, int v) {
  const ember_gvalue *x = &g->values[v];
  return x->kind == EMBER_GV_NODE && x->node >= 0 && g->nodes[x->node].op != NULL;
}

static void lifetimes(plan_state *s) {
  const ember_graph *g = s->g;
  int end = g->nnodes;
  for (int v = 0; v < g->nvalues; v++) {
    s->root[v] = s->owner[v] = v;
    s->first[v] = s->last[v] = live_node_value(g, v) ? g->values[v].node : -1;
  }
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] >= 0 && s->last[n->in[j]] < i) s->last[n->in[j]] = i;
    for (int k = 0; k < n->nout; k++) {
      int v = n->out[k];
      if (g->values[v].is_view && n->nin > 0 && n->in[0] >= 0) s->root[v] = s->root[n->in[0]];
    }
  }
  for (int j = 0; j < g->noutputs; j++) {
    s->output[g->outputs[j]] = 1;
    s->last[g->outputs[j]] = end;
  }
  for (int v = 0; v < g->nvalues; v++) {
    int r = s->root[v];
    if (r != v && s->last[v] > s->last[r]) s->last[r] = s->last[v];
  }
}

/* Whether node i may write its result over its input 0 (step 2). */
static int can_overwrite(const plan_state *s, int i) {
  const ember_graph *g = s->g;
  const ember_gnode *n = &g->nodes[i];
  if (!elementwise(n->op) || n->nin < 1 || n->nout != 1 || n->inplace) return 0;
  int a = n->in[0], o = n->out[0];
  if (a < 0 || !live_node_value(g, a) || g->values[a].is_view || s->output[o]) return 0;
  if (g->values[o].is_view || !same_dims(&g->values[a], &g->values[o])) return 0;
  int group = s->owner[a];
  if (s->last[group] != i) return 0;
  for (int j = 1; j < n->nin; j++) {
    int b = n->in[j];
    if (b >= 0 && b != a && s->owner[s->root[b]] == group) return 0;
  }
  return 1;
}

static void in_place(plan_state *s) {
  const ember_graph *g = s->g;
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].op == NULL || !can_overwrite(s, i)) continue;
    int a = g->nodes[i].in[0], o = g->nodes[i].out[0];
    int group = s->owner[a];
    s->owner[o] = group;
    if (s->last[o] > s->last[group]) s->last[group] = s->last[o];
  }
}

typedef struct buffer { int v; int64_t size, offset; } buffer;

static int by_size(const void *pa, const void *pb) {
  const buffer *a = pa, *b = pb;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  return a->v - b->v;     /* values are numbered in node order: the earlier first */
}

static int by_offset(const void *pa, const void *pb) {
  const buffer *a = *(const buffer *const *)pa, *b = *(const buffer *const *)pb;
  return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Step 3 over the group owners in buf[0..n); returns the arena size. */
static int64_t place(const plan_state *s, buffer *buf, int n, const buffer **near) {
  qsort(buf, (size_t)n, sizeof *buf, by_size);
  int64_t arena = 0;
  for (int b = 0; b < n; b++) {
    int nn = 0;
    for (int p = 0; p < b; p++)
      if (s->first[buf[p].v] <= s->last[buf[b].v] && s->first[buf[b].v] <= s->last[buf[p].v] &&
          buf[p].size > 0)
        near[nn++] = &buf[p];
    qsort(near, (size_t)nn, sizeof *near, by_offset);
    int64_t at = 0, best = -1, best_gap = 0;
    for (int p = 0; p < nn; p++) {
      int64_t gap = near[p]->offset - at;
      if (gap >= buf[b].size && (best < 0 || gap < best_gap)) {
        best = at;
        best_gap = gap;
      }
      if (near[p]->offset + near[p]->size > at) at = near[p]->offset + near[p]->size;
    }
    buf[b].offset = best >= 0 ? best : at;
    if (buf[b].offset + buf[b].size > arena) arena = buf[b].offset + buf[b].size;
  }
  return arena;
}

ember_plan *ember_plan_make(const ember_graph *g) {
  int nv = g->nvalues;
  size_t m = (size_t)(nv > 0 ? nv : 1);
  ember_plan *p = calloc(1, sizeof *p);
  plan_state s = { g, malloc(m * sizeof(int)), malloc(m * sizeof(int)), malloc(m * sizeof(int)),
                   malloc(m * sizeof(int)), calloc(m, 1) };
  buffer *buf = malloc(m * sizeof *buf);
  const buffer **near = malloc(m * sizeof *near);
  if (p) p->slot = malloc(m * sizeof *p->slot);
  if (!p || !p->slot || !s.root || !s.owner || !s.first || !s.last || !s.output || !buf || !near) {
    ember_error("export: out of memory");
    ember_plan_free(p);
    p = NULL;
    goto done;
  }
  p->nvalues = nv;
  lifetimes(&s);
  in_place(&s);

  int nbuf = 0;
  for (int v = 0; v < nv; v++) {
    p->slot[v].bytes = bytes_at_bounds(g, &g->values[v]);
    p->slot[v].offset = -1;
    p->slot[v].alias = -1;
    if (!live_node_value(g, v) || g->values[v].is_view) continue;
    p->naive_bytes += align_up(p->slot[v].bytes);
    if (s.owner[v] == v) buf[nbuf++] = (buffer){ v, align_up(p->slot[v].bytes), 0 };
  }
  p->arena_bytes = place(&s, buf, nbuf, near);
  for (int b = 0; b < nbuf; b++) p->slot[buf[b].v].offset = buf[b].offset;
  for (int v = 0; v < nv; v++) {
    if (!live_node_value(g, v)) continue;
    if (g->values[v].is_view) {
      p->slot[v].alias = s.root[v];
    } else if (s.owner[v] != v) {
      p->slot[v].alias = s.owner[v];
      p->slot[v].offset = p->slot[s.owner[v]].offset;
    }
  }
done:
  free(s.root);
  free(s.owner);
  free(s.first);
  free(s.last);
  free(s.output);
  free(buf);
  free(near);
  return p;
}

void ember_plan_free(ember_plan *p) {
  if (p == NULL) return;
  free(p->slot);
  free(p);
}
