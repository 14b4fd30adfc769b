/*
** pass_fuse.c — fusion, in two walks:
**
** (a) epilogues: an activation (relu, gelu, silu, tanh, sigmoid) whose input is the
**     result of a linear or conv2d that nothing else reads becomes the activation
**     attribute of one fused_linear / fused_conv2d.
** (b) elementwise trees: a tree of elementwise ops on one float dtype and one result
**     shape, whose inner values are each read once, by the tree, becomes one
**     fused_pointwise with the tree written as RPN ("%0 %1 add relu %2 mul"); a tree
**     of one op is left as it is. A program must load on either backend, so a tree
**     stays within the tighter of the CPU and Vulkan kernels' limits (fused.h): at
**     most 7 distinct inputs and 16 words. Trees grow from their root, nearest nodes
**     first, while they fit.
**
** The fused node takes the slot of the last node it replaces and writes that node's
** output value, so the value keeps its id, name, dim expressions and place in the
** order; the other nodes die. A value that is a graph output is read by the graph, so
** it is never an inner value: fusion stops there.
**
** Dtype semantics are kept by construction: every node of a tree, and every input it
** reads, has the tree's one dtype (f32 or f64), so no op in it promotes or casts, and
** a fused op computing in that dtype computes what the chain did. Inputs may
** broadcast to the result shape as they did in the ops they came from. Ops with
** attributes RPN cannot carry (add and sub with alpha != 1, div with a rounding mode,
** softplus) end a tree.
*/
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "fused.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define FUSE_MAX_INPUTS MIN(EMBER_FUSED_INPUTS, EMBER_FUSED_VK_INPUTS)
#define FUSE_MAX_WORDS MIN(EMBER_FUSED_STEPS, EMBER_FUSED_VK_STEPS)

/* Node i's slot becomes op(in, attr), writing the outputs the old node wrote. */
static ember_status rewrite_node(ember_graph *g, int i, const ember_op *op, int nin, const int *in,
                                 const ember_attr *attr, int nsym, const ember_gsymattr *sym) {
  int *ins = malloc((size_t)(nin > 0 ? nin : 1) * sizeof *ins);
  ember_gsymattr *syms = nsym ? malloc((size_t)nsym * sizeof *syms) : NULL;
  if (ins == NULL || (nsym && syms == NULL)) {
    free(ins);
    free(syms);
    return ember_error("export: out of memory");
  }
  memcpy(ins, in, (size_t)nin * sizeof *ins);
  if (nsym) memcpy(syms, sym, (size_t)nsym * sizeof *syms);
  ember_gnode *n = &g->nodes[i];
  int nout = n->nout, out[EMBER_MAX_OUTPUTS];
  memcpy(out, n->out, sizeof out);
  ember_graph_kill_node(g, i);
  memset(n, 0, sizeof *n);
  n->op = op;
  n->nin = nin;
  n->in = ins;
  n->nout = nout;
  memcpy(n->out, out, sizeof out);
  memcpy(n->attr, attr, sizeof n->attr);
  for (int k = 0; op->attrs && op->attrs[k].name; k++)
    if (op->attrs[k].kind == EMBER_ATTR_STR && n->attr[k].s) {
      size_t len = strlen(n->attr[k].s) + 1;
      char *s = malloc(len);
      if (s) memcpy(s, n->attr[k].s, len);
      n->attr[k].s = s;
    }
  n->nsym = nsym;
  n->sym = syms;
  return EMBER_OK;
}

static void set_str(const ember_op *op, ember_attr *attr, const char *name, const char *value) {
  int k = ember_op_attr_index(op, name);
  if (k < 0) return;
  attr[k].present = 1;
  attr[k].s = value;
}

static int same_type(const ember_gvalue *a, const ember_gvalue *b) {
  return a->dtype == b->dtype && a->ndim == b->ndim &&
         memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0 &&
         memcmp(a->dim, b->dim, (size_t)a->ndim * sizeof a->dim[0]) == 0;
}

