/*
** test_graph_passes.c — the export passes (dce, fold, cse, fold_bn, fuse), the
** pipeline that runs them, and the memory plan, on small graphs built by hand.
** Prints TAP lines; exits non-zero if any check fails.
**
** Every graph is built as a tracer would build it: each node is run on example
** tensors as it is added, which gives its output dtypes and shapes. Each pass is
** checked three ways: the graph's text after it (ember_graph_dump, node lines only),
** its node counts, and its values: a small interpreter here runs the graph node by
** node through ember_dispatch on random inputs, before and after, and the outputs
** must agree. The plan is checked exhaustively (no two values alive at once share a
** byte) and by running the graph inside a real arena laid out as the plan says.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"
#include "core.h"
#include "graph.h"

static int ntest, nfail;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - %s\n", ok ? "" : "not ", ntest, what);
}

static void check_str(const char *got, const char *want, const char *what) {
  int ok = got && strcmp(got, want) == 0;
  check(ok, what);
  if (!ok) printf("# got:\n%s# want:\n%s", got ? got : "(null)\n", want);
}

static void check_int(long long got, long long want, const char *what) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s (got %lld, want %lld)", what, got, want);
  check(got == want, buf);
}

/* {====== building graphs on example tensors */

#define MAXV 512

typedef struct builder {
  ember_graph *g;
  ember_tensor *val[MAXV];     /* example value of each graph value */
  int last_node;
} builder;

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static double uniform(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;   /* [-1, 1) */
}

static ember_tensor *random_tensor(ember_dtype dt, int ndim, const int64_t *shape, double lo) {
  ember_tensor *t = ember_tensor_empty(dt, ndim, shape);
  int64_t n = ember_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    double u = uniform();
    ember_tensor_set(t, i, lo > 0 ? lo + fabs(u) : ember_dtype_is_float(dt) ? u : floor(u * 5));
  }
  return t;
}

static builder *new_builder(void) {
  builder *b = calloc(1, sizeof *b);
  b->g = ember_graph_new();
  return b;
}

static void free_builder(builder *b) {
  for (int v = 0; v < MAXV; v++) ember_tensor_release(b->val[v]);
  ember_graph_free(b->g);
  free(b);
}

static int input(builder *b, const char *name, ember_dtype dt, int ndim, int64_t d0, int64_t d1,
                 int64_t d2, int64_t d3) {
  int64_t shape[4] = {d0, d1, d2, d3};
  int v = ember_graph_add_input(b->g, name, dt, ndim, shape);
  b->val[v] = random_tensor(dt, ndim, shape, 0);
  return v;
}

static int constant_t(builder *b, const char *name, ember_tensor *t) {
  int v = ember_graph_add_const(b->g, name, t);
  b->val[v] = t;    /* takes over the caller's reference */
  return v;
}

/* lo > 0: values in [lo, lo + 1) (variances) */
static int constant(builder *b, const char *name, ember_dtype dt, int ndim, int64_t d0, int64_t d1,
                    int64_t d2, int64_t d3, double lo) {
  int64_t shape[4] = {d0, d1, d2, d3};
  return constant_t(b, name, random_tensor(dt, ndim, shape, lo));
}

/* Runs op on the example values of its inputs (-1: absent) and records it; returns
** its first output value. attrs in ember_op_run's text form. */
static int node(builder *b, const char *opname, const char *attrs, int nin, const int *in) {
  const ember_op *op = ember_op_find(opname);
  if (op == NULL) {
    printf("# no op %s\n", opname);
    return -1;
  }
  ember_tensor *t[16];
  for (int j = 0; j < nin; j++) t[j] = in[j] < 0 ? NULL : b->val[in[j]];
  ember_call c;
  char buf[512];
  ember_call_init(&c, op, nin, t);
  c.index_base = b->g->index_base;
  if (ember_call_parse_attrs(&c, attrs, buf, sizeof buf) != EMBER_OK || ember_dispatch(&c) != EMBER_OK) {
    printf("# %s: %s\n", opname, ember_last_error());
    return -1;
  }
  ember_dtype dt[EMBER_MAX_OUTPUTS];
  int ndim[EMBER_MAX_OUTPUTS];
  int64_t shape[EMBER_MAX_OUTPUTS][EMBER_MAX_DIMS];
  for (int k = 0; k < c.nout; k++) {
    dt[k] = c.out[k]->dtype;
    ndim[k] = c.out[k]->ndim;
    memcpy(shape[k], c.out[k]->shape, sizeof shape[k]);
  }
  int n = ember_graph_add_node(b->g, op, nin, in, c.attr, c.nout, dt, ndim,
                               (const int64_t (*)[EMBER_MAX_DIMS])shape);
  b->last_node = n;
  for (int k = 0; k < c.nout; k++) {
    int v = b->g->nodes[n].out[k];
    if ((op->flags & EMBER_OP_VIEW) && t[0] && c.out[k]->storage == t[0]->storage)
      b->g->values[v].is_view = 1;
    b->val[v] = c.out[k];
  }
  return b->g->nodes[n].out[0];
}

static int op1(builder *b, const char *op, const char *attrs, int a) {
  return node(b, op, attrs, 1, &a);
}

static int op2(builder *b, const char *op, const char *attrs, int a, int c) {
  int in[2] = {a, c};
  return node(b, op, attrs, 2, in);
}

static int op3(builder *b, const char *op, const char *attrs, int a, int c, int d) {
  int in[3] = {a, c, d};
  return node(b, op, attrs, 3, in);
}

static void outputs(builder *b, int n, int o0, int o1, int o2) {
  int o[3] = {o0, o1, o2};
  ember_graph_set_outputs(b->g, n, o);
}

/* }====== */

/* {====== a reference interpreter */

