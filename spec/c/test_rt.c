/*
** test_rt.c — the runtime's C API without Lua (issue 6, item 4): a program traced
** from C (ember_trace_*, ops through ember_op_run), planned and saved, then loaded
** from a path and from memory and run through ember_rt.h. Checks the outputs against
** eager ember on the same inputs, the queries, a caller-provided arena, index values
** crossing the API 0-based, the error codes, and that ember_rt_execute allocates
** nothing: malloc and friends are interposed here and counted while it runs.
** Prints TAP lines; exits non-zero if any check fails.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember.h"
#include "ember_rt.h"
#include "graph.h"
#include "rt.h"

#include "alloc_count.h"

static int ntest, nfail;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - %s\n", ok ? "" : "not ", ntest, what);
}

static ember_tensor *randn(int nd, const int64_t *shape, unsigned seed) {
  ember_tensor *t = ember_tensor_empty(EMBER_F32, nd, shape);
  float *d = ember_tensor_data(t);
  srand(seed);
  for (int64_t i = 0; i < ember_tensor_numel(t); i++) d[i] = (float)rand() / RAND_MAX * 2 - 1;
  return t;
}

static ember_tensor *run1(const char *op, int nin, ember_tensor **in, const char *attrs) {
  ember_tensor *out = NULL;
  return ember_op_run(op, nin, in, attrs, &out, 1) == 1 ? out : NULL;
}

/* The model: softmax(tanh(conv(x) + b) . W^T) and its argmax, from C. */
typedef struct model { ember_tensor *w1, *b1, *w2; } model;

static void forward(model *m, ember_tensor *x, ember_tensor **probs, ember_tensor **cls) {
  ember_tensor *in3[3] = { x, m->w1, m->b1 };
  ember_tensor *h = run1("conv2d", 3, in3, "padding=1,1");
  ember_tensor *t = run1("tanh", 1, &h, NULL);
  ember_tensor *f = run1("flatten", 1, &t, "start_dim=1");
  ember_tensor *in2[2] = { f, m->w2 };
  ember_tensor *l = run1("linear", 2, in2, NULL);
  *probs = run1("softmax", 1, &l, "dim=1");
  *cls = run1("argmax", 1, probs, "dim=1");
  ember_tensor_release(h);
  ember_tensor_release(t);
  ember_tensor_release(f);
  ember_tensor_release(l);
}

static const char *save_program(model *m, ember_tensor *x, const char *path) {
  ember_tracer *tr = ember_trace_begin();
  ember_trace_input(tr, "image", x);
  ember_trace_name(tr, m->w1, "conv.weight");
  ember_tensor *probs, *cls;
  forward(m, x, &probs, &cls);
  ember_tensor *outs[2] = { probs, cls };
  const char *names[2] = { "probs", "class" };
  ember_graph *g = ember_trace_end(tr, 2, outs, names);
  ember_tensor_release(probs);
  ember_tensor_release(cls);
  if (g == NULL) return ember_last_error();
  if (ember_graph_optimize(g, "") != EMBER_OK) return ember_last_error();
  ember_plan *plan = ember_plan_make(g);
  if (plan == NULL) return ember_last_error();
  /* scratch at the bounds, measured as ember.export does */
  plan->workspace_threads = 1;
  const char *err = NULL;
  if (ember_program_save(path, g, plan, 0, NULL, NULL) != EMBER_OK) err = ember_last_error();
  ember_rt_program *probe = err ? NULL : ember_rt_load(path, NULL);
  int64_t peak = 0;
  if (!err && (!probe || rt_measure_workspace(probe, &peak) != EMBER_RT_OK)) err = ember_rt_last_error();
  ember_rt_free(probe);
  plan->workspace_bytes = peak;
  if (!err && ember_program_save(path, g, plan, 0, NULL, NULL) != EMBER_OK) err = ember_last_error();
  ember_plan_free(plan);
  ember_graph_free(g);
  return err;
}

static int same(const void *a, const void *b, int64_t n, ember_dtype dt) {
  for (int64_t i = 0; i < n; i++) {
    double x = ember_load_f64(dt, (const char *)a + i * ember_dtype_size(dt));
    double y = ember_load_f64(dt, (const char *)b + i * ember_dtype_size(dt));
    if (fabs(x - y) > 1e-5 * (fabs(y) > 1 ? fabs(y) : 1)) return 0;
  }
  return 1;
}

