/*
** test_fused.c — export's fused ops run as the runtime runs them: the CPU kernel of
** the op table entry called directly on a prepared call (infer done, output made),
** inside a scratch region, again and again. Checks that the kernels allocate nothing
** once warm (malloc and friends are interposed here and counted, on every thread),
** that the region serves their temporaries, and that the values are those of the
** eager ops they stand for (ember_op_run). Sizes are chosen to take the parallel
** paths. Prints TAP lines; exits non-zero if any check fails.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"
#include "ops.h"

#include "alloc_count.h"

static int ntest, nfail;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - %s\n", ok ? "" : "not ", ntest, what);
}

static ember_tensor *randu(int nd, const int64_t *shape, unsigned seed, float lo, float hi) {
  ember_tensor *t = ember_tensor_empty(EMBER_F32, nd, shape);
  float *d = ember_tensor_data(t);
  srand(seed);
  for (int64_t i = 0; i < ember_tensor_numel(t); i++) d[i] = lo + (hi - lo) * (float)rand() / RAND_MAX;
  return t;
}

static ember_tensor *op1(const char *op, int nin, ember_tensor **in, const char *attrs) {
  ember_tensor *out = NULL;
  return ember_op_run(op, nin, in, attrs, &out, 1) == 1 ? out : NULL;
}

/* max |a - b| / (|b| + 1) */
static double max_err(const ember_tensor *a, const ember_tensor *b) {
  const float *x = ember_tensor_data(a), *y = ember_tensor_data(b);
  double e = 0;
  for (int64_t i = 0; i < ember_tensor_numel(b); i++) {
    double d = fabs((double)x[i] - y[i]) / (fabs(y[i]) + 1);
    if (!(d <= e)) e = d;
  }
  return e;
}

/* Runs op's CPU kernel 10 times in a scratch region after a warm-up call; checks no
** allocation and no overflow of the region, and returns the output (NULL: failed),
** out itself when given (a view, or an input's bytes), else a new contiguous one. */
static ember_tensor *run_kernel(const char *name, int nin, ember_tensor **in, const char *attrs,
                                ember_tensor *out) {
  const ember_op *op = ember_op_find(name);
  ember_call c;
  char buf[256], what[160];
  ember_call_init(&c, op, nin, in);
  for (int i = 0; i < nin; i++) {
    c.in_cast[i] = EMBER_DTYPE_NONE;
    c.in_user[i] = in[i];
  }
  if (ember_call_parse_attrs(&c, attrs, buf, sizeof buf) != EMBER_OK || op->infer(&c) != EMBER_OK) {
    printf("# %s\n", ember_last_error());
    return NULL;
  }
  if (out) ember_tensor_retain(out);
  c.out[0] = out ? out : ember_tensor_empty(c.out_dtype[0], c.out_ndim[0], c.out_shape[0]);
  if (op->cpu(&c) != EMBER_OK) {               /* warm-up: OpenMP's and OpenBLAS's pools */
    printf("# %s\n", ember_last_error());
    ember_tensor_release(c.out[0]);
    return NULL;
  }
  static char arena[1 << 22];
  ember_scratch_region region;
  ember_scratch_init(&region, arena, sizeof arena);
  ember_scratch_begin(&region);
  nallocs = 0;
  counting = 1;
  ember_status st = EMBER_OK;
  for (int i = 0; i < 10 && st == EMBER_OK; i++) st = op->cpu(&c);
  counting = 0;
  ember_scratch_end();
  snprintf(what, sizeof what, "%s (%s): 10 runs, no heap allocation", name, attrs);
  char msg[256];
  snprintf(msg, sizeof msg, "%s%s", what, ALLOC_NOTE);
  check(st == EMBER_OK && no_allocs(nallocs), msg);
  if (nallocs) printf("# %ld allocations\n", nallocs);
  snprintf(what, sizeof what, "%s: its scratch fits the region", name);
  check(region.overflows == 0, what);
  return c.out[0];
}