/* Runs g on inputs (in g->inputs order); returns its outputs, or NULL with a message. */
static ember_tensor **run_graph(const ember_graph *g, ember_tensor *const *inputs) {
  ember_tensor **val = calloc((size_t)g->nvalues + 1, sizeof *val);
  ember_tensor **out = calloc((size_t)g->noutputs + 1, sizeof *out);
  int ok = 1;
  for (int i = 0; i < g->ninputs; i++) {
    val[g->inputs[i]] = inputs[i];
    ember_tensor_retain(inputs[i]);
  }
  for (int v = 0; v < g->nvalues; v++)
    if (g->values[v].kind == EMBER_GV_CONST) {
      val[v] = g->values[v].tensor;
      ember_tensor_retain(val[v]);
    }
  int grad = ember_set_grad_enabled(0);
  for (int i = 0; i < g->nnodes && ok; i++) {
    const ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    ember_tensor *t[16];
    for (int j = 0; j < n->nin; j++) t[j] = n->in[j] < 0 ? NULL : val[n->in[j]];
    ember_call c;
    ember_call_init(&c, n->op, n->nin, t);
    memcpy(c.attr, n->attr, sizeof c.attr);
    c.index_base = g->index_base;
    if (ember_dispatch(&c) != EMBER_OK) {
      printf("# run_graph: node %d (%s): %s\n", i, n->op->name, ember_last_error());
      ok = 0;
      break;
    }
    for (int k = 0; k < c.nout; k++) {
      const ember_gvalue *x = &g->values[n->out[k]];
      if (c.out[k]->dtype != x->dtype || c.out[k]->ndim != x->ndim ||
          memcmp(c.out[k]->shape, x->shape, (size_t)x->ndim * sizeof x->shape[0]) != 0) {
        printf("# run_graph: node %d (%s) output %d differs from its recorded type\n", i, n->op->name, k);
        ok = 0;
      }
      val[n->out[k]] = c.out[k];
    }
  }
  ember_set_grad_enabled(grad);
  for (int j = 0; j < g->noutputs && ok; j++) {
    out[j] = val[g->outputs[j]];
    ember_tensor_retain(out[j]);
  }
  for (int v = 0; v < g->nvalues; v++) ember_tensor_release(val[v]);
  free(val);
  if (!ok) {
    for (int j = 0; j < g->noutputs; j++) ember_tensor_release(out[j]);
    free(out);
    return NULL;
  }
  return out;
}

static void free_outputs(ember_tensor **o, int n) {
  if (o == NULL) return;
  for (int j = 0; j < n; j++) ember_tensor_release(o[j]);
  free(o);
}

/* |got - want| <= tol * max(1, |want|) everywhere, shapes and dtypes equal */
static int same_values(ember_tensor *const *got, ember_tensor *const *want, int n, double tol,
                       double *worst) {
  *worst = 0;
  if (got == NULL || want == NULL) return 0;
  for (int j = 0; j < n; j++) {
    if (got[j]->dtype != want[j]->dtype || !ember_same_shape(got[j], want[j])) return 0;
    int64_t m = ember_tensor_numel(want[j]);
    for (int64_t i = 0; i < m; i++) {
      double a = ember_tensor_get(got[j], i), b = ember_tensor_get(want[j], i);
      double err = fabs(a - b) / fmax(1, fabs(b));
      if (!(err <= tol)) { *worst = err; return 0; }
      if (err > *worst) *worst = err;
    }
  }
  return 1;
}

/* }====== */

/* {====== running a pass */

static ember_tensor *inputs_of(builder *b, int i) { return b->val[b->g->inputs[i]]; }

/* The dump without its first line (the inputs). */
static char *body(const ember_graph *g) {
  char *d = ember_graph_dump(g);
  if (d == NULL) return NULL;
  char *nl = strchr(d, '\n');
  char *r = strdup(nl ? nl + 1 : d);
  free(d);
  return r;
}

/* Runs pass on b's graph: its return must be `changes`, the graph must validate, its
** text must be `want` (NULL: not compared) and its outputs equal to before within tol. */
static void run_pass(builder *b, const char *what, int (*pass)(ember_graph *), int changes,
                     const char *want, double tol) {
  char msg[256];
  ember_tensor *in[16];
  for (int i = 0; i < b->g->ninputs; i++) in[i] = inputs_of(b, i);
  ember_tensor **before = run_graph(b->g, in);
  snprintf(msg, sizeof msg, "%s: the graph runs before the pass", what);
  check(before != NULL, msg);
  int got = pass(b->g);
  if (got < 0) printf("# %s\n", ember_last_error());
  snprintf(msg, sizeof msg, "%s: changes", what);
  check_int(got, changes, msg);
  snprintf(msg, sizeof msg, "%s: the graph validates after", what);
  ember_status st = ember_graph_validate(b->g);
  if (st != EMBER_OK) printf("# %s\n", ember_last_error());
  check(st == EMBER_OK, msg);
  if (want) {
    char *text = body(b->g);
    snprintf(msg, sizeof msg, "%s: graph text", what);
    check_str(text, want, msg);
    free(text);
  }
  ember_tensor **after = run_graph(b->g, in);
  double worst;
  int same = same_values(after, before, b->g->noutputs, tol, &worst);
  snprintf(msg, sizeof msg, "%s: outputs unchanged (within %g; worst %.3g)", what, tol, worst);
  check(same, msg);
  free_outputs(before, b->g->noutputs);
  free_outputs(after, b->g->noutputs);
}

/* }====== */

/* {====== dce */

static void test_dce(void) {
  builder *b = new_builder();
  int x = input(b, "x", EMBER_F32, 2, 4, 8, 0, 0);
  int r = op1(b, "relu", NULL, x);
  op1(b, "log", NULL, op1(b, "exp", NULL, r));       /* a dead chain of two */
  int n = op1(b, "neg", NULL, x);
  outputs(b, 1, n, 0, 0);
  run_pass(b, "dce: a dead chain goes in one walk", ember_pass_dce, 3,
           "  %1 = neg(%0)\n  return %1\n", 0);
  free_builder(b);

  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 3, 5, 0, 0);
  int mx = op1(b, "max", "dim=1", x);                   /* values and indices */
  int idx = b->g->nodes[b->last_node].out[1];
  op1(b, "exp", NULL, mx);                              /* dead */
  outputs(b, 1, idx, 0, 0);
  run_pass(b, "dce: a node one of whose outputs is read stays", ember_pass_dce, 1,
           "  %1, %2 = max(%0, dim=1, keepdim=false)\n  return %2\n", 0);
  free_builder(b);

  b = new_builder();
  x = input(b, "x", EMBER_F32, 1, 6, 0, 0, 0);
  int c = constant(b, "c", EMBER_F32, 1, 6, 0, 0, 0, 0);
  op2(b, "add", NULL, x, c);
  outputs(b, 2, x, c, 0);
  run_pass(b, "dce: outputs that are an input and a constant", ember_pass_dce, 1,
           "  return %0, c\n", 0);
  free_builder(b);

  b = new_builder();
  run_pass(b, "dce: the empty graph", ember_pass_dce, 0, "  return \n", 0);
  free_builder(b);
}

