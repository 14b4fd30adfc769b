/*
** graph.c — the graph IR's container: values and nodes, uses, replacement, removal,
** validation and the text dump that specs compare. See graph.h.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

ember_graph *ember_graph_new(void) {
  ember_graph *g = calloc(1, sizeof *g);
  if (g == NULL) ember_error("export: out of memory");
  return g;
}

static void free_node(ember_gnode *n) {
  if (n->op && n->op->attrs)
    for (int k = 0; n->op->attrs[k].name; k++)
      if (n->op->attrs[k].kind == EMBER_ATTR_STR) free((char *)n->attr[k].s);
  free(n->in);
  free(n->sym);
  n->in = NULL;
  n->sym = NULL;
  n->op = NULL;
}

static void free_value(ember_gvalue *v) {
  ember_tensor_release(v->tensor);
  free(v->name);
  v->tensor = NULL;
  v->name = NULL;
}

void ember_graph_free(ember_graph *g) {
  if (g == NULL) return;
  for (int i = 0; i < g->nnodes; i++) free_node(&g->nodes[i]);
  for (int i = 0; i < g->nvalues; i++) free_value(&g->values[i]);
  for (int s = 0; s < g->nsyms; s++) free(g->syms[s].name);
  free(g->nodes);
  free(g->values);
  free(g->inputs);
  free(g->outputs);
  free(g);
}

static char *dup_str(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int new_value(ember_graph *g, ember_gvalue_kind kind, ember_dtype dt, int ndim,
                     const int64_t *shape) {
  if (g->nvalues == g->cap_values) {
    int cap = g->cap_values ? 2 * g->cap_values : 64;
    ember_gvalue *v = realloc(g->values, (size_t)cap * sizeof *v);
    if (v == NULL) { ember_error("export: out of memory"); return -1; }
    g->values = v;
    g->cap_values = cap;
  }
  ember_gvalue *v = &g->values[g->nvalues];
  memset(v, 0, sizeof *v);
  v->kind = kind;
  v->dtype = dt;
  v->ndim = ndim;
  v->node = v->out = v->input = -1;
  for (int d = 0; d < ndim; d++) {
    v->shape[d] = shape[d];
    v->dim[d].add = shape[d];
  }
  return g->nvalues++;
}

int ember_graph_add_input(ember_graph *g, const char *name, ember_dtype dt, int ndim,
                          const int64_t *shape) {
  int id = new_value(g, EMBER_GV_INPUT, dt, ndim, shape);
  if (id < 0) return -1;
  int *in = realloc(g->inputs, (size_t)(g->ninputs + 1) * sizeof *in);
  if (in == NULL) { ember_error("export: out of memory"); return -1; }
  g->inputs = in;
  g->values[id].input = g->ninputs;
  g->values[id].name = dup_str(name);
  g->inputs[g->ninputs++] = id;
  return id;
}

int ember_graph_add_const(ember_graph *g, const char *name, ember_tensor *t) {
  int id = new_value(g, EMBER_GV_CONST, t->dtype, t->ndim, t->shape);
  if (id < 0) return -1;
  char buf[32];
  if (name == NULL) {
    snprintf(buf, sizeof buf, "const.%d", id);
    name = buf;
  }
  ember_tensor_retain(t);
  g->values[id].tensor = t;
  g->values[id].name = dup_str(name);
  return id;
}

int ember_graph_add_node(ember_graph *g, const ember_op *op, int nin, const int *in,
                         const ember_attr *attr, int nout, const ember_dtype *dt,
                         const int *ndim, const int64_t (*shape)[EMBER_MAX_DIMS]) {
  if (nout > EMBER_MAX_OUTPUTS) {
    ember_error("export: %s has %d outputs (at most %d)", op->name, nout, EMBER_MAX_OUTPUTS);
    return -1;
  }
  if (g->nnodes == g->cap_nodes) {
    int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
    ember_gnode *n = realloc(g->nodes, (size_t)cap * sizeof *n);
    if (n == NULL) { ember_error("export: out of memory"); return -1; }
    g->nodes = n;
    g->cap_nodes = cap;
  }
  int id = g->nnodes;
  ember_gnode *n = &g->nodes[id];
  memset(n, 0, sizeof *n);
  n->in = malloc((size_t)(nin > 0 ? nin : 1) * sizeof *n->in);
  if (n->in == NULL) { ember_error("export: out of memory"); return -1; }
  if (nin) memcpy(n->in, in, (size_t)nin * sizeof *in);
  n->nin = nin;
  if (attr) memcpy(n->attr, attr, sizeof n->attr);
  /* strings are owned by the node: the caller's may point into a Lua string */
  for (int k = 0; op->attrs && op->attrs[k].name; k++)
    if (op->attrs[k].kind == EMBER_ATTR_STR)
      n->attr[k].s = n->attr[k].s ? dup_str(n->attr[k].s) : NULL;
  n->op = op;
  g->nnodes++;
  n->nout = nout;
  for (int k = 0; k < nout; k++) {
    int v = new_value(g, EMBER_GV_NODE, dt[k], ndim[k], shape[k]);
    n = &g->nodes[id];   /* (values moved, nodes did not; kept for clarity) */
    if (v < 0) return -1;
    g->values[v].node = id;
    g->values[v].out = k;
    n->out[k] = v;
  }
  return id;
}

