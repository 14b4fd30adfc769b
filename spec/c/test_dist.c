/*
** test_dist.c — the collectives' C API (ember.h §10), as a C program uses it. Run alone
** it checks a world of one; run under mpirun (spec/dist_spec.lua does, with 1 to 4
** ranks) it checks every collective against values each rank can compute by itself:
** rank r's element i is r*100 + i, so a sum over ranks is known in closed form.
** Prints TAP lines with the rank; exits non-zero if any check fails.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember.h"

static int ntest, nfail, R, N;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - rank %d/%d: %s\n", ok ? "" : "not ", ntest, R + 1, N, what);
  if (!ok && ember_last_error()[0]) printf("# %s\n", ember_last_error());
}

static ember_tensor *ramp(ember_dtype dt, int64_t n, int rank) {
  ember_tensor *t = ember_tensor_empty(dt, 1, &n);
  for (int64_t i = 0; i < n; i++) ember_tensor_set(t, i, rank * 100 + (double)(i % 50));
  return t;
}

static ember_tensor *ones_f32(int64_t n) {
  ember_tensor *t = ember_tensor_empty(EMBER_F32, 1, &n);
  ember_fill_(t, 1);
  return t;
}

static int all_equal(const ember_tensor *t, double (*want)(int64_t i), double tol) {
  for (int64_t i = 0; i < ember_tensor_numel(t); i++)
    if (fabs(ember_tensor_get(t, i) - want(i)) > tol) return 0;
  return 1;
}

static double want_sum(int64_t i) { return 100.0 * N * (N - 1) / 2 + (double)N * (double)(i % 50); }
static double want_avg(int64_t i) { return want_sum(i) / N; }
static double want_max(int64_t i) { return 100.0 * (N - 1) + (double)(i % 50); }
static double want_min(int64_t i) { return (double)(i % 50); }
static double want_root(int64_t i) { return 100.0 * (N - 1) + (double)(i % 50); }

static void reductions(void) {
  static const ember_dtype dts[] = { EMBER_F32, EMBER_F64, EMBER_F16, EMBER_BF16, EMBER_I32, EMBER_I64 };
  for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
    char what[96];
    ember_tensor *t = ramp(dts[k], 1023, R);
    ember_status st = ember_dist_allreduce(t, EMBER_REDUCE_SUM, NULL);
    /* bf16 holds 8 significant bits: sums up to ~650 round to a multiple of 4 */
    double tol = dts[k] == EMBER_BF16 ? 4 : dts[k] == EMBER_F16 ? 0.5 : 0;
    snprintf(what, sizeof what, "allreduce sum %s of 1023", ember_dtype_name(dts[k]));
    check(st == EMBER_OK && all_equal(t, want_sum, tol), what);
    ember_tensor_release(t);
  }
  ember_tensor *t = ramp(EMBER_F64, 7, R);
  check(ember_dist_allreduce(t, EMBER_REDUCE_AVG, NULL) == EMBER_OK && all_equal(t, want_avg, 1e-12),
        "allreduce avg f64");
  ember_tensor_release(t);
  t = ramp(EMBER_I16, 7, R);
  check(ember_dist_allreduce(t, EMBER_REDUCE_MAX, NULL) == EMBER_OK && all_equal(t, want_max, 0),
        "allreduce max i16");
  ember_tensor_release(t);
  t = ramp(EMBER_F32, 7, R);
  check(ember_dist_allreduce(t, EMBER_REDUCE_MIN, NULL) == EMBER_OK && all_equal(t, want_min, 0),
        "allreduce min f32");
  ember_tensor_release(t);
  t = ramp(EMBER_I32, 5, 0);
  check(ember_dist_allreduce(t, EMBER_REDUCE_AVG, NULL) == EMBER_ERROR &&
        strstr(ember_last_error(), "avg needs a float tensor, got i32") != NULL,
        "avg of i32 is refused, naming the dtype");
  ember_tensor_release(t);
}