/* }====== */

/* {====== fold */

static void test_fold(void) {
  builder *b = new_builder();
  int x = input(b, "x", EMBER_F32, 2, 2, 3, 0, 0);
  int c1 = constant(b, "c1", EMBER_F32, 2, 2, 3, 0, 0, 0);
  int c2 = constant(b, "c2", EMBER_F32, 1, 3, 0, 0, 0, 0);
  int s = op2(b, "add", NULL, c1, c2);
  int e = op1(b, "exp", NULL, s);                      /* folds too: a chain in one walk */
  int y = op2(b, "mul", NULL, x, e);
  outputs(b, 1, y, 0, 0);
  run_pass(b, "fold: a chain of constant nodes", ember_pass_fold, 2,
           "  %1 = mul(%0, c1.add.exp)\n  return %1\n", 1e-6);
  free_builder(b);

  /* a creation op, then a view of it: a contiguous constant of its own */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 3, 2, 0, 0);
  int a = node(b, "arange", "start=0,end=6,dtype=f32", 0, NULL);
  int v = op1(b, "view", "size=2,3", a);
  int t = op1(b, "transpose", "dim0=0,dim1=1", v);
  y = op2(b, "add", NULL, x, t);
  outputs(b, 1, y, 0, 0);
  run_pass(b, "fold: arange, view and transpose of it", ember_pass_fold, 3,
           "  %1 = add(%0, arange.view.transpose, alpha=1)\n  return %1\n", 0);
  int k = b->g->nodes[0].in[1];
  ember_tensor *kt = b->g->values[k].tensor;
  check(b->g->values[k].kind == EMBER_GV_CONST && ember_tensor_is_contiguous(kt) &&
        ember_tensor_get(kt, 1) == 3 && ember_tensor_get(kt, 2) == 1,
        "fold: the folded transpose is a contiguous constant holding [[0,3],[1,4],[2,5]]");
  free_builder(b);

  /* an absent optional input; a constant read twice */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 4, 3, 0, 0);
  int w = constant(b, "w", EMBER_F32, 2, 3, 3, 0, 0, 0);
  int in[3] = {w, w, -1};
  int ww = node(b, "linear", NULL, 3, in);
  y = op2(b, "matmul", NULL, x, ww);
  outputs(b, 1, y, 0, 0);
  run_pass(b, "fold: linear(w, w) with no bias", ember_pass_fold, 1,
           "  %1 = matmul(%0, w.linear)\n  return %1\n", 1e-6);
  free_builder(b);

  /* kept: results far bigger than their inputs, random draws, graph outputs */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 512, 512, 0, 0);
  int one = constant_t(b, "one", ember_tensor_scalar(EMBER_F32, 1));
  int big = op1(b, "expand", "size=512,512", one);
  int z = node(b, "zeros", "size=512,512", 0, NULL);
  int small = node(b, "zeros", "size=4,4", 0, NULL);
  int r = node(b, "rand", "size=4,4", 0, NULL);
  int o = op2(b, "add", NULL, op2(b, "add", NULL, x, big), z);
  int kept = op2(b, "add", NULL, one, one);
  outputs(b, 3, o, op2(b, "mul", NULL, small, r), kept);
  run_pass(b, "fold: expand of a scalar, big zeros, rand and an output kept", ember_pass_fold, 1, NULL, 0);
  check_int(ember_graph_count(b->g, "expand"), 1, "fold: expand to 512x512 of a scalar is kept");
  check_int(ember_graph_count(b->g, "zeros"), 1, "fold: zeros(512, 512) is kept, zeros(4, 4) folds");
  check_int(ember_graph_count(b->g, "rand"), 1, "fold: rand is kept");
  check_int(ember_graph_count(b->g, "add"), 3, "fold: add(one, one), a graph output, is kept");
  free_builder(b);
}

/* }====== */

/* {====== cse */

static void test_cse(void) {
  builder *b = new_builder();
  int x = input(b, "x", EMBER_F32, 2, 4, 6, 0, 0);
  int b1 = op1(b, "neg", NULL, op1(b, "exp", NULL, x));
  int b2 = op1(b, "neg", NULL, op1(b, "exp", NULL, x));   /* the same chain again */
  int y = op2(b, "mul", NULL, b1, b2);
  outputs(b, 1, y, 0, 0);
  run_pass(b, "cse: a repeated chain merges in one walk", ember_pass_cse, 2,
           "  %1 = exp(%0)\n  %2 = neg(%1)\n  %3 = mul(%2, %2)\n  return %3\n", 0);
  free_builder(b);

  /* attributes: ints, strings, lists, the private slots */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 4, 6, 0, 0);
  int s0 = op1(b, "sum", "dim=0", x), s1 = op1(b, "sum", "dim=1", x);
  int ga = op1(b, "gelu", "approximate=tanh", x), gb = op1(b, "gelu", "approximate=tanh", x);
  int gn = op1(b, "gelu", NULL, x);
  int v1 = op1(b, "view", "size=6,4", x), v2 = op1(b, "view", "size=3,8", x);
  int v3 = op1(b, "view", "size=6,4", x);
  int p1 = op1(b, "relu", NULL, x);
  int p2 = op1(b, "relu", NULL, x);
  b->g->nodes[b->last_node].attr[EMBER_MAX_ATTRS - 1].i = 7;   /* state of its own */
  int acc = op2(b, "add", NULL, ga, gb);
  acc = op2(b, "add", NULL, acc, gn);
  acc = op2(b, "add", NULL, acc, op2(b, "add", NULL, p1, p2));
  int vv = op2(b, "add", NULL, op1(b, "flatten", NULL, v1), op1(b, "flatten", NULL, v3));
  vv = op2(b, "add", NULL, vv, op1(b, "flatten", NULL, v2));
  int ss = op2(b, "add", NULL, op1(b, "sum", NULL, s0), op1(b, "sum", NULL, s1));
  outputs(b, 3, acc, vv, ss);
  run_pass(b, "cse: equal attributes merge, different ones do not", ember_pass_cse, 3, NULL, 0);
  check_int(ember_graph_count(b->g, "gelu"), 2, "cse: gelu tanh twice merges; gelu none stays");
  check_int(ember_graph_count(b->g, "view"), 2, "cse: view 6x4 twice merges; view 3x8 stays");
  check_int(ember_graph_count(b->g, "relu"), 2, "cse: relus that differ in a private slot stay");
  check_int(ember_graph_count(b->g, "sum"), 4, "cse: sum dim=0 and dim=1 stay apart");
  check_int(ember_graph_count(b->g, "flatten"), 2, "cse: flatten of the merged views merges");
  free_builder(b);

  /* never merged: random draws, a duplicate that is a graph output */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 1, 5, 0, 0, 0);
  int r1 = node(b, "rand", "size=5", 0, NULL), r2 = node(b, "rand", "size=5", 0, NULL);
  int e1 = op1(b, "exp", NULL, x), e2 = op1(b, "exp", NULL, x);
  outputs(b, 3, op2(b, "sub", NULL, r1, r2), e1, e2);
  check_int(ember_pass_cse(b->g), 0, "cse: rand twice and a duplicate that is a graph output stay");
  check_int(ember_graph_count(b->g, "rand") + ember_graph_count(b->g, "exp"), 4,
            "cse: both rands and both exps are there");
  free_builder(b);
}

