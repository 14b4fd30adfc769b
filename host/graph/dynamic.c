/*
** dynamic.c — named dynamic dims. The function is traced once at the example sizes and
** once more per named dim with only that dim changed; the two graphs must be the same
** but for integers. Every integer that moved (a dim of a value, an entry of an int
** attribute such as view's size) is the line through its two points: a + b·dim, with b
** a whole number. Anything else that moved (another op, a float attribute, a
** constant's bytes) means the function depends on the size in a way a program cannot
** replay, and is refused with what moved.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static ember_status moved(const ember_graph *g, int sym, const char *what, int node) {
  const char *name = g->syms[sym].name ? g->syms[sym].name : "?";
  if (node >= 0)
    return ember_error("export: node %d (%s): %s changes with the dynamic dim \"%s\"; the traced "
                       "function must not depend on that size except through shapes and integer "
                       "sizes", node, g->nodes[node].op->name, what, name);
  return ember_error("export: %s changes with the dynamic dim \"%s\"", what, name);
}

/* The slope of an integer that is v1 at size s1 and v2 at s2; 0 and an error when it
** is not whole. */
static int slope(int64_t v1, int64_t v2, int64_t s1, int64_t s2, int64_t *mul) {
  int64_t dv = v2 - v1, ds = s2 - s1;
  if (dv % ds != 0) return 0;
  *mul = dv / ds;
  return 1;
}

static ember_gsymattr *sym_entry(ember_gnode *n, int k, int j, int64_t v1) {
  for (int i = 0; i < n->nsym; i++)
    if (n->sym[i].k == k && n->sym[i].j == j) return &n->sym[i];
  ember_gsymattr *s = realloc(n->sym, (size_t)(n->nsym + 1) * sizeof *s);
  if (s == NULL) return NULL;
  n->sym = s;
  s = &n->sym[n->nsym++];
  memset(s, 0, sizeof *s);
  s->k = k;
  s->j = j;
  s->expr.add = v1;
  return s;
}

static ember_status unify_int(ember_graph *g, int sym, int node, int k, int j, int64_t v1,
                              int64_t v2, int64_t s1, int64_t s2) {
  if (v1 == v2) return EMBER_OK;
  ember_gnode *n = &g->nodes[node];
  int64_t mul;
  char what[96];
  snprintf(what, sizeof what, "attribute %s", n->op->attrs[k].name);
  if (!slope(v1, v2, s1, s2, &mul)) return moved(g, sym, what, node);
  ember_gsymattr *e = sym_entry(n, k, j, v1);
  if (e == NULL) return ember_error("export: out of memory");
  e->expr.mul[sym] = mul;
  e->expr.add -= mul * s1;
  return EMBER_OK;
}

static ember_status unify_attrs(ember_graph *g, const ember_graph *h, int sym, int node,
                                int64_t s1, int64_t s2) {
  ember_gnode *a = &g->nodes[node];
  const ember_gnode *b = &h->nodes[node];
  for (int k = 0; a->op->attrs && a->op->attrs[k].name; k++) {
    const ember_attr *x = &a->attr[k], *y = &b->attr[k];
    char what[96];
    snprintf(what, sizeof what, "attribute %s", a->op->attrs[k].name);
    if (x->present != y->present) return moved(g, sym, what, node);
    if (!x->present) continue;
    switch (a->op->attrs[k].kind) {
    case EMBER_ATTR_FLOAT:
      if (memcmp(&x->f, &y->f, sizeof x->f) != 0) return moved(g, sym, what, node);
      break;
    case EMBER_ATTR_STR:
      if ((x->s == NULL) != (y->s == NULL) || (x->s && strcmp(x->s, y->s) != 0))
        return moved(g, sym, what, node);
      break;
    case EMBER_ATTR_BOOL: case EMBER_ATTR_DTYPE: case EMBER_ATTR_DIM:
      if (x->i != y->i) return moved(g, sym, what, node);
      break;
    case EMBER_ATTR_INT: case EMBER_ATTR_INDEX:
      if (unify_int(g, sym, node, k, -1, x->i, y->i, s1, s2) != EMBER_OK) return EMBER_ERROR;
      break;
    case EMBER_ATTR_DIMS: case EMBER_ATTR_DIMS_VA:
      if (x->n != y->n || memcmp(x->v, y->v, (size_t)x->n * sizeof x->v[0]) != 0)
        return moved(g, sym, what, node);
      break;
    case EMBER_ATTR_INTS: case EMBER_ATTR_SIZE:
      if (x->n != y->n) return moved(g, sym, what, node);
      for (int j = 0; j < x->n; j++)
        if (unify_int(g, sym, node, k, j, x->v[j], y->v[j], s1, s2) != EMBER_OK) return EMBER_ERROR;
      break;
    }
  }
  return EMBER_OK;
}