void ember_graph_set_outputs(ember_graph *g, int n, const int *values) {
  int *o = realloc(g->outputs, (size_t)(n > 0 ? n : 1) * sizeof *o);
  if (o == NULL) return;
  if (n) memcpy(o, values, (size_t)n * sizeof *o);
  g->outputs = o;
  g->noutputs = n;
}

int ember_graph_uses(const ember_graph *g, int v) {
  int uses = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    for (int j = 0; j < n->nin; j++) uses += n->in[j] == v;
  }
  for (int j = 0; j < g->noutputs; j++) uses += g->outputs[j] == v;
  return uses;
}

int *ember_graph_use_counts(const ember_graph *g) {
  int *uses = calloc((size_t)(g->nvalues > 0 ? g->nvalues : 1), sizeof *uses);
  if (uses == NULL) return NULL;
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    for (int j = 0; j < n->nin; j++) if (n->in[j] >= 0) uses[n->in[j]]++;
  }
  for (int j = 0; j < g->noutputs; j++) uses[g->outputs[j]]++;
  return uses;
}

void ember_graph_replace_uses(ember_graph *g, int from, int to) {
  for (int i = 0; i < g->nnodes; i++) {
    ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    for (int j = 0; j < n->nin; j++) if (n->in[j] == from) n->in[j] = to;
  }
  int was_output = 0;
  for (int j = 0; j < g->noutputs; j++)
    if (g->outputs[j] == from) { g->outputs[j] = to; was_output = 1; }
  /* a graph output's name is the user's: it goes with the output to its new value */
  ember_gvalue *f = &g->values[from], *t = &g->values[to];
  if (was_output && f->name && t->kind == EMBER_GV_NODE && t->name == NULL) {
    t->name = f->name;
    f->name = NULL;
  }
}

void ember_graph_kill_node(ember_graph *g, int n) {
  free_node(&g->nodes[n]);
}

/* Renumbering: live nodes keep their order; a value survives when it is an input, an
** output of a live node, or a constant something still reads. */
void ember_graph_compact(ember_graph *g) {
  int *vmap = malloc((size_t)(g->nvalues > 0 ? g->nvalues : 1) * sizeof *vmap);
  int *nmap = malloc((size_t)(g->nnodes > 0 ? g->nnodes : 1) * sizeof *nmap);
  char *keep = calloc((size_t)(g->nvalues > 0 ? g->nvalues : 1), 1);
  if (!vmap || !nmap || !keep) { free(vmap); free(nmap); free(keep); return; }
  for (int i = 0; i < g->ninputs; i++) keep[g->inputs[i]] = 1;
  for (int i = 0; i < g->noutputs; i++) keep[g->outputs[i]] = 1;
  for (int i = 0; i < g->nnodes; i++) {
    ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    for (int j = 0; j < n->nin; j++) if (n->in[j] >= 0) keep[n->in[j]] = 1;
    for (int k = 0; k < n->nout; k++) keep[n->out[k]] = 1;
  }
  int nv = 0;
  for (int v = 0; v < g->nvalues; v++) {
    if (!keep[v]) { free_value(&g->values[v]); vmap[v] = -1; continue; }
    vmap[v] = nv;
    g->values[nv++] = g->values[v];
  }
  g->nvalues = nv;
  int nn = 0;
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].op == NULL) { nmap[i] = -1; continue; }
    nmap[i] = nn;
    g->nodes[nn++] = g->nodes[i];
  }
  g->nnodes = nn;
  for (int i = 0; i < nn; i++) {
    ember_gnode *n = &g->nodes[i];
    for (int j = 0; j < n->nin; j++) if (n->in[j] >= 0) n->in[j] = vmap[n->in[j]];
    for (int k = 0; k < n->nout; k++) n->out[k] = vmap[n->out[k]];
  }
  for (int v = 0; v < nv; v++)
    if (g->values[v].kind == EMBER_GV_NODE) g->values[v].node = nmap[g->values[v].node];
  for (int i = 0; i < g->ninputs; i++) g->inputs[i] = vmap[g->inputs[i]];
  for (int i = 0; i < g->noutputs; i++) g->outputs[i] = vmap[g->outputs[i]];
  free(vmap);
  free(nmap);
  free(keep);
}