/* }====== */

/* {====== fold_bn */

/* A batch_norm after prod (a conv2d or linear) with constant statistics. */
static int bn(builder *b, int y, int64_t c, ember_dtype dt, int weight, int bias) {
  int in[5] = { y, constant(b, "bn.mean", dt, 1, c, 0, 0, 0, 0),
                constant(b, "bn.var", dt, 1, c, 0, 0, 0, 0.5), -1, -1 };
  int nin = 3;
  if (weight || bias) in[nin++] = weight ? constant(b, "bn.weight", dt, 1, c, 0, 0, 0, 0) : -1;
  if (bias) in[nin++] = constant(b, "bn.bias", dt, 1, c, 0, 0, 0, 0);
  return node(b, "batch_norm", "eps=0.001", nin, in);
}

static void test_fold_bn(void) {
  for (int f64 = 0; f64 < 2; f64++) {
    ember_dtype dt = f64 ? EMBER_F64 : EMBER_F32;
    double tol = f64 ? 1e-12 : 1e-5;
    builder *b = new_builder();
    int x = input(b, "x", dt, 4, 2, 3, 8, 8);
    int y = op3(b, "conv2d", "stride=2,padding=1", x, constant(b, "conv.weight", dt, 4, 4, 3, 3, 3, 0),
                constant(b, "conv.bias", dt, 1, 4, 0, 0, 0, 0));
    outputs(b, 1, op1(b, "relu", NULL, bn(b, y, 4, dt, 1, 1)), 0, 0);
    run_pass(b, f64 ? "fold_bn: conv2d + batch_norm, f64" : "fold_bn: conv2d + batch_norm, f32",
             ember_pass_fold_bn, 1,
             "  %1 = conv2d(%0, conv.weight.bn, conv.bias.bn, stride=[2], padding=[1], dilation=[1], groups=1)\n"
             "  %2 = relu(%1)\n  return %2\n", tol);
    free_builder(b);
  }

  /* groups, no conv bias, batch_norm without weight and bias */
  builder *b = new_builder();
  int x = input(b, "x", EMBER_F32, 4, 2, 4, 6, 6);
  int in[2] = {x, constant(b, "w", EMBER_F32, 4, 6, 2, 3, 3, 0)};
  int y = node(b, "conv2d", "groups=2", 2, in);
  outputs(b, 1, bn(b, y, 6, EMBER_F32, 0, 0), 0, 0);
  run_pass(b, "fold_bn: grouped conv2d without bias, batch_norm without affine", ember_pass_fold_bn, 1,
           "  %1 = conv2d(%0, w.bn, w.bn_bias, stride=[1], padding=[0], dilation=[1], groups=2)\n"
           "  return %1\n", 1e-5);
  free_builder(b);

  /* linear on N x C: the channel is dim 1; batch_norm with weight only */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 5, 6, 0, 0);
  y = op3(b, "linear", NULL, x, constant(b, "fc.weight", EMBER_F32, 2, 3, 6, 0, 0, 0),
          constant(b, "fc.bias", EMBER_F32, 1, 3, 0, 0, 0, 0));
  int o = bn(b, y, 3, EMBER_F32, 1, 0);
  outputs(b, 1, o, 0, 0);
  b->g->values[o].name = strdup("logits");
  run_pass(b, "fold_bn: linear + batch_norm", ember_pass_fold_bn, 1,
           "  %1 = linear(%0, fc.weight.bn, fc.bias.bn)\n  return %1\n", 1e-5);
  const char *name = b->g->values[b->g->outputs[0]].name;
  check(name && strcmp(name, "logits") == 0, "fold_bn: the output keeps its name on its new value");
  free_builder(b);

  /* not folded: linear on B x T x C (batch_norm normalises T), a conv output read
  ** twice, statistics that are not constants, conv_transpose2d */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 3, 2, 5, 6, 0);
  y = op3(b, "linear", NULL, x, constant(b, "fc.weight", EMBER_F32, 2, 3, 6, 0, 0, 0),
          constant(b, "fc.bias", EMBER_F32, 1, 3, 0, 0, 0, 0));
  int o1 = bn(b, y, 5, EMBER_F32, 1, 1);
  int x2 = input(b, "x2", EMBER_F32, 4, 1, 3, 5, 5);
  int w2 = constant(b, "w2", EMBER_F32, 4, 2, 3, 3, 3, 0);
  int in2[2] = {x2, w2};
  int c2 = node(b, "conv2d", NULL, 2, in2);
  int o2 = op2(b, "add", NULL, bn(b, c2, 2, EMBER_F32, 1, 1), c2);
  int mean = input(b, "mean", EMBER_F32, 1, 2, 0, 0, 0);
  int c3 = node(b, "conv2d", NULL, 2, in2);
  int in3[3] = {c3, mean, constant(b, "var", EMBER_F32, 1, 2, 0, 0, 0, 0.5)};
  int o3 = node(b, "batch_norm", NULL, 3, in3);
  int in4[2] = {x2, constant(b, "wt", EMBER_F32, 4, 3, 2, 3, 3, 0)};
  int c4 = node(b, "conv_transpose2d", NULL, 2, in4);
  int o4 = bn(b, c4, 2, EMBER_F32, 1, 1);
  int o34 = op2(b, "add", NULL, op1(b, "sum", NULL, o3), op1(b, "sum", NULL, o4));
  outputs(b, 3, o1, o2, o34);
  run_pass(b, "fold_bn: cases that must not fold", ember_pass_fold_bn, 0, NULL, 0);
  check_int(ember_graph_count(b->g, "batch_norm"), 4, "fold_bn: all four batch_norms stay");
  free_builder(b);
}

