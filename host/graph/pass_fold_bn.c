/*
** pass_fold_bn.c — folds an inference batch_norm into the conv2d or linear before it.
**
** batch_norm(y, mean, var, weight?, bias?, eps) is, per channel c of dim 1,
**   (y - mean[c]) * s[c] + bias[c]   with   s[c] = weight[c] / sqrt(var[c] + eps),
** and y = conv2d(x, W, b) or linear(x, W, b) is linear in W and b per output channel,
** so the pair is one conv2d / linear with
**   W'[c, ...] = W[c, ...] * s[c],   b'[c] = (b[c] - mean[c]) * s[c] + bias[c]
** (weight absent: 1; bias or b absent: 0). The new weights are computed in f64 and
** stored in W's dtype.
**
** Only when everything lines up: y is read by the batch_norm alone (nothing else may
** see the unnormalised value), W, b, mean, var, weight and bias are constants, y's
** dim 1 is the output channel (conv2d: a batched N x C x H x W result; linear: an
** N x C result, since batch_norm of a longer linear result normalises another dim),
** and every dtype is the one float dtype of y. Grouped convolutions fold as they are:
** W's dim 0 is the output channel whatever the groups. conv_transpose2d, whose weight
** holds output channels in dim 1 per group, is a different op and is left alone.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static int is_const(const ember_graph *g, int v) {
  return v >= 0 && g->values[v].kind == EMBER_GV_CONST;
}

/* An optional input: absent, or a constant of n elements. */
static int optional_const(const ember_graph *g, const ember_gnode *n, int j, int64_t c) {
  if (j >= n->nin || n->in[j] < 0) return 1;
  return is_const(g, n->in[j]) && ember_tensor_numel(g->values[n->in[j]].tensor) == c;
}

static ember_tensor *input_tensor(const ember_graph *g, const ember_gnode *n, int j) {
  return j < n->nin && n->in[j] >= 0 ? g->values[n->in[j]].tensor : NULL;
}

/* The node that makes batch_norm node bn's input, when the pair folds; -1 if not. */
static int foldable_producer(const ember_graph *g, const ember_gnode *bn) {
  if (bn->nin < 3 || !is_const(g, bn->in[1]) || !is_const(g, bn->in[2])) return -1;
  int y = bn->in[0];
  const ember_gvalue *yv = &g->values[y];
  if (yv->kind != EMBER_GV_NODE || ember_graph_uses(g, y) != 1) return -1;
  const ember_gnode *p = &g->nodes[yv->node];
  int conv = strcmp(p->op->name, "conv2d") == 0;
  if (!conv && strcmp(p->op->name, "linear") != 0) return -1;
  if (p->nin < 2 || !is_const(g, p->in[1]) || p->inplace) return -1;
  const ember_tensor *w = g->values[p->in[1]].tensor;
  if (w->ndim != (conv ? 4 : 2) || yv->ndim != (conv ? 4 : 2)) return -1;
  int64_t c = w->shape[0];
  if (yv->shape[1] != c || !ember_dtype_is_float(yv->dtype) || w->dtype != yv->dtype) return -1;
  if (g->values[bn->out[0]].dtype != yv->dtype) return -1;
  if (!optional_const(g, p, 2, c)) return -1;
  const ember_tensor *b = input_tensor(g, p, 2);
  if (b && b->dtype != yv->dtype) return -1;
  for (int j = 1; j < 5; j++) if (!optional_const(g, bn, j, c)) return -1;
  for (int j = 1; j < 5; j++) {
    const ember_tensor *t = input_tensor(g, bn, j);
    if (t && !ember_dtype_is_float(t->dtype)) return -1;
  }
  return yv->node;
}

/* The n values of t (or `absent` everywhere when t is NULL) as f64. */
static ember_status read_f64(ember_tensor *t, int64_t n, double absent, double *out) {
  if (t == NULL) {
    for (int64_t i = 0; i < n; i++) out[i] = absent;
    return EMBER_OK;
  }
  ember_tensor *h = ember_to_device(t, EMBER_CPU);
  if (h == NULL) return EMBER_ERROR;
  for (int64_t i = 0; i < n; i++) out[i] = ember_tensor_get(h, i);
  ember_tensor_release(h);
  return EMBER_OK;
}