static void async_and_moves(void) {
  ember_tensor *a = ramp(EMBER_F32, 100000, R), *b = ramp(EMBER_F64, 3, R);
  ember_dist_work *wa, *wb;
  int ok = ember_dist_allreduce(a, EMBER_REDUCE_SUM, &wa) == EMBER_OK &&
           ember_dist_allreduce(b, EMBER_REDUCE_MAX, &wb) == EMBER_OK;
  ok = ok && ember_dist_wait(wb) == EMBER_OK && ember_dist_test(wa) == 1;
  check(ok && all_equal(a, want_sum, 0) && all_equal(b, want_max, 0), "two async allreduces, waited out of order");
  ember_dist_work_free(wa);
  ember_dist_work_free(wb);
  ember_tensor_release(a);
  ember_tensor_release(b);

  ember_tensor *t = ramp(EMBER_F32, 33, R);
  check(ember_dist_broadcast(t, N - 1, NULL) == EMBER_OK && all_equal(t, want_root, 0), "broadcast from the last rank");
  ember_tensor_release(t);

  int64_t n = 5, nn = 5 * (int64_t)N;
  ember_tensor *in = ramp(EMBER_I64, n, R), *out = ember_tensor_empty(EMBER_I64, 1, &nn);
  ok = ember_dist_allgather(out, in, NULL) == EMBER_OK;
  for (int r = 0; ok && r < N; r++)
    for (int64_t i = 0; i < n; i++) ok = ok && ember_tensor_get(out, r * n + i) == r * 100 + (double)i;
  check(ok, "allgather i64");
  ember_tensor_release(in);
  ember_tensor_release(out);

  in = ramp(EMBER_F64, nn, R);
  out = ember_tensor_empty(EMBER_F64, 1, &n);
  ok = ember_dist_reduce_scatter(out, in, EMBER_REDUCE_SUM, NULL) == EMBER_OK;
  for (int64_t i = 0; ok && i < n; i++) ok = ember_tensor_get(out, i) == want_sum(R * n + i);
  check(ok, "reduce_scatter sum f64");
  ember_tensor_release(in);
  ember_tensor_release(out);

  /* all_to_all: block j of rank r holds r*100 + j; rank r receives j*100 + r from each j */
  in = ember_tensor_empty(EMBER_I32, 1, &nn);
  out = ember_tensor_empty(EMBER_I32, 1, &nn);
  for (int64_t i = 0; i < nn; i++) ember_tensor_set(in, i, R * 100 + (double)(i / n));
  ok = ember_dist_all_to_all(out, in, NULL) == EMBER_OK;
  for (int64_t i = 0; ok && i < nn; i++) ok = ember_tensor_get(out, i) == (double)(i / n) * 100 + R;
  check(ok, "all_to_all i32");
  ember_tensor_release(in);
  ember_tensor_release(out);
}

static void ring(void) {
  int64_t n = 9;
  ember_tensor *s = ramp(EMBER_F32, n, R), *r = ember_tensor_zeros(EMBER_F32, 1, &n);
  ember_dist_work *w;
  int ok = ember_dist_recv(r, -1, 7, &w) == EMBER_OK &&
           ember_dist_send(s, (R + 1) % N, 7, NULL) == EMBER_OK && ember_dist_wait(w) == EMBER_OK;
  int from = (R + N - 1) % N;
  ok = ok && ember_dist_work_source(w) == from;
  for (int64_t i = 0; ok && i < n; i++) ok = ember_tensor_get(r, i) == from * 100 + (double)i;
  check(ok, "a ring of send and an early async recv from any rank");
  ember_dist_work_free(w);
  ember_tensor_release(s);
  ember_tensor_release(r);
}

/* Ranks whose calls differ: every one gets the same error, and the job goes on. */
static int mismatch(void) {
  int64_t n = R == 0 ? 3 : 4;
  ember_tensor *t = ones_f32(n);
  if (ember_dist_allreduce(t, EMBER_REDUCE_SUM, NULL) != EMBER_ERROR) return 1;
  printf("rank %d: %s\n", R + 1, ember_last_error());
  ember_tensor_release(t);
  t = ones_f32(3);
  int ok = ember_dist_allreduce(t, EMBER_REDUCE_SUM, NULL) == EMBER_OK && ember_tensor_get(t, 2) == N;
  printf("rank %d after the error: %s\n", R + 1, ok ? "ok" : "wrong");
  ember_tensor_release(t);
  return ember_dist_finalize() == EMBER_OK && ok ? 0 : 1;
}

/* The second rank stops calling: the others' barrier outlives the timeout. */
static int stall(void) {
  if (R == 1) sleep(60);
  ember_dist_barrier(NULL);
  return 1;
}

int main(int argc, char **argv) {
  if (ember_dist_init(NULL) != EMBER_OK) {
    printf("not ok 1 - dist init: %s\n", ember_last_error());
    return 1;
  }
  R = ember_dist_rank(), N = ember_dist_world_size();
  if (argc > 1 && strcmp(argv[1], "mismatch") == 0) return mismatch();
  if (argc > 1 && strcmp(argv[1], "stall") == 0) return stall();
  check(N >= 1 && R >= 0 && R < N && ember_dist_local_rank() < ember_dist_local_size(), "rank and size");
  reductions();
  async_and_moves();
  ring();
  check(ember_dist_barrier(NULL) == EMBER_OK, "barrier");
  check(ember_dist_finalize() == EMBER_OK && strcmp(ember_dist_backend(), "none") == 0, "finalize");
  printf("1..%d\n", ntest);
  return nfail ? 1 : 0;
}