/* }====== */

/* {====== fuse */

static int count_inputs_over(const ember_graph *g, const char *op, int max) {
  int n = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op && strcmp(g->nodes[i].op->name, op) == 0 && g->nodes[i].nin > max) n++;
  return n;
}

/* The fused graph run on Vulkan (lavapipe in the specs) gives what it gives on the
** cpu: the programs the pass writes fit the Vulkan kernel's limits. */
static void check_on_vulkan(builder *b, const char *what) {
  char msg[256];
  ember_vk_info info;
  if (ember_vk_get_info(&info) != EMBER_OK) {
    snprintf(msg, sizeof msg, "%s: Vulkan runs (%s)", what, ember_last_error());
    check(0, msg);
    return;
  }
  ember_tensor *in[16], *dev[16];
  for (int i = 0; i < b->g->ninputs; i++) {
    in[i] = inputs_of(b, i);
    dev[i] = ember_to_device(in[i], EMBER_VULKAN);
  }
  ember_tensor **want = run_graph(b->g, in), **got = run_graph(b->g, dev);
  int n = b->g->noutputs;
  for (int j = 0; got && j < n; j++) {
    ember_tensor *h = ember_to_device(got[j], EMBER_CPU);
    ember_tensor_release(got[j]);
    got[j] = h;
  }
  double worst;
  snprintf(msg, sizeof msg, "%s: the same outputs on Vulkan (within 1e-5)", what);
  check(same_values(got, want, n, 1e-5, &worst), msg);
  ember_vk_get_info(&info);
  snprintf(msg, sizeof msg, "%s: no validation messages on Vulkan", what);
  check(info.validation_messages == 0, msg);
  free_outputs(want, n);
  free_outputs(got, n);
  for (int i = 0; i < b->g->ninputs; i++) ember_tensor_release(dev[i]);
}

static void test_fuse(void) {
  if (ember_op_find("fused_pointwise") == NULL || ember_op_find("fused_linear") == NULL) {
    check(0, "fuse: the fused ops are in the op table");
    return;
  }
  builder *b = new_builder();
  int x = input(b, "x", EMBER_F32, 2, 4, 6, 0, 0);
  int y = op3(b, "linear", NULL, x, constant(b, "w", EMBER_F32, 2, 5, 6, 0, 0, 0),
              constant(b, "b", EMBER_F32, 1, 5, 0, 0, 0, 0));
  int in[2] = {op1(b, "relu", NULL, y), constant(b, "w2", EMBER_F32, 2, 3, 5, 0, 0, 0)};
  int y2 = node(b, "linear", NULL, 2, in);
  outputs(b, 1, op1(b, "gelu", "approximate=tanh", y2), 0, 0);
  run_pass(b, "fuse: relu and gelu(tanh) after linear", ember_pass_fuse, 2,
           "  %3 = fused_linear(%0, w, b, activation=relu)\n"
           "  %5 = fused_linear(%3, w2, activation=gelu_tanh)\n  return %5\n", 1e-6);
  free_builder(b);

  b = new_builder();
  x = input(b, "x", EMBER_F32, 4, 2, 3, 8, 8);
  y = op3(b, "conv2d", "stride=2,padding=1,dilation=1", x, constant(b, "w", EMBER_F32, 4, 4, 3, 3, 3, 0),
          constant(b, "b", EMBER_F32, 1, 4, 0, 0, 0, 0));
  int y3 = op1(b, "silu", NULL, y);
  int lin = op2(b, "linear", NULL, x, constant(b, "w3", EMBER_F32, 2, 5, 8, 0, 0, 0));
  int act = op1(b, "sigmoid", NULL, lin);
  outputs(b, 3, y3, lin, act);
  run_pass(b, "fuse: silu after conv2d; not when the linear's output is read elsewhere",
           ember_pass_fuse, 1,
           "  %3 = fused_conv2d(%0, w, b, stride=[2], padding=[1], dilation=[1], groups=1, activation=silu)\n"
           "  %5 = linear(%0, w3)\n  %6 = sigmoid(%5)\n  return %3, %5, %6\n", 1e-6);
  free_builder(b);

  /* a chain and a tree */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 4, 8, 0, 0);
  int yy = input(b, "y", EMBER_F32, 2, 4, 8, 0, 0);
  int z = input(b, "z", EMBER_F32, 1, 8, 0, 0, 0);           /* broadcasts */
  int t = op2(b, "mul", NULL, op1(b, "relu", NULL, op2(b, "add", NULL, x, yy)), z);
  int s = op2(b, "mul", NULL, op1(b, "sigmoid", NULL, x), x);  /* x read twice */
  outputs(b, 2, t, s, 0);
  run_pass(b, "fuse: an elementwise chain and a tree", ember_pass_fuse, 2,
           "  %3 = fused_pointwise(%0, %1, %2, code=%0 %1 add relu %2 mul)\n"
           "  %4 = fused_pointwise(%0, code=%0 sigmoid %0 mul)\n  return %3, %4\n", 1e-6);
  free_builder(b);

  /* boundaries: a value read outside the chain, ints, alpha, shape changes, f16 */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 4, 1, 0, 0);
  int e = op1(b, "exp", NULL, x);
  int n1 = op1(b, "neg", NULL, e);                            /* e is also an output */
  int i1 = input(b, "i", EMBER_I64, 1, 4, 0, 0, 0);
  int ii = op1(b, "neg", NULL, op2(b, "add", NULL, i1, i1));  /* integers */
  int al = op1(b, "exp", NULL, op2(b, "add", "alpha=2", x, x)); /* alpha ends the tree */
  int wide = input(b, "w", EMBER_F32, 2, 1, 5, 0, 0);
  int bc = op2(b, "add", NULL, op1(b, "abs", NULL, x), wide);   /* abs is 4x1, the sum 4x5 */
  int h = input(b, "h", EMBER_F16, 1, 4, 0, 0, 0);
  int hh = op1(b, "neg", NULL, op1(b, "relu", NULL, h));
  int m = op2(b, "add", NULL, op1(b, "sum", NULL, bc), op1(b, "sum", NULL, hh));
  int o[4] = {n1, e, op2(b, "add", NULL, op1(b, "sum", NULL, ii), m), al};
  ember_graph_set_outputs(b->g, 4, o);
  int before = ember_graph_count(b->g, NULL);
  run_pass(b, "fuse: boundaries", ember_pass_fuse, 0, NULL, 1e-6);
  check_int(ember_graph_count(b->g, NULL), before, "fuse: nothing fused across a read value, ints, "
            "alpha, a shape change or f16");
  free_builder(b);

  /* e is read by two nodes of the chain: it stays a value; neg(exp) is read once */
  b = new_builder();
  x = input(b, "x", EMBER_F64, 1, 7, 0, 0, 0);
  e = op1(b, "exp", NULL, op1(b, "neg", NULL, x));
  outputs(b, 1, op2(b, "div", NULL, op1(b, "sin", NULL, e), op1(b, "cos", NULL, e)), 0, 0);
  run_pass(b, "fuse: f64, a value read twice inside", ember_pass_fuse, 2,
           "  %1 = fused_pointwise(%0, code=%0 neg exp)\n"
           "  %2 = fused_pointwise(%1, code=%0 sin %0 cos div)\n  return %2\n", 1e-12);
  free_builder(b);

  /* more than 8 inputs: sum of 10 */
  b = new_builder();
  int acc = input(b, "a0", EMBER_F32, 1, 16, 0, 0, 0);
  for (int k = 1; k < 10; k++) {
    char name[16];
    snprintf(name, sizeof name, "a%d", k);
    acc = op2(b, "add", NULL, acc, input(b, name, EMBER_F32, 1, 16, 0, 0, 0));
  }
  outputs(b, 1, acc, 0, 0);
  /* a program must load on Vulkan too: at most 7 inputs. The last 6 adds take 7
  ** (a4..a9 and the third add); the first three are a tree of their own */
  run_pass(b, "fuse: a sum of 10 inputs", ember_pass_fuse, 2, NULL, 1e-6);
  check_int(ember_graph_count(b->g, "fused_pointwise"), 2, "fuse: two fused_pointwise");
  check_int(count_inputs_over(b->g, "fused_pointwise", 7), 0, "fuse: with at most 7 inputs");
  check_int(count_inputs_over(b->g, "fused_pointwise", 6), 1, "fuse: one takes 7");
  check_int(ember_graph_count(b->g, "add"), 0, "fuse: no add left over");
  check_on_vulkan(b, "fuse: a sum of 10 inputs");
  free_builder(b);

  /* a chain of 20 unary ops: at most 16 words a program (15 ops and a load) */
  b = new_builder();
  acc = input(b, "x", EMBER_F32, 1, 16, 0, 0, 0);
  for (int k = 0; k < 20; k++) acc = op1(b, k % 2 ? "sin" : "neg", NULL, acc);
  outputs(b, 1, acc, 0, 0);
  run_pass(b, "fuse: a chain of 20", ember_pass_fuse, 2,
           "  %1 = fused_pointwise(%0, code=%0 neg sin neg sin neg)\n"
           "  %2 = fused_pointwise(%1, code=%0 sin neg sin neg sin neg sin neg sin neg sin neg sin neg sin)\n"
           "  return %2\n", 1e-6);
  check_on_vulkan(b, "fuse: a chain of 20");
  free_builder(b);
}