/* A new constant from f64 values, in dtype dt, on device dev. */
static int add_const_f64(ember_graph *g, const char *base, ember_dtype dt, ember_device dev,
                         int ndim, const int64_t *shape, const double *x) {
  ember_tensor *t = ember_tensor_empty(dt, ndim, shape);
  if (t == NULL) return -1;
  int64_t n = ember_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) ember_tensor_set(t, i, x[i]);
  ember_tensor *d = ember_to_device(t, dev);
  ember_tensor_release(t);
  if (d == NULL) return -1;
  /* constant names are tensor names in one file: they must differ */
  size_t len = strlen(base) + 24;
  char *name = malloc(len);
  int v = -1;
  if (name) {
    snprintf(name, len, "%s", base);
    for (int k = 2;; k++) {
      int taken = 0;
      for (int u = 0; u < g->nvalues && !taken; u++)
        taken = g->values[u].name && strcmp(g->values[u].name, name) == 0;
      if (!taken) break;
      snprintf(name, len, "%s.%d", base, k);
    }
    v = ember_graph_add_const(g, name, d);
  } else {
    ember_error("export: out of memory");
  }
  free(name);
  ember_tensor_release(d);
  return v;
}

static ember_status fold_pair(ember_graph *g, int bi, int pi) {
  ember_gnode *bn = &g->nodes[bi], *p = &g->nodes[pi];
  ember_tensor *w = g->values[p->in[1]].tensor;
  int64_t c = w->shape[0], numel = ember_tensor_numel(w), row = c ? numel / c : 0;
  double eps = bn->attr[0].f;
  double *buf = malloc((size_t)(numel + 6 * c + 1) * sizeof *buf);
  if (buf == NULL) return ember_error("export: out of memory");
  double *wv = buf, *b = wv + numel, *mean = b + c, *var = mean + c, *gamma = var + c,
         *beta = gamma + c, *scale = beta + c;
  ember_status st = read_f64(w, numel, 0, wv);
  if (st == EMBER_OK) st = read_f64(input_tensor(g, p, 2), c, 0, b);
  if (st == EMBER_OK) st = read_f64(input_tensor(g, bn, 1), c, 0, mean);
  if (st == EMBER_OK) st = read_f64(input_tensor(g, bn, 2), c, 0, var);
  if (st == EMBER_OK) st = read_f64(input_tensor(g, bn, 3), c, 1, gamma);
  if (st == EMBER_OK) st = read_f64(input_tensor(g, bn, 4), c, 0, beta);
  if (st != EMBER_OK) { free(buf); return st; }
  for (int64_t o = 0; o < c; o++) {
    scale[o] = gamma[o] / sqrt(var[o] + eps);
    for (int64_t i = 0; i < row; i++) wv[o * row + i] *= scale[o];
    b[o] = (b[o] - mean[o]) * scale[o] + beta[o];
  }
  char base[256];
  ember_device dev = w->storage->device;
  const char *wname = g->values[p->in[1]].name ? g->values[p->in[1]].name : "weight";
  snprintf(base, sizeof base, "%s.bn", wname);
  int nw = add_const_f64(g, base, w->dtype, dev, w->ndim, w->shape, wv);
  int nb = -1;
  if (nw >= 0) {
    int bias_of = p->nin > 2 && p->in[2] >= 0 ? p->in[2] : -1;
    if (bias_of >= 0 && g->values[bias_of].name)
      snprintf(base, sizeof base, "%s.bn", g->values[bias_of].name);
    else
      snprintf(base, sizeof base, "%s.bn_bias", wname);
    nb = add_const_f64(g, base, w->dtype, dev, 1, &c, b);
  }
  free(buf);
  if (nw < 0 || nb < 0) return EMBER_ERROR;

  bn = &g->nodes[bi];
  p = &g->nodes[pi];
  if (p->nin < 3) {
    int *in = realloc(p->in, 3 * sizeof *in);
    if (in == NULL) return ember_error("export: out of memory");
    p->in = in;
    p->nin = 3;
  }
  p->in[1] = nw;
  p->in[2] = nb;
  ember_graph_replace_uses(g, bn->out[0], p->out[0]);
  ember_graph_kill_node(g, bi);
  return EMBER_OK;
}

int ember_pass_fold_bn(ember_graph *g) {
  int folded = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL || strcmp(n->op->name, "batch_norm") != 0) continue;
    int p = foldable_producer(g, n);
    if (p < 0) continue;
    if (fold_pair(g, i, p) != EMBER_OK) return -1;
    folded++;
  }
  if (folded) ember_graph_compact(g);
  return folded;
}
