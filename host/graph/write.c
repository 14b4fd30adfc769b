/*
** write.c — the program file: a safetensors file whose tensors are the graph's
** constants (one copy of each distinct content) and whose metadata holds the graph and
** the plan as JSON under "ember.program" (docs/export.md). host/rt/load.c reads it.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define PROGRAM_VERSION 1

static void put_string(ember_strbuf *b, const char *s) {
  ember_strbuf_put(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') ember_strbuf_put(b, "\\%c", *p);
    else if (*p < 0x20) ember_strbuf_put(b, "\\u%04x", *p);
    else ember_strbuf_put(b, "%c", *p);
  }
  ember_strbuf_put(b, "\"");
}

/* An integer that may follow dynamic dims: a number, a dim's name, or {"add", "mul"}. */
static void put_expr(ember_strbuf *b, const ember_graph *g, const ember_gexpr *e) {
  int nterms = 0, only = -1;
  for (int s = 0; s < g->nsyms; s++)
    if (e->mul[s]) { nterms++; only = s; }
  if (nterms == 0) { ember_strbuf_put(b, "%lld", (long long)e->add); return; }
  if (nterms == 1 && e->add == 0 && e->mul[only] == 1) { put_string(b, g->syms[only].name); return; }
  ember_strbuf_put(b, "{\"add\":%lld,\"mul\":{", (long long)e->add);
  int first = 1;
  for (int s = 0; s < g->nsyms; s++) {
    if (!e->mul[s]) continue;
    if (!first) ember_strbuf_put(b, ",");
    first = 0;
    put_string(b, g->syms[s].name);
    ember_strbuf_put(b, ":%lld", (long long)e->mul[s]);
  }
  ember_strbuf_put(b, "}}");
}

static const ember_gsymattr *sym_of(const ember_gnode *n, int k, int j) {
  for (int i = 0; i < n->nsym; i++)
    if (n->sym[i].k == k && n->sym[i].j == j) return &n->sym[i];
  return NULL;
}

static void put_int(ember_strbuf *b, const ember_graph *g, const ember_gnode *n, int k, int j,
                    int64_t v) {
  const ember_gsymattr *s = sym_of(n, k, j);
  if (s) put_expr(b, g, &s->expr);
  else ember_strbuf_put(b, "%lld", (long long)v);
}

/* Floats keep every bit: 17 significant digits read back to the same double; JSON
** has no inf or NaN, so those are written as strings. */
static void put_float(ember_strbuf *b, double f) {
  if (isnan(f)) ember_strbuf_put(b, "\"nan\"");
  else if (isinf(f)) ember_strbuf_put(b, f > 0 ? "\"inf\"" : "\"-inf\"");
  else ember_strbuf_put(b, "%.17g", f);
}

static void put_attrs(ember_strbuf *b, const ember_graph *g, const ember_gnode *n) {
  ember_strbuf_put(b, "{");
  for (int k = 0; n->op->attrs && n->op->attrs[k].name; k++) {
    const ember_attr *a = &n->attr[k];
    if (k) ember_strbuf_put(b, ",");
    put_string(b, n->op->attrs[k].name);
    ember_strbuf_put(b, ":");
    if (!a->present) { ember_strbuf_put(b, "null"); continue; }
    switch (n->op->attrs[k].kind) {
    case EMBER_ATTR_FLOAT: put_float(b, a->f); break;
    case EMBER_ATTR_BOOL: ember_strbuf_put(b, a->i ? "true" : "false"); break;
    case EMBER_ATTR_STR: put_string(b, a->s ? a->s : ""); break;
    case EMBER_ATTR_DTYPE: put_string(b, ember_dtype_name((ember_dtype)a->i)); break;
    case EMBER_ATTR_DIMS: case EMBER_ATTR_DIMS_VA: case EMBER_ATTR_INTS: case EMBER_ATTR_SIZE:
      ember_strbuf_put(b, "[");
      for (int j = 0; j < a->n; j++) {
        if (j) ember_strbuf_put(b, ",");
        put_int(b, g, n, k, j, a->v[j]);
      }
      ember_strbuf_put(b, "]");
      break;
    default: put_int(b, g, n, k, -1, a->i); break;
    }
  }
  ember_strbuf_put(b, "}");
}

static void put_shape(ember_strbuf *b, const ember_graph *g, const ember_gvalue *v) {
  ember_strbuf_put(b, "[");
  for (int d = 0; d < v->ndim; d++) {
    if (d) ember_strbuf_put(b, ",");
    put_expr(b, g, &v->dim[d]);
  }
  ember_strbuf_put(b, "]");
}

/* {====== constants: one tensor per distinct content */