/* }====== */

/* {====== the pipeline */

static void test_optimize(void) {
  const char *disable[] = { NULL, "fuse,cse" };
  for (int k = 0; k < 2; k++) {
    builder *b = new_builder();
    int x = input(b, "x", EMBER_F32, 4, 2, 3, 6, 6);
    int w = constant(b, "w", EMBER_F32, 4, 4, 3, 3, 3, 0);
    int half = constant_t(b, "half", ember_tensor_scalar(EMBER_F32, 0.5));
    int wscaled = op2(b, "mul", NULL, w, half);                  /* folds */
    int in[2] = {x, wscaled};
    int y = node(b, "conv2d", "padding=1", 2, in);
    int r = op1(b, "relu", NULL, bn(b, y, 4, EMBER_F32, 1, 1));
    op1(b, "exp", NULL, r);                                       /* dead */
    int s1 = op1(b, "sigmoid", NULL, r), s2 = op1(b, "sigmoid", NULL, r);
    int o = op2(b, "add", NULL, op2(b, "mul", NULL, s1, s2), r);
    outputs(b, 1, o, 0, 0);
    char what[64];
    snprintf(what, sizeof what, "optimize (disable=%s)", disable[k] ? disable[k] : "none");
    ember_tensor *in0 = inputs_of(b, 0);
    ember_tensor **before = run_graph(b->g, &in0);
    ember_status st = ember_graph_optimize(b->g, disable[k]);
    if (st != EMBER_OK) printf("# %s\n", ember_last_error());
    check(st == EMBER_OK, what);
    char *text = body(b->g);
    check_str(text, k == 0
      ? "  %1 = fused_conv2d(%0, w.mul.bn, w.mul.bn_bias, stride=[1], padding=[1], dilation=[1], groups=1, activation=relu)\n"
        "  %2 = sigmoid(%1)\n  %3 = fused_pointwise(%2, %1, code=%0 %0 mul %1 add)\n  return %3\n"
      : "  %1 = conv2d(%0, w.mul.bn, w.mul.bn_bias, stride=[1], padding=[1], dilation=[1], groups=1)\n"
        "  %2 = relu(%1)\n  %3 = sigmoid(%2)\n  %4 = sigmoid(%2)\n  %5 = mul(%3, %4)\n"
        "  %6 = add(%5, %2, alpha=1)\n  return %6\n", what);
    free(text);
    ember_tensor **after = run_graph(b->g, &in0);
    double worst;
    check(same_values(after, before, 1, 1e-5, &worst), "optimize: outputs unchanged");
    free_outputs(before, 1);
    free_outputs(after, 1);
    free_builder(b);
  }
  builder *b = new_builder();
  ember_status st = ember_graph_optimize(b->g, "dce,fuzz");
  check(st == EMBER_ERROR && strstr(ember_last_error(), "\"fuzz\"") != NULL,
        "optimize: an unknown pass name is an error that names it");
  check(ember_graph_optimize(b->g, "") == EMBER_OK && ember_graph_optimize(b->g, NULL) == EMBER_OK,
        "optimize: the empty graph, nothing disabled");
  free_builder(b);
}