int main(void) {
  char path[] = "/tmp/ember-test-rt-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  int64_t ws[4] = { 4, 2, 3, 3 }, xs[4] = { 5, 2, 6, 6 }, bs[1] = { 4 }, w2s[2] = { 3, 4 * 6 * 6 };
  model m = { randn(4, ws, 1), randn(1, bs, 2), randn(2, w2s, 3) };
  ember_tensor *x = randn(4, xs, 4);
  const char *err = save_program(&m, x, path);
  check(err == NULL, "a program traced from C is planned and saved");
  if (err) { printf("# %s\n", err); return 1; }

  ember_rt_program *p = ember_rt_load(path, NULL);
  check(p != NULL, "ember_rt_load reads it");
  if (p == NULL) { printf("# %s\n", ember_rt_last_error()); return 1; }
  check(ember_rt_input_count(p) == 1 && ember_rt_output_count(p) == 2, "one input, two outputs");
  ember_rt_tensor_info info;
  ember_rt_input_info(p, 0, &info);
  check(strcmp(info.name, "image") == 0 && strcmp(info.dtype, "f32") == 0 && info.ndim == 4 &&
        info.shape[0] == 5 && info.shape[3] == 6, "input info: name, dtype, shape");
  ember_rt_output_info(p, 1, &info);
  check(strcmp(info.name, "class") == 0 && strcmp(info.dtype, "i64") == 0 && info.is_index,
        "output info: the argmax is an index output");
  check(ember_rt_input_index(p, "image") == 0 && ember_rt_output_index(p, "probs") == 0 &&
        ember_rt_output_index(p, "nope") == -1, "inputs and outputs by name");
  check(ember_rt_arena_size(p) > 0 && ember_rt_weights_size(p) == (4 * 2 * 9 + 4 + 3 * 144) * 4,
        "arena and weight sizes");

  /* eager reference */
  ember_tensor *probs, *cls;
  forward(&m, x, &probs, &cls);

  check(ember_rt_set_input(p, 0, ember_tensor_data(x), ember_tensor_nbytes(x)) == EMBER_RT_OK, "set_input");
  check(ember_rt_execute(p) == EMBER_RT_OK, "execute");
  check(same(ember_rt_output_data(p, 0), ember_tensor_data(probs), 15, EMBER_F32), "probs equal eager ember's");
  check(memcmp(ember_rt_output_data(p, 1), ember_tensor_data(cls), 5 * sizeof(int64_t)) == 0,
        "class equals eager ember's argmax (0-based both)");

  /* no allocation while executing (after one warm-up call for OpenMP/OpenBLAS pools) */
  nallocs = 0;
  counting = 1;
  ember_rt_status st = EMBER_RT_OK;
  for (int i = 0; i < 20 && st == EMBER_RT_OK; i++) st = ember_rt_execute(p);
  counting = 0;
  char msg[128];
  snprintf(msg, sizeof msg, "20 executes make no heap allocation%s", ALLOC_NOTE);
  check(st == EMBER_RT_OK && no_allocs(nallocs), msg);
  if (nallocs) printf("# %ld allocations\n", nallocs);
  check(p->scratch_overflows == 0, "kernel scratch fits the planned workspace");

  /* a caller-provided arena */
  size_t n = ember_rt_arena_size(p);
  void *arena = aligned_alloc(64, (n + 63) / 64 * 64);
  memset(arena, 0xff, n);
  check(ember_rt_set_arena(p, arena, n - 1) == EMBER_RT_ERROR_MEMORY, "an arena too small is refused");
  check(ember_rt_set_arena(p, arena, n) == EMBER_RT_OK, "set_arena takes the caller's memory");
  check(ember_rt_execute(p) == EMBER_RT_OK &&
        same(ember_rt_output_data(p, 0), ember_tensor_data(probs), 15, EMBER_F32) &&
        (char *)ember_rt_output_data(p, 0) >= (char *)arena &&
        (char *)ember_rt_output_data(p, 0) < (char *)arena + n, "and runs in it");

  /* errors */
  check(ember_rt_set_input(p, 0, ember_tensor_data(x), 12) == EMBER_RT_ERROR_ARGUMENT &&
        strstr(ember_rt_last_error(), "bytes") != NULL, "a wrong byte count is an argument error");
  check(ember_rt_set_input(p, 3, ember_tensor_data(x), 12) == EMBER_RT_ERROR_ARGUMENT, "a bad position too");
  check(strcmp(ember_rt_status_name(EMBER_RT_ERROR_FORMAT), "format") == 0, "status names");
  ember_rt_free(p);

  /* from memory */
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *bytes = aligned_alloc(64, (size_t)(size + 63) / 64 * 64);
  check(fread(bytes, 1, (size_t)size, f) == (size_t)size, "read the file");
  fclose(f);
  ember_rt_program *q = ember_rt_load_memory(bytes, (size_t)size, NULL);
  check(q && ember_rt_set_input(q, 0, ember_tensor_data(x), ember_tensor_nbytes(x)) == EMBER_RT_OK &&
        ember_rt_execute(q) == EMBER_RT_OK &&
        same(ember_rt_output_data(q, 0), ember_tensor_data(probs), 15, EMBER_F32), "load_memory runs the same");
  ember_rt_free(q);
  bytes[10] ^= 0x55;   /* the header's JSON */
  q = ember_rt_load_memory(bytes, (size_t)size, NULL);
  check(q == NULL && strlen(ember_rt_last_error()) > 0, "a corrupted file is refused with a message");
  ember_rt_free(q);
  check(ember_rt_load("/nonexistent/p.ember", NULL) == NULL &&
        strstr(ember_rt_last_error(), "p.ember") != NULL, "a missing file names itself");

  free(bytes);
  free(arena);
  unlink(path);
  ember_tensor_release(probs);
  ember_tensor_release(cls);
  ember_tensor_release(x);
  ember_tensor_release(m.w1);
  ember_tensor_release(m.b1);
  ember_tensor_release(m.w2);
  printf("1..%d\n", ntest);
  return nfail != 0;
}