typedef struct const_table {
  int n;
  int *rep;            /* per value: the constant value whose tensor it uses (itself or an equal one) */
  char **name;         /* per value: its unique tensor name in the file (reps only) */
  ember_tensor **host; /* per value: contiguous cpu copy (reps only) */
} const_table;

static uint64_t content_hash(const ember_tensor *t) {
  const unsigned char *p = ember_tensor_data(t);
  size_t n = ember_tensor_nbytes(t);
  uint64_t h = 1469598103934665603ull ^ (uint64_t)t->dtype;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void const_table_free(const_table *ct) {
  for (int v = 0; v < ct->n; v++) {
    if (ct->name) free(ct->name[v]);
    if (ct->host) ember_tensor_release(ct->host[v]);
  }
  free(ct->rep);
  free(ct->name);
  free(ct->host);
}

static ember_status const_table_make(const ember_graph *g, const_table *ct) {
  int n = g->nvalues;
  ct->n = n;
  ct->rep = malloc((size_t)(n + 1) * sizeof *ct->rep);
  ct->name = calloc((size_t)n + 1, sizeof *ct->name);
  ct->host = calloc((size_t)n + 1, sizeof *ct->host);
  uint64_t *hash = calloc((size_t)n + 1, sizeof *hash);
  if (!ct->rep || !ct->name || !ct->host || !hash) {
    free(hash);
    return ember_error("export: out of memory");
  }
  for (int v = 0; v < n; v++) {
    ct->rep[v] = -1;
    const ember_gvalue *x = &g->values[v];
    if (x->kind != EMBER_GV_CONST) continue;
    ember_tensor *h = ember_to_device(x->tensor, EMBER_CPU);
    ember_tensor *c = h ? ember_contiguous(h) : NULL;
    ember_tensor_release(h);
    if (c == NULL) { free(hash); return EMBER_ERROR; }
    hash[v] = content_hash(c);
    for (int u = 0; u < v && ct->rep[v] < 0; u++) {
      if (ct->rep[u] != u || hash[u] != hash[v]) continue;
      const ember_tensor *o = ct->host[u];
      if (o->dtype == c->dtype && o->ndim == c->ndim &&
          memcmp(o->shape, c->shape, (size_t)c->ndim * sizeof c->shape[0]) == 0 &&
          memcmp(ember_tensor_data(o), ember_tensor_data(c), ember_tensor_nbytes(c)) == 0)
        ct->rep[v] = u;
    }
    if (ct->rep[v] >= 0) { ember_tensor_release(c); continue; }
    ct->rep[v] = v;
    ct->host[v] = c;
    /* names must be unique in the file: a clash gets a suffix */
    const char *base = x->name ? x->name : "const";
    size_t len = strlen(base) + 16;
    char *name = malloc(len);
    if (name == NULL) { free(hash); return ember_error("export: out of memory"); }
    snprintf(name, len, "%s", base);
    for (int k = 2;; k++) {
      int clash = strncmp(name, "__", 2) == 0;
      for (int u = 0; u < v && !clash; u++) clash = ct->name[u] && strcmp(ct->name[u], name) == 0;
      if (!clash) break;
      snprintf(name, len, "%s.%d", base, k);
    }
    ct->name[v] = name;
  }
  free(hash);
  return EMBER_OK;
}

/* }====== */

static char *program_json(const ember_graph *g, const ember_plan *p, const const_table *ct) {
  ember_strbuf b = {0};
  ember_strbuf_put(&b, "{\"format\":\"ember.program\",\"version\":%d,\"index_base\":%d,\"dims\":[",
                   PROGRAM_VERSION, g->index_base);
  for (int s = 0; s < g->nsyms; s++) {
    ember_strbuf_put(&b, "%s{\"name\":", s ? "," : "");
    put_string(&b, g->syms[s].name);
    ember_strbuf_put(&b, ",\"max\":%lld}", (long long)g->syms[s].max);
  }
  ember_strbuf_put(&b, "],\"values\":[");
  for (int v = 0; v < g->nvalues; v++) {
    const ember_gvalue *x = &g->values[v];
    ember_strbuf_put(&b, "%s\n{\"dtype\":\"%s\",\"shape\":", v ? "," : "", ember_dtype_name(x->dtype));
    put_shape(&b, g, x);
    if (x->is_index) ember_strbuf_put(&b, ",\"index\":true");
    if (x->kind == EMBER_GV_INPUT) {
      ember_strbuf_put(&b, ",\"input\":%d,\"name\":", x->input);
      put_string(&b, x->name ? x->name : "");
    } else if (x->kind == EMBER_GV_CONST) {
      ember_strbuf_put(&b, ",\"const\":");
      put_string(&b, ct->name[ct->rep[v]]);
    } else if (p && p->slot[v].alias >= 0) {
      ember_strbuf_put(&b, ",\"alias\":%d", p->slot[v].alias);
    } else if (p) {
      ember_strbuf_put(&b, ",\"at\":%lld,\"bytes\":%lld", (long long)p->slot[v].offset,
                       (long long)p->slot[v].bytes);
    }
    if (x->kind == EMBER_GV_NODE && x->is_view) ember_strbuf_put(&b, ",\"view\":true");
    ember_strbuf_put(&b, "}");
  }
  ember_strbuf_put(&b, "],\"nodes\":[");
  int first = 1;
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    ember_strbuf_put(&b, "%s\n{\"op\":", first ? "" : ",");
    first = 0;
    put_string(&b, n->op->name);
    ember_strbuf_put(&b, ",\"in\":[");
    for (int j = 0; j < n->nin; j++) ember_strbuf_put(&b, "%s%d", j ? "," : "", n->in[j]);
    ember_strbuf_put(&b, "],\"out\":[");
    for (int k = 0; k < n->nout; k++) ember_strbuf_put(&b, "%s%d", k ? "," : "", n->out[k]);
    ember_strbuf_put(&b, "],\"attrs\":");
    put_attrs(&b, g, n);
    if (n->inplace) ember_strbuf_put(&b, ",\"inplace\":true");
    ember_strbuf_put(&b, "}");
  }
  ember_strbuf_put(&b, "],\"outputs\":[");
  for (int j = 0; j < g->noutputs; j++) {
    const ember_gvalue *x = &g->values[g->outputs[j]];
    ember_strbuf_put(&b, "%s{\"value\":%d,\"name\":", j ? "," : "", g->outputs[j]);
    char def[32];
    snprintf(def, sizeof def, "output%d", j + 1);
    put_string(&b, x->name ? x->name : def);
    ember_strbuf_put(&b, "}");
  }
  ember_strbuf_put(&b, "],\"plan\":{\"arena\":%lld,\"workspace\":%lld,\"threads\":%d,\"naive\":%lld}}",
                   p ? (long long)p->arena_bytes : 0LL, p ? (long long)p->workspace_bytes : 0LL,
                   p ? p->workspace_threads : 1, p ? (long long)p->naive_bytes : 0LL);
  if (b.failed) { free(b.p); ember_error("export: out of memory"); return NULL; }
  return b.p;
}