/* }====== */

/* {====== plan */

/* The arena bytes group of value v: follow aliases to a value that owns bytes. */
static int group_of(const ember_plan *p, int v) {
  while (p->slot[v].alias >= 0) v = p->slot[v].alias;
  return v;
}

/* No two groups that are alive at one node share a byte; offsets aligned; inside the
** arena. Lifetimes are recomputed here from the graph, from first principles. */
static void check_plan(const ember_graph *g, const ember_plan *p, const char *what) {
  int nv = g->nvalues, bad_align = 0, bad_range = 0, clash = 0;
  int *first = malloc((size_t)(nv + 1) * sizeof *first), *last = malloc((size_t)(nv + 1) * sizeof *last);
  for (int v = 0; v < nv; v++) { first[v] = g->nnodes + 1; last[v] = -1; }
  for (int i = 0; i < g->nnodes; i++) {
    const ember_gnode *n = &g->nodes[i];
    for (int k = 0; k < n->nout; k++) {
      int r = group_of(p, n->out[k]);
      if (i < first[r]) first[r] = i;
      if (i > last[r]) last[r] = i;
    }
    for (int j = 0; j < n->nin; j++) {
      if (n->in[j] < 0) continue;
      int r = group_of(p, n->in[j]);
      if (i > last[r]) last[r] = i;
    }
  }
  for (int j = 0; j < g->noutputs; j++) last[group_of(p, g->outputs[j])] = g->nnodes;
  for (int v = 0; v < nv; v++) {
    const ember_plan_slot *s = &p->slot[v];
    if (s->offset < 0 || s->alias >= 0) continue;
    if (s->offset % 64) bad_align++;
    if (s->offset + s->bytes > p->arena_bytes) bad_range++;
    for (int u = v + 1; u < nv; u++) {
      const ember_plan_slot *t = &p->slot[u];
      if (t->offset < 0 || t->alias >= 0) continue;
      int live = first[v] <= last[u] && first[u] <= last[v];
      int bytes = s->offset < t->offset + t->bytes && t->offset < s->offset + s->bytes;
      if (live && bytes) {
        clash++;
        printf("# values %d and %d are alive together and share bytes\n", v, u);
      }
    }
  }
  char msg[256];
  snprintf(msg, sizeof msg, "%s: no two live values share a byte (exhaustive)", what);
  check(clash == 0, msg);
  snprintf(msg, sizeof msg, "%s: offsets 64-byte aligned, inside the arena", what);
  check(bad_align == 0 && bad_range == 0, msg);
  for (int v = 0; v < nv; v++)
    if (g->values[v].kind != EMBER_GV_NODE && p->slot[v].offset != -1) bad_range++;
  snprintf(msg, sizeof msg, "%s: inputs and constants are not in the arena", what);
  check(bad_range == 0, msg);
  free(first);
  free(last);
}

/* Runs g inside one arena laid out as p says: every node value lives at its offset
** (a view is made on its input's bytes, an in-place result is written over them), so
** a plan that lets two live values overlap gives wrong outputs. */
static ember_tensor **run_in_arena(const ember_graph *g, const ember_plan *p, ember_tensor *const *inputs) {
  unsigned char *arena = malloc((size_t)p->arena_bytes + 64);
  memset(arena, 0xff, (size_t)p->arena_bytes + 64);     /* NaNs: a read of bytes never written shows */
  ember_tensor **val = calloc((size_t)g->nvalues + 1, sizeof *val);
  ember_tensor **out = calloc((size_t)g->noutputs + 1, sizeof *out);
  int ok = 1;
  for (int i = 0; i < g->ninputs; i++) { val[g->inputs[i]] = inputs[i]; ember_tensor_retain(inputs[i]); }
  for (int v = 0; v < g->nvalues; v++)
    if (g->values[v].kind == EMBER_GV_CONST) { val[v] = g->values[v].tensor; ember_tensor_retain(val[v]); }
  for (int i = 0; i < g->nnodes && ok; i++) {
    const ember_gnode *n = &g->nodes[i];
    ember_tensor *t[16];
    for (int j = 0; j < n->nin; j++) t[j] = n->in[j] < 0 ? NULL : val[n->in[j]];
    ember_call c;
    ember_call_init(&c, n->op, n->nin, t);
    memcpy(c.attr, n->attr, sizeof c.attr);
    if (ember_dispatch(&c) != EMBER_OK) { ok = 0; break; }
    for (int k = 0; k < c.nout; k++) {
      int v = n->out[k];
      const ember_gvalue *x = &g->values[v];
      if (x->is_view) { val[v] = c.out[k]; continue; }
      int64_t off = p->slot[v].offset;
      ember_tensor *home = ember_tensor_from_data(arena + off, x->dtype, x->ndim, x->shape, NULL, NULL, NULL);
      ember_copy_(home, c.out[k]);
      ember_tensor_release(c.out[k]);
      val[v] = home;
    }
  }
  for (int j = 0; j < g->noutputs && ok; j++) {
    out[j] = ember_clone(val[g->outputs[j]]);
  }
  for (int v = 0; v < g->nvalues; v++) ember_tensor_release(val[v]);
  free(val);
  free(arena);
  if (!ok) { free_outputs(out, g->noutputs); return NULL; }
  return out;
}

static void check_plan_runs(builder *b, const ember_plan *p, const char *what) {
  ember_tensor *in[16];
  for (int i = 0; i < b->g->ninputs; i++) in[i] = inputs_of(b, i);
  ember_tensor **want = run_graph(b->g, in), **got = run_in_arena(b->g, p, in);
  double worst;
  char msg[256];
  snprintf(msg, sizeof msg, "%s: the graph run inside the planned arena gives the same outputs", what);
  check(same_values(got, want, b->g->noutputs, 0, &worst), msg);
  free_outputs(want, b->g->noutputs);
  free_outputs(got, b->g->noutputs);
}

