/*
** test_autograd.c — autograd from C, without Lua: recording through ember_op_run,
** ember_backward, accumulation, grad mode, hooks with C callbacks, custom functions,
** refcounts (every tensor and node freed at the end). Prints TAP lines; exits
** non-zero if any check fails. Expected gradients are hand-computed.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ember.h"
#include "core.h"
#include "autograd.h"

static int ntest, nfail;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - %s\n", ok ? "" : "not ", ntest, what);
}

static ember_tensor *vec(int n, const float *v) {
  int64_t shape[1] = { n };
  ember_tensor *t = ember_tensor_empty(EMBER_F32, 1, shape);
  memcpy(ember_tensor_data(t), v, n * sizeof *v);
  return t;
}

static int equals(const ember_tensor *t, int n, const float *want) {
  if (t == NULL || ember_tensor_numel(t) != n || t->dtype != EMBER_F32) return 0;
  const float *d = ember_tensor_data(t);
  for (int i = 0; i < n; i++)
    if (fabsf(d[i] - want[i]) > 1e-6f) return 0;
  return 1;
}

static ember_tensor *op2(const char *name, ember_tensor *a, ember_tensor *b) {
  ember_tensor *in[2] = { a, b }, *out = NULL;
  return ember_op_run(name, 2, in, NULL, &out, 1) == 1 ? out : NULL;
}

static ember_tensor *op1(const char *name, ember_tensor *a, const char *attrs) {
  ember_tensor *out = NULL;
  return ember_op_run(name, 1, &a, attrs, &out, 1) == 1 ? out : NULL;
}

static void test_backward(void) {
  float xv[3] = { 1, 2, 3 }, wv[3] = { 4, 5, 6 };
  ember_tensor *x = vec(3, xv), *w = vec(3, wv);
  check(ember_set_requires_grad(x, 1) == EMBER_OK, "requires_grad on a float leaf");
  ember_set_requires_grad(w, 1);
  ember_tensor *p = op2("mul", x, w);               /* x*w */
  ember_tensor *q = op2("mul", p, x);               /* x*x*w */
  ember_tensor *s = op1("sum", q, NULL);
  check(ember_requires_grad(s) && !ember_is_leaf(s), "a result of a leaf that requires grad has history");
  check(ember_grad_fn_name(s) && strcmp(ember_grad_fn_name(s), "sum") == 0, "grad_fn names the op");
  check(ember_backward(s, NULL, 0) == EMBER_OK, "backward from a scalar");
  float dx[3] = { 2 * 1 * 4, 2 * 2 * 5, 2 * 3 * 6 }, dw[3] = { 1, 4, 9 };
  check(equals(ember_grad(x), 3, dx), "d(sum x*x*w)/dx = 2xw");
  check(equals(ember_grad(w), 3, dw), "d(sum x*x*w)/dw = x^2");
  check(ember_backward(s, NULL, 0) == EMBER_ERROR && strstr(ember_last_error(), "retain_graph"),
        "a second backward through a freed graph is an error");
  ember_tensor_release(s);
  ember_tensor_release(q);
  ember_tensor_release(p);

  int old = ember_set_grad_enabled(0);
  ember_tensor *r = op2("mul", x, w);
  check(!ember_requires_grad(r), "no history with grad mode off");
  ember_set_grad_enabled(old);
  ember_tensor_release(r);

  ember_tensor *d = ember_detach(x);
  check(!ember_requires_grad(d) && d->storage == x->storage, "detach shares storage, drops history");
  ember_tensor_release(d);
  ember_tensor_release(x);
  ember_tensor_release(w);
}

static int hook_calls, post_calls;

static ember_status double_it(void *ctx, ember_tensor *grad, ember_tensor **replace) {
  (void)ctx;
  hook_calls++;
  *replace = ember_ag_scale(grad, 2.0);
  return *replace ? EMBER_OK : EMBER_ERROR;
}

static ember_status count_post(void *ctx, ember_tensor *leaf) {
  *(int *)ctx += ember_grad(leaf) != NULL;
  return EMBER_OK;
}

static int freed_ctx;
static void free_ctx(void *ctx) { (void)ctx; freed_ctx++; }

static void test_hooks(void) {
  float xv[2] = { 1, 2 };
  ember_tensor *x = vec(2, xv);
  ember_set_requires_grad(x, 1);
  int h = ember_register_hook(x, double_it, NULL, free_ctx);
  check(h > 0, "register a tensor hook");
  check(ember_register_post_accumulate_hook(x, count_post, &post_calls, NULL) > 0,
        "register a post-accumulate hook");
  ember_tensor *y = op2("add", x, x);
  ember_tensor *s = op1("sum", y, NULL);
  ember_backward(s, NULL, 0);
  float want[2] = { 4, 4 };
  check(hook_calls == 1 && equals(ember_grad(x), 2, want), "the hook doubles the summed gradient once");
  check(post_calls == 1, "the post-accumulate hook runs once with .grad set");
  ember_remove_hook(x, h);
  check(freed_ctx == 1, "removing a hook frees its context");
  ember_tensor_release(s);
  ember_tensor_release(y);
  ember_tensor_release(x);
}

/* a custom function y = 3x whose backward says so */
static ember_status triple_backward(void *ctx, int nout, ember_tensor *const *g, int nin,
                                    ember_tensor **gi) {
  (void)ctx; (void)nout; (void)nin;
  gi[0] = ember_ag_scale(g[0], 3.0);
  return gi[0] ? EMBER_OK : EMBER_ERROR;
}

static void test_custom(void) {
  float xv[2] = { 1, 2 };
  ember_tensor *x = vec(2, xv);
  ember_set_requires_grad(x, 1);
  int old = ember_set_grad_enabled(0);
  ember_tensor *y = ember_ag_scale(x, 3.0);
  ember_set_grad_enabled(old);
  freed_ctx = 0;
  check(ember_autograd_custom("triple", 1, &x, 1, &y, triple_backward, NULL, free_ctx) == EMBER_OK,
        "link a custom function");
  ember_tensor *s = op1("sum", y, NULL);
  check(ember_backward(s, NULL, 0) == EMBER_OK, "backward through it");
  float want[2] = { 3, 3 };
  check(equals(ember_grad(x), 2, want), "its rule gives the gradient");
  check(freed_ctx == 1, "its context is freed with the graph");
  ember_tensor_release(s);
  ember_tensor_release(y);
  ember_tensor_release(x);
}

static void test_errors(void) {
  int64_t shape[1] = { 2 };
  ember_tensor *i = ember_tensor_zeros(EMBER_I64, 1, shape);
  check(ember_set_requires_grad(i, 1) == EMBER_ERROR && strstr(ember_last_error(), "floating point"),
        "integer tensors cannot require grad");
  check(ember_backward(i, NULL, 0) == EMBER_ERROR && strstr(ember_last_error(), "does not require grad"),
        "backward from a tensor without history is an error");
  ember_tensor_release(i);
}

int main(void) {
  long before = ember_autograd_live_nodes();
  test_backward();
  test_hooks();
  test_custom();
  test_errors();
  check(ember_autograd_live_nodes() == before, "every node is freed");
  printf("1..%d\n", ntest);
  return nfail != 0;
}
