/*
** pass_cse.c — common subexpression elimination: of two nodes with the same op, the
** same inputs and the same attributes, the later one is removed and its readers read
** the first one's outputs.
**
** Nodes are found by a hash of (op, inputs) and then compared in full: every
** attribute slot, the declared ones by their kind (strings by content, lists up to
** their length) and the slots past them, which an infer function may use for its own
** state, field by field. The walk goes in node order and a merge rewrites every
** reader at once, so the readers of merged nodes merge in the same walk.
**
** Never merged: ops that draw random numbers (two draws differ), ops that exist only
** in place, and a node one of whose outputs is a graph output (merging it would
** return one value twice, where each output must own its bytes).
*/
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static int same_list(const ember_attr *a, const ember_attr *b) {
  int n = a->n < EMBER_MAX_INTS ? a->n : EMBER_MAX_INTS;
  return a->n == b->n && (n <= 0 || memcmp(a->v, b->v, (size_t)n * sizeof a->v[0]) == 0);
}

/* A declared attribute: an absent one is absent whatever else its slot holds. */
static int same_attr(ember_attr_kind kind, const ember_attr *a, const ember_attr *b) {
  if (a->present != b->present) return 0;
  if (!a->present) return 1;
  switch (kind) {
  case EMBER_ATTR_FLOAT: return same_double(a->f, b->f);
  case EMBER_ATTR_STR:
    return (a->s == NULL) == (b->s == NULL) && (a->s == NULL || strcmp(a->s, b->s) == 0);
  case EMBER_ATTR_DIMS: case EMBER_ATTR_DIMS_VA: case EMBER_ATTR_INTS: case EMBER_ATTR_SIZE:
    return same_list(a, b) && a->i == b->i;
  default:
    return a->i == b->i && same_double(a->f, b->f);
  }
}

/* A slot past the declared ones: its kind is unknown, so every field counts and a
** string is the same only at the same address (it was never copied, so its bytes may
** not be ours to read). */
static int same_private(const ember_attr *a, const ember_attr *b) {
  return a->present == b->present && a->i == b->i && same_double(a->f, b->f) && a->s == b->s &&
         same_list(a, b);
}

static int same_value_type(const ember_gvalue *a, const ember_gvalue *b) {
  return a->dtype == b->dtype && a->ndim == b->ndim &&
         memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0 &&
         memcmp(a->dim, b->dim, (size_t)a->ndim * sizeof a->dim[0]) == 0;
}

static int same_node(const ember_graph *g, const ember_gnode *a, const ember_gnode *b) {
  if (a->op != b->op || a->nin != b->nin || a->nout != b->nout || a->inplace != b->inplace ||
      a->nsym != b->nsym)
    return 0;
  if (a->nin && memcmp(a->in, b->in, (size_t)a->nin * sizeof a->in[0]) != 0) return 0;
  int na = ember_op_attr_count(a->op);
  for (int k = 0; k < EMBER_MAX_ATTRS; k++) {
    int same = k < na ? same_attr(a->op->attrs[k].kind, &a->attr[k], &b->attr[k])
                      : same_private(&a->attr[k], &b->attr[k]);
    if (!same) return 0;
  }
  for (int s = 0; s < a->nsym; s++)
    if (a->sym[s].k != b->sym[s].k || a->sym[s].j != b->sym[s].j ||
        memcmp(&a->sym[s].expr, &b->sym[s].expr, sizeof a->sym[s].expr) != 0)
      return 0;
  for (int k = 0; k < a->nout; k++)
    if (!same_value_type(&g->values[a->out[k]], &g->values[b->out[k]])) return 0;
  return 1;
}

static unsigned hash_node(const ember_gnode *n) {
  uint64_t h = (uint64_t)(uintptr_t)n->op * 0x9e3779b97f4a7c15u;
  for (int j = 0; j < n->nin; j++) h = (h ^ (uint64_t)(n->in[j] + 2)) * 0x100000001b3u;
  return (unsigned)(h ^ (h >> 29));
}

static int mergeable(const ember_gnode *n) {
  return n->op != NULL && !(n->op->flags & EMBER_OP_RANDOM) && !n->inplace;
}

static int is_graph_output(const ember_graph *g, const ember_gnode *n) {
  for (int k = 0; k < n->nout; k++)
    for (int j = 0; j < g->noutputs; j++) if (g->outputs[j] == n->out[k]) return 1;
  return 0;
}

int ember_pass_cse(ember_graph *g) {
  unsigned cap = 16;
  while (cap < 2u * (unsigned)g->nnodes) cap *= 2;
  int *table = malloc(cap * sizeof *table);   /* node ids, -1 empty */
  if (table == NULL) {
    ember_error("export: out of memory");
    return -1;
  }
  for (unsigned h = 0; h < cap; h++) table[h] = -1;
  int merged = 0;
  for (int i = 0; i < g->nnodes; i++) {
    ember_gnode *n = &g->nodes[i];
    if (!mergeable(n)) continue;
    unsigned h = hash_node(n) & (cap - 1);
    int first = -1;
    for (; table[h] >= 0; h = (h + 1) & (cap - 1))
      if (same_node(g, &g->nodes[table[h]], n)) { first = table[h]; break; }
    if (first < 0) {
      table[h] = i;
      continue;
    }
    if (is_graph_output(g, n)) continue;
    for (int k = 0; k < n->nout; k++) ember_graph_replace_uses(g, n->out[k], g->nodes[first].out[k]);
    ember_graph_kill_node(g, i);
    merged++;
  }
  free(table);
  if (merged) ember_graph_compact(g);
  return merged;
}