ember_status ember_graph_validate(const ember_graph *g) {
  char *defined = calloc((size_t)(g->nvalues > 0 ? g->nvalues : 1), 1);
  if (defined == NULL) return ember_error("export: out of memory");
  ember_status st = EMBER_OK;
  for (int v = 0; v < g->nvalues; v++)
    if (g->values[v].kind != EMBER_GV_NODE) defined[v] = 1;
  for (int i = 0; i < g->nnodes && st == EMBER_OK; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    for (int j = 0; j < n->nin && st == EMBER_OK; j++) {
      int v = n->in[j];
      if (v < -1 || v >= g->nvalues) st = ember_error("graph: node %d input %d: value %d out of range", i, j, v);
      else if (v >= 0 && !defined[v]) st = ember_error("graph: node %d (%s) reads value %d before it is made", i, n->op->name, v);
    }
    for (int k = 0; k < n->nout && st == EMBER_OK; k++) {
      int v = n->out[k];
      if (v < 0 || v >= g->nvalues) st = ember_error("graph: node %d output %d: value %d out of range", i, k, v);
      else if (defined[v]) st = ember_error("graph: value %d is made twice", v);
      else if (g->values[v].node != i || g->values[v].out != k)
        st = ember_error("graph: value %d does not name node %d as its producer", v, i);
      else defined[v] = 1;
    }
  }
  for (int j = 0; j < g->noutputs && st == EMBER_OK; j++) {
    int v = g->outputs[j];
    if (v < 0 || v >= g->nvalues || !defined[v]) st = ember_error("graph: output %d is not a value the graph makes", j);
  }
  free(defined);
  return st;
}

int ember_graph_count(const ember_graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op && (op == NULL || strcmp(g->nodes[i].op->name, op) == 0)) n++;
  return n;
}

/* {====== dump */

void ember_strbuf_put(ember_strbuf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (m < 0) { b->failed = 1; return; }
    if ((size_t)m < b->cap - b->n) { b->n += (size_t)m; return; }
    size_t cap = 2 * b->cap + (size_t)m + 64;
    char *p = realloc(b->p, cap);
    if (p == NULL) { b->failed = 1; return; }
    b->p = p;
    b->cap = cap;
  }
}

static void put_value(ember_strbuf *b, const ember_graph *g, int v) {
  if (v < 0) { ember_strbuf_put(b, "none"); return; }
  const ember_gvalue *x = &g->values[v];
  if (x->kind == EMBER_GV_CONST) ember_strbuf_put(b, "%s", x->name);
  else ember_strbuf_put(b, "%%%d", v);
}

static void put_attr(ember_strbuf *b, const ember_attr_def *d, const ember_attr *a) {
  if (!a->present) { ember_strbuf_put(b, "none"); return; }
  switch (d->kind) {
  case EMBER_ATTR_FLOAT: ember_strbuf_put(b, "%.9g", a->f); break;
  case EMBER_ATTR_BOOL: ember_strbuf_put(b, "%s", a->i ? "true" : "false"); break;
  case EMBER_ATTR_STR: ember_strbuf_put(b, "%s", a->s ? a->s : "none"); break;
  case EMBER_ATTR_DTYPE: ember_strbuf_put(b, "%s", ember_dtype_name((ember_dtype)a->i)); break;
  case EMBER_ATTR_DIMS: case EMBER_ATTR_DIMS_VA: case EMBER_ATTR_INTS: case EMBER_ATTR_SIZE:
    ember_strbuf_put(b, "[");
    for (int i = 0; i < a->n; i++) ember_strbuf_put(b, "%s%lld", i ? "," : "", (long long)a->v[i]);
    ember_strbuf_put(b, "]");
    break;
  default: ember_strbuf_put(b, "%lld", (long long)a->i); break;
  }
}

char *ember_graph_dump(const ember_graph *g) {
  ember_strbuf b = {0};
  ember_strbuf_put(&b, "graph(");
  for (int i = 0; i < g->ninputs; i++) {
    const ember_gvalue *v = &g->values[g->inputs[i]];
    char s[128];
    ember_strbuf_put(&b, "%s%%%d: %s[%s]", i ? ", " : "", g->inputs[i], ember_dtype_name(v->dtype),
        ember_shape_text(v->ndim, v->shape, s, sizeof s));
  }
  ember_strbuf_put(&b, ")\n");
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    ember_strbuf_put(&b, "  ");
    for (int k = 0; k < n->nout; k++) ember_strbuf_put(&b, "%s%%%d", k ? ", " : "", n->out[k]);
    ember_strbuf_put(&b, " = %s(", n->op->name);
    for (int j = 0; j < n->nin; j++) {
      if (j) ember_strbuf_put(&b, ", ");
      put_value(&b, g, n->in[j]);
    }
    int first = 1;
    for (int k = 0; n->op->attrs && n->op->attrs[k].name; k++) {
      ember_strbuf_put(&b, "%s%s=", first && n->nin == 0 ? "" : ", ", n->op->attrs[k].name);
      first = 0;
      put_attr(&b, &n->op->attrs[k], &n->attr[k]);
    }
    ember_strbuf_put(&b, ")\n");
  }
  ember_strbuf_put(&b, "  return ");
  for (int j = 0; j < g->noutputs; j++) {
    if (j) ember_strbuf_put(&b, ", ");
    put_value(&b, g, g->outputs[j]);
  }
  ember_strbuf_put(&b, "\n");
  if (b.failed) { free(b.p); ember_error("export: out of memory"); return NULL; }
  return b.p;
}

/* }====== */