static void test_plan(void) {
  /* a chain of 4 on 64x64 f32 (16 KiB each), from a graph input */
  builder *b = new_builder();
  int x = input(b, "x", EMBER_F32, 2, 64, 64, 0, 0);
  int a = op1(b, "exp", NULL, x);                  /* reads the input: its own bytes */
  int mm = op2(b, "matmul", NULL, a, a);           /* not elementwise */
  int c = op1(b, "tanh", NULL, mm);                /* in place over mm */
  int d = op1(b, "neg", NULL, c);                  /* in place over c, so over mm */
  outputs(b, 1, op2(b, "matmul", NULL, d, d), 0, 0);
  ember_plan *p = ember_plan_make(b->g);
  check_plan(b->g, p, "plan: chain");
  check_plan_runs(b, p, "plan: chain");
  check(p->arena_bytes < p->naive_bytes, "plan: chain: the arena is smaller than the sum of values");
  check_int(p->naive_bytes, 5 * 16384, "plan: chain: naive is the sum of the five results");
  check_int(p->arena_bytes, 2 * 16384, "plan: chain: two 16 KiB slots suffice");
  check(p->slot[c].alias == mm && p->slot[c].offset == p->slot[mm].offset,
        "plan: chain: tanh writes over the matmul result it alone reads");
  check(p->slot[d].alias == mm, "plan: chain: neg over tanh's bytes (the same group)");
  check(p->slot[a].alias == -1, "plan: chain: exp of a graph input has bytes of its own");
  check(p->slot[x].offset == -1 && p->slot[x].bytes == 16384, "plan: chain: the input is not in the arena");
  ember_plan_free(p);
  free_builder(b);

  /* not in place: the input is read later, a view of it is alive, or another input
  ** reads the same bytes through a view; constants; outputs */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 8, 8, 0, 0);
  int k = constant(b, "k", EMBER_F32, 2, 8, 8, 0, 0, 0);
  a = op1(b, "relu", NULL, x);
  int e = op1(b, "exp", NULL, a);                  /* a is read again below */
  int s = op2(b, "add", NULL, e, a);               /* in place over e */
  int v = op1(b, "transpose", "dim0=0,dim1=1", s);
  int t = op1(b, "sin", NULL, s);                  /* a view of s is read later */
  int u = op2(b, "mul", NULL, t, v);               /* in place over t */
  int w = op1(b, "cos", NULL, u);
  int q = op2(b, "add", NULL, w, op1(b, "transpose", "dim0=0,dim1=1", w));  /* reads w twice */
  int kk = op1(b, "neg", NULL, k);                 /* a constant's bytes are not the arena's */
  int last = op2(b, "add", NULL, q, kk);
  outputs(b, 3, last, k, x);
  p = ember_plan_make(b->g);
  check_plan(b->g, p, "plan: in-place cases");
  check_plan_runs(b, p, "plan: in-place cases");
  check(p->slot[e].alias == -1, "plan: not in place over an input read later");
  check(p->slot[s].alias == e, "plan: add in place over exp, which dies there");
  check(p->slot[t].alias == -1, "plan: not in place while a view of the input is alive");
  check(p->slot[v].alias == s && p->slot[v].offset == -1, "plan: a view aliases its root");
  check(p->slot[u].alias == t, "plan: mul in place over sin");
  check(p->slot[q].alias == -1, "plan: not in place when another input views the same bytes");
  check(p->slot[kk].alias == -1, "plan: not in place over a constant");
  check(p->slot[last].alias == -1, "plan: a graph output owns its bytes");
  check(p->slot[k].offset == -1, "plan: an output that is a constant is not in the arena");
  ember_plan_free(p);
  free_builder(b);

  /* dynamic dims: bytes at the bound */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 4, 8, 0, 0);
  a = op1(b, "exp", NULL, x);
  int r = op1(b, "sum", "dim=1", a);
  outputs(b, 1, op1(b, "neg", NULL, r), 0, 0);
  ember_graph *g = b->g;
  g->nsyms = 1;
  g->syms[0].name = strdup("batch");
  g->syms[0].max = 100;
  g->syms[0].traced = 4;
  for (int vv = 0; vv < g->nvalues; vv++) {
    g->values[vv].dim[0].add = 0;
    g->values[vv].dim[0].mul[0] = 1;
  }
  p = ember_plan_make(g);
  check_int(p->slot[a].bytes, 100 * 8 * 4, "plan: dynamic: exp's bytes at batch = 100");
  check_int(p->slot[r].bytes, 100 * 4, "plan: dynamic: sum's bytes at batch = 100");
  check_int(p->slot[a].offset % 64 + p->slot[r].offset % 64, 0, "plan: dynamic: aligned");
  check_plan(g, p, "plan: dynamic");
  ember_plan_free(p);
  free_builder(b);

  /* the empty graph; a graph whose only output is its input */
  b = new_builder();
  p = ember_plan_make(b->g);
  check(p && p->arena_bytes == 0 && p->naive_bytes == 0 && p->nvalues == 0, "plan: the empty graph");
  ember_plan_free(p);
  x = input(b, "x", EMBER_F32, 1, 3, 0, 0, 0);
  outputs(b, 1, x, 0, 0);
  p = ember_plan_make(b->g);
  check(p && p->arena_bytes == 0 && p->slot[x].offset == -1, "plan: output = input needs no arena");
  ember_plan_free(p);
  free_builder(b);

  /* many values of mixed sizes and lifetimes: the exhaustive check again */
  b = new_builder();
  x = input(b, "x", EMBER_F32, 2, 16, 16, 0, 0);
  int vals[40], nvals = 0;
  vals[nvals++] = x;
  for (int i = 0; i < 30; i++) {
    int l = vals[(i * 7) % nvals], rr = vals[(i * 3 + 1) % nvals];
    int o = i % 3 == 0 ? op2(b, "matmul", NULL, l, rr)
          : i % 3 == 1 ? op2(b, "add", NULL, l, rr)
          : op1(b, "narrow", "dim=1,start=8,length=16", op2(b, "cat", "dim=1", l, rr));
    vals[nvals++] = o;
  }
  outputs(b, 2, vals[nvals - 1], vals[nvals - 5], 0);
  p = ember_plan_make(b->g);
  check_plan(b->g, p, "plan: a mixed graph");
  check_plan_runs(b, p, "plan: a mixed graph");
  check(p->arena_bytes < p->naive_bytes, "plan: a mixed graph: the arena beats the naive sum");
  ember_plan_free(p);
  free_builder(b);
}

/* }====== */

int main(void) {
  test_dce();
  test_fold();
  test_cse();
  test_fold_bn();
  test_fuse();
  test_optimize();
  test_plan();
  printf("1..%d\n", ntest);
  return nfail ? 1 : 0;
}