char *ember_program_json(const ember_graph *g, const ember_plan *p) {
  const_table ct = {0};
  char *json = const_table_make(g, &ct) == EMBER_OK ? program_json(g, p, &ct) : NULL;
  const_table_free(&ct);
  return json;
}

ember_status ember_program_save(const char *path, const ember_graph *g, const ember_plan *p,
                                int nmeta, const char *const *keys, const char *const *values) {
  if (p == NULL) return ember_error("export: a program needs a memory plan");
  if (ember_graph_validate(g) != EMBER_OK) return EMBER_ERROR;
  const_table ct = {0};
  char *json = NULL;
  const char **names = NULL, **mkeys = NULL, **mvals = NULL;
  ember_tensor **tensors = NULL;
  ember_status st = const_table_make(g, &ct);
  if (st == EMBER_OK && (json = program_json(g, p, &ct)) == NULL) st = EMBER_ERROR;
  if (st == EMBER_OK) {
    names = malloc((size_t)(g->nvalues + 1) * sizeof *names);
    tensors = malloc((size_t)(g->nvalues + 1) * sizeof *tensors);
    mkeys = malloc((size_t)(nmeta + 1) * sizeof *mkeys);
    mvals = malloc((size_t)(nmeta + 1) * sizeof *mvals);
    if (!names || !tensors || !mkeys || !mvals) st = ember_error("export: out of memory");
  }
  if (st == EMBER_OK) {
    int n = 0;
    for (int v = 0; v < g->nvalues; v++)
      if (g->values[v].kind == EMBER_GV_CONST && ct.rep[v] == v) {
        names[n] = ct.name[v];
        tensors[n++] = ct.host[v];
      }
    mkeys[0] = "ember.program";
    mvals[0] = json;
    int m = 1;
    for (int i = 0; i < nmeta; i++) {
      if (strcmp(keys[i], "ember.program") == 0) continue;
      mkeys[m] = keys[i];
      mvals[m++] = values[i];
    }
    st = ember_st_save(path, n, names, tensors, m, mkeys, mvals);
  }
  free(names);
  free(tensors);
  free(mkeys);
  free(mvals);
  free(json);
  const_table_free(&ct);
  return st;
}