static int is_float(ember_dtype dt) { return dt == EMBER_F32 || dt == EMBER_F64; }

/* {====== (a) activations into linear / conv2d */

/* The activation attribute for node n, or NULL when it is not one a GEMM epilogue takes. */
static const char *epilogue_of(const ember_gnode *n) {
  const char *name = n->op->name;
  if (strcmp(name, "gelu") == 0) {
    const char *a = n->attr[0].present && n->attr[0].s ? n->attr[0].s : "none";
    return strcmp(a, "none") == 0 ? "gelu" : strcmp(a, "tanh") == 0 ? "gelu_tanh" : NULL;
  }
  static const char *const plain[] = { "relu", "silu", "tanh", "sigmoid", NULL };
  for (int k = 0; plain[k]; k++) if (strcmp(name, plain[k]) == 0) return plain[k];
  return NULL;
}

static ember_status fuse_epilogue(ember_graph *g, int ai, int pi, const ember_op *fused,
                                  const char *activation) {
  const ember_gnode *p = &g->nodes[pi];
  ember_attr attr[EMBER_MAX_ATTRS];
  memset(attr, 0, sizeof attr);
  int na = ember_op_attr_count(fused);
  if (na) memcpy(attr, ember_op_defaults(fused), (size_t)na * sizeof *attr);
  /* the GEMM's attributes by name; so are the entries that follow dynamic dims */
  ember_gsymattr sym[EMBER_MAX_ATTRS * EMBER_MAX_INTS];
  int nsym = 0;
  for (int k = 0; p->op->attrs && p->op->attrs[k].name; k++) {
    int f = ember_op_attr_index(fused, p->op->attrs[k].name);
    if (f < 0) return ember_error("export: %s has no attribute %s of %s", fused->name,
                                  p->op->attrs[k].name, p->op->name);
    attr[f] = p->attr[k];
    for (int s = 0; s < p->nsym; s++)
      if (p->sym[s].k == k && nsym < (int)(sizeof sym / sizeof sym[0])) {
        sym[nsym] = p->sym[s];
        sym[nsym++].k = f;
      }
  }
  set_str(fused, attr, "activation", activation);
  int in[3], nin = p->nin;
  memcpy(in, p->in, (size_t)nin * sizeof *in);
  ember_graph_kill_node(g, pi);
  return rewrite_node(g, ai, fused, nin, in, attr, nsym, sym);
}

static int fuse_epilogues(ember_graph *g) {
  const ember_op *flinear = ember_op_find("fused_linear");
  const ember_op *fconv = ember_op_find("fused_conv2d");
  int fused = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *a = &g->nodes[i];
    if (a->op == NULL || a->nin != 1 || a->in[0] < 0 || a->inplace) continue;
    const char *act = epilogue_of(a);
    if (act == NULL) continue;
    const ember_gvalue *x = &g->values[a->in[0]];
    if (x->kind != EMBER_GV_NODE || !is_float(x->dtype) || x->is_view) continue;
    if (!same_type(x, &g->values[a->out[0]]) || ember_graph_uses(g, a->in[0]) != 1) continue;
    const ember_gnode *p = &g->nodes[x->node];
    const ember_op *target = strcmp(p->op->name, "linear") == 0 ? flinear
                           : strcmp(p->op->name, "conv2d") == 0 ? fconv : NULL;
    if (target == NULL || p->inplace || p->nin > 3) continue;
    if (fuse_epilogue(g, i, x->node, target, act) != EMBER_OK) return -1;
    fused++;
  }
  return fused;
}

/* }====== */

/* {====== (b) elementwise trees into fused_pointwise */