int main(void) {
  /* fused_linear: 300 rows in two blocks of rows, on two threads where there are two */
  int64_t xs[2] = { 300, 64 }, ws[2] = { 256, 64 }, bs[1] = { 256 };
  ember_tensor *x = randu(2, xs, 1, -1, 1), *w = randu(2, ws, 2, -0.3f, 0.3f), *b = randu(1, bs, 3, -1, 1);
  ember_tensor *lin[3] = { x, w, b };
  ember_tensor *y = run_kernel("fused_linear", 3, lin, "activation=gelu", NULL);
  ember_tensor *l = op1("linear", 3, lin, NULL), *want = l ? op1("gelu", 1, &l, NULL) : NULL;
  check(y && want && max_err(y, want) < 1e-5, "fused_linear gelu: gelu(linear) of eager ember");

  /* fused_conv2d: small images several to a GEMM, the column matrix from the region */
  int64_t is[4] = { 4, 3, 16, 16 }, ks[4] = { 8, 3, 3, 3 }, kbs[1] = { 8 };
  ember_tensor *img = randu(4, is, 4, -1, 1), *k = randu(4, ks, 5, -0.5f, 0.5f), *kb = randu(1, kbs, 6, -1, 1);
  ember_tensor *conv[3] = { img, k, kb };
  ember_tensor *cy = run_kernel("fused_conv2d", 3, conv, "padding=1,activation=tanh", NULL);
  ember_tensor *cv = op1("conv2d", 3, conv, "padding=1"), *cwant = cv ? op1("tanh", 1, &cv, NULL) : NULL;
  check(cy && cwant && max_err(cy, cwant) == 0, "fused_conv2d tanh: tanh(conv2d) of eager ember, to the bit");

  /* fused_pointwise: 100000 elements over threads; a row bias that crosses blocks */
  int64_t ps[2] = { 1000, 100 }, rs[1] = { 100 };
  ember_tensor *p = randu(2, ps, 7, -2, 2), *q = randu(2, ps, 8, -2, 2), *r = randu(1, rs, 9, -2, 2);
  ember_tensor *pw[3] = { p, q, r };
  ember_tensor *py = run_kernel("fused_pointwise", 3, pw, "code=%0 %1 add relu %2 mul sigmoid", NULL);
  ember_tensor *s[2] = { p, q };
  ember_tensor *t1 = op1("add", 2, s, NULL), *t2 = t1 ? op1("relu", 1, &t1, NULL) : NULL;
  ember_tensor *m[2] = { t2, r };
  ember_tensor *t3 = t2 ? op1("mul", 2, m, NULL) : NULL, *pwant = t3 ? op1("sigmoid", 1, &t3, NULL) : NULL;
  check(py && pwant && max_err(py, pwant) == 0, "fused_pointwise: sigmoid(relu(p + q) * r) of eager ember, to the bit");

  /* the output a transposed view (written through a buffer), then the bytes of its
     own first input (the memory plan's in-place reuse) */
  int64_t ts[2] = { 100, 1000 };
  ember_tensor *base = ember_tensor_empty(EMBER_F32, 2, ts), *view = ember_transpose(base, 0, 1);
  ember_tensor *vy = run_kernel("fused_pointwise", 3, pw, "code=%0 %1 add relu %2 mul sigmoid", view);
  ember_tensor *vc = vy ? ember_contiguous(vy) : NULL;
  check(vc && max_err(vc, pwant) == 0, "fused_pointwise into a transposed view");
  ember_tensor *pcopy = op1("clone", 1, &p, NULL);   /* p is read again below */
  ember_tensor *own[3] = { pcopy, q, r };
  ember_tensor *iy = run_kernel("fused_pointwise", 3, own, "code=%0 %1 add relu %2 mul sigmoid", pcopy);
  /* those runs in place applied the chain again and again: the values of one run, on
     a fresh copy */
  ember_tensor *fresh = op1("clone", 1, &p, NULL);
  ember_tensor *own1[3] = { fresh, q, r };
  ember_call one;
  char buf[64];
  ember_call_init(&one, ember_op_find("fused_pointwise"), 3, own1);
  ember_call_parse_attrs(&one, "code=%0 %1 add relu %2 mul sigmoid", buf, sizeof buf);
  ember_op_find("fused_pointwise")->infer(&one);
  one.out[0] = fresh;
  check(iy && one.op->cpu(&one) == EMBER_OK && max_err(fresh, pwant) == 0,
        "fused_pointwise writing over its own input");

  ember_tensor *all[] = { x, w, b, y, l, want, img, k, kb, cy, cv, cwant, p, q, r, py, t1, t2,
                          t3, pwant, base, view, vy, vc, pcopy, iy, fresh };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ember_tensor_release(all[i]);
  printf("1..%d\n", ntest);
  return nfail ? 1 : 0;
}