static ember_status unify_value(ember_graph *g, const ember_graph *h, int sym, int v,
                                int64_t s1, int64_t s2) {
  ember_gvalue *a = &g->values[v];
  const ember_gvalue *b = &h->values[v];
  char what[96];
  snprintf(what, sizeof what, "value %%%d", v);
  if (a->kind != b->kind || a->dtype != b->dtype || a->ndim != b->ndim || a->node != b->node ||
      a->out != b->out)
    return moved(g, sym, what, a->kind == EMBER_GV_NODE ? a->node : -1);
  if (a->kind == EMBER_GV_CONST) {
    if (memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) != 0 ||
        ember_tensor_nbytes(a->tensor) != ember_tensor_nbytes(b->tensor))
      goto constant;
    ember_tensor *x = ember_contiguous(a->tensor), *y = ember_contiguous(b->tensor);
    int same = x && y && a->tensor->storage->device == EMBER_CPU &&
               memcmp(ember_tensor_data(x), ember_tensor_data(y), ember_tensor_nbytes(x)) == 0;
    ember_tensor_release(x);
    ember_tensor_release(y);
    if (!same && a->tensor->storage->device == EMBER_CPU) goto constant;
    return EMBER_OK;
  }
  for (int d = 0; d < a->ndim; d++) {
    if (a->shape[d] == b->shape[d]) continue;
    int64_t mul;
    if (!slope(a->shape[d], b->shape[d], s1, s2, &mul))
      return moved(g, sym, "a shape", a->kind == EMBER_GV_NODE ? a->node : -1);
    a->dim[d].mul[sym] = mul;
    a->dim[d].add -= mul * s1;
  }
  return EMBER_OK;
constant:
  snprintf(what, sizeof what, "the constant \"%s\"", a->name ? a->name : "?");
  return moved(g, sym, what, -1);
}

ember_status ember_graph_unify(ember_graph *g, const ember_graph *h, int sym, int64_t s1, int64_t s2) {
  if (sym < 0 || sym >= g->nsyms) return ember_error("export: dynamic dim %d out of range", sym);
  if (s1 == s2) return ember_error("export: the second trace must change the dynamic dim");
  if (g->nnodes != h->nnodes || g->nvalues != h->nvalues || g->noutputs != h->noutputs ||
      g->ninputs != h->ninputs)
    return ember_error("export: the traced function records %d ops at one size of the dynamic dim "
                       "\"%s\" and %d at another; it must take the same path at every size",
                       g->nnodes, g->syms[sym].name, h->nnodes);
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *a = &g->nodes[i], *b = &h->nodes[i];
    if (a->op != b->op || a->nin != b->nin || a->nout != b->nout ||
        memcmp(a->in, b->in, (size_t)a->nin * sizeof a->in[0]) != 0)
      return ember_error("export: the traced function takes another path when the dynamic dim "
                         "\"%s\" changes (op %d is %s at one size, %s at the other)",
                         g->syms[sym].name, i + 1, a->op->name, b->op->name);
    if (unify_attrs(g, h, sym, i, s1, s2) != EMBER_OK) return EMBER_ERROR;
  }
  for (int j = 0; j < g->noutputs; j++)
    if (g->outputs[j] != h->outputs[j])
      return moved(g, sym, "which value is returned", -1);
  for (int v = 0; v < g->nvalues; v++)
    if (unify_value(g, h, sym, v, s1, s2) != EMBER_OK) return EMBER_ERROR;
  return EMBER_OK;
}

int64_t ember_gexpr_eval(const ember_gexpr *e, const int64_t *sym_sizes, int nsyms) {
  int64_t v = e->add;
  for (int s = 0; s < nsyms; s++) v += e->mul[s] * sym_sizes[s];
  return v;
}