/* The RPN word for node n and its arity, or NULL when n is not an op RPN can say. */
static const char *word_of(const ember_gnode *n, int *arity) {
  static const char *const unary[] = { "neg", "abs", "relu", "sigmoid", "tanh", "exp", "log",
                                       "sqrt", "rsqrt", "silu", "sin", "cos", NULL };
  static const char *const binary[] = { "add", "sub", "mul", "div", "maximum", "minimum", "pow", NULL };
  const char *name = n->op->name;
  for (int k = 0; unary[k]; k++)
    if (strcmp(name, unary[k]) == 0) { *arity = 1; return unary[k]; }
  if (strcmp(name, "gelu") == 0) { *arity = 1; return epilogue_of(n); }
  for (int k = 0; binary[k]; k++) {
    if (strcmp(name, binary[k]) != 0) continue;
    *arity = 2;
    int alpha = ember_op_attr_index(n->op, "alpha");
    if (alpha >= 0 && n->attr[alpha].present && n->attr[alpha].f != 1) return NULL;
    int mode = ember_op_attr_index(n->op, "rounding_mode");
    if (mode >= 0 && n->attr[mode].present && n->attr[mode].s && strcmp(n->attr[mode].s, "none") != 0)
      return NULL;
    return binary[k];
  }
  return NULL;
}

/* Node q can be in a tree whose result is value root: an op RPN says, on the root's
** dtype and shape, reading only values of that dtype. */
static int tree_node(const ember_graph *g, const ember_gnode *q, int root) {
  int arity;
  if (q->op == NULL || q->inplace || q->nsym || q->nout != 1 || word_of(q, &arity) == NULL) return 0;
  if (q->nin != arity) return 0;
  const ember_gvalue *r = &g->values[root];
  if (!same_type(&g->values[q->out[0]], r)) return 0;
  for (int j = 0; j < q->nin; j++)
    if (q->in[j] < 0 || g->values[q->in[j]].dtype != r->dtype) return 0;
  return 1;
}

typedef struct tree {
  int nodes[FUSE_MAX_WORDS];   /* node ids in the tree, root first */
  int n;
  int leaves[FUSE_MAX_INPUTS]; /* distinct values it reads from outside */
  int nleaves;
  int words;                   /* RPN length: a word per node and per read of a leaf */
} tree;

static int in_tree(const tree *t, int node) {
  for (int k = 0; k < t->n; k++) if (t->nodes[k] == node) return 1;
  return 0;
}

static int leaf_index(const tree *t, int v) {
  for (int k = 0; k < t->nleaves; k++) if (t->leaves[k] == v) return k;
  return -1;
}

/* Takes node q, whose output is leaf k (read once), into the tree if it still fits:
** the leaf's load word becomes q's own word and a load for each of q's inputs. */
static int absorb(const ember_graph *g, tree *t, int k, int q) {
  int leaves[2 * FUSE_MAX_INPUTS], n = 0;
  for (int j = 0; j < t->nleaves; j++) if (j != k) leaves[n++] = t->leaves[j];
  const ember_gnode *node = &g->nodes[q];
  for (int j = 0; j < node->nin; j++) {
    int dup = 0;
    for (int m = 0; m < n; m++) dup |= leaves[m] == node->in[j];
    if (!dup) leaves[n++] = node->in[j];
  }
  if (n > FUSE_MAX_INPUTS || t->words + node->nin > FUSE_MAX_WORDS) return 0;
  memcpy(t->leaves, leaves, (size_t)n * sizeof *leaves);
  t->nleaves = n;
  t->nodes[t->n++] = q;
  t->words += node->nin;
  return 1;
}

/* Grows the tree under root node r, nearest nodes first. */
static void grow(const ember_graph *g, tree *t, int r, const int *uses, const char *done) {
  t->n = 0;
  t->nleaves = 0;
  t->nodes[t->n++] = r;
  const ember_gnode *root = &g->nodes[r];
  t->words = 1 + root->nin;
  for (int j = 0; j < root->nin; j++)
    if (leaf_index(t, root->in[j]) < 0) t->leaves[t->nleaves++] = root->in[j];
  for (int changed = 1; changed;) {
    changed = 0;
    for (int k = 0; k < t->nleaves && !changed; k++) {
      const ember_gvalue *x = &g->values[t->leaves[k]];
      if (x->kind != EMBER_GV_NODE || uses[t->leaves[k]] != 1) continue;
      int q = x->node;
      if (done[q] || in_tree(t, q) || !tree_node(g, &g->nodes[q], root->out[0])) continue;
      changed = absorb(g, t, k, q);
    }
  }
}

typedef struct rpn { char *p; size_t n, cap; int failed; } rpn;

static void put_word(rpn *b, const char *w) {
  size_t len = strlen(w);
  if (b->n + len + 2 > b->cap) {
    size_t cap = 2 * b->cap + len + 64;
    char *p = realloc(b->p, cap);
    if (p == NULL) { b->failed = 1; return; }
    b->p = p;
    b->cap = cap;
  }
  if (b->n) b->p[b->n++] = ' ';
  memcpy(b->p + b->n, w, len + 1);
  b->n += len;
}

/* RPN of value v; leaves are numbered in order of first appearance into order[]. */
static void emit(const ember_graph *g, const tree *t, int v, rpn *b, int *order, int *norder) {
  const ember_gvalue *x = &g->values[v];
  if (x->kind == EMBER_GV_NODE && in_tree(t, x->node)) {
    const ember_gnode *q = &g->nodes[x->node];
    for (int j = 0; j < q->nin; j++) emit(g, t, q->in[j], b, order, norder);
    int arity;
    put_word(b, word_of(q, &arity));
    return;
  }
  int k = 0;
  while (k < *norder && order[k] != v) k++;
  if (k == *norder) order[(*norder)++] = v;
  char w[16];
  w[0] = '%';
  w[1] = (char)('0' + k);
  w[2] = 0;
  put_word(b, w);
}

static ember_status fuse_tree(ember_graph *g, const ember_op *fused, const tree *t) {
  rpn b = {0};
  int order[FUSE_MAX_INPUTS], norder = 0;
  int r = t->nodes[0];
  emit(g, t, g->nodes[r].out[0], &b, order, &norder);
  if (b.failed) {
    free(b.p);
    return ember_error("export: out of memory");
  }
  ember_attr attr[EMBER_MAX_ATTRS];
  memset(attr, 0, sizeof attr);
  int na = ember_op_attr_count(fused);
  if (na) memcpy(attr, ember_op_defaults(fused), (size_t)na * sizeof *attr);
  set_str(fused, attr, "code", b.p);
  for (int k = 1; k < t->n; k++) ember_graph_kill_node(g, t->nodes[k]);
  ember_status st = rewrite_node(g, r, fused, norder, order, attr, 0, NULL);
  free(b.p);
  return st;
}

static int fuse_pointwise(ember_graph *g) {
  const ember_op *fused = ember_op_find("fused_pointwise");
  if (fused == NULL) return 0;
  /* counts only go down as trees fuse (a fused node reads each input once), so the
  ** counts taken here never let a value read twice into a tree */
  int *uses = ember_graph_use_counts(g);
  char *done = calloc((size_t)(g->nnodes > 0 ? g->nnodes : 1), 1);
  tree *t = malloc(sizeof *t);
  if (uses == NULL || done == NULL || t == NULL) {
    free(uses);
    free(done);
    free(t);
    ember_error("export: out of memory");
    return -1;
  }
  int fusedn = 0;
  for (int i = g->nnodes - 1; i >= 0; i--) {
    const ember_gnode *n = &g->nodes[i];
    if (done[i] || n->op == NULL || !is_float(g->values[n->out[0]].dtype) ||
        !tree_node(g, n, n->out[0]))
      continue;
    grow(g, t, i, uses, done);
    for (int k = 0; k < t->n; k++) done[t->nodes[k]] = 1;
    if (t->n < 2) continue;
    if (fuse_tree(g, fused, t) != EMBER_OK) { fusedn = -1; break; }
    fusedn++;
  }
  free(uses);
  free(done);
  free(t);
  return fusedn;
}

/* }====== */

int ember_pass_fuse(ember_graph *g) {
  int a = fuse_epilogues(g);
  if (a < 0) return -1;
  int b = fuse_pointwise(g);
  if (b < 0) return -1;
  if (a + b) ember_graph_compact(g);
  return a + b;
}
