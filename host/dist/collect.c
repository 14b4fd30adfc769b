/*
** collect.c — the collectives on tensors (ember.h §10): each call checks its
** arguments, finds host buffers MPI can use (the tensor's own memory when it is a
** contiguous host tensor of a type MPI reduces, else a staging copy), describes
** itself so that ranks can agree, and runs now or on the communication thread.
** Results are written back on the caller's thread, in finish().
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

#define S dist_S

static const char *const kind_names[] = {
  "barrier", "allreduce", "broadcast", "allgather", "reduce_scatter", "all_to_all", "send", "recv"
};
static const char *const op_names[] = { "sum", "avg", "max", "min", "prod" };

const char *dist_kind_name(dist_kind k) { return kind_names[k]; }

void dist_call_str(const dist_call *c, char *buf, size_t n) {
  size_t len = (size_t)snprintf(buf, n, "%s", kind_names[c->kind]);
  if (c->dtype >= 0 && len < n) {
    len += (size_t)snprintf(buf + len, n - len, " %s [", ember_dtype_name((ember_dtype)c->dtype));
    for (int d = 0; d < c->ndim && len < n; d++)
      len += (size_t)snprintf(buf + len, n - len, d ? ", %lld" : "%lld", (long long)c->shape[d]);
    if (len < n) len += (size_t)snprintf(buf + len, n - len, "]");
  }
  if (len < n && (c->kind == DIST_ALLREDUCE || c->kind == DIST_REDUCE_SCATTER) &&
      c->op >= 0 && c->op <= EMBER_REDUCE_PROD)
    len += (size_t)snprintf(buf + len, n - len, " %s", op_names[c->op]);
  if (len < n && c->kind == DIST_BROADCAST)
    len += (size_t)snprintf(buf + len, n - len, " from rank %d", c->root + 1);
  if (len < n && c->kind == DIST_SEND)
    len += (size_t)snprintf(buf + len, n - len, " to rank %d", c->root + 1);
  if (len < n && c->kind == DIST_RECV)
    len += c->root < 0 ? (size_t)snprintf(buf + len, n - len, " from any rank")
                       : (size_t)snprintf(buf + len, n - len, " from rank %d", c->root + 1);
  if (len < n && c->pad) snprintf(buf + len, n - len, " (refused on that rank)");
}

/* {====== works */

static ember_dist_work *work_new(dist_kind kind, const ember_tensor *t, int op, int root) {
  ember_dist_work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    ember_error("%s: out of memory", kind_names[kind]);
    return NULL;
  }
  w->kind = kind;
  w->check = S.check && kind != DIST_SEND && kind != DIST_RECV;
  w->call.kind = kind;
  w->call.dtype = t ? t->dtype : -1;
  w->call.op = op;
  w->call.root = root;
  w->call.ndim = t ? t->ndim : 0;
  for (int d = 0; t && d < t->ndim; d++) w->call.shape[d] = t->shape[d];
  w->state = W_QUEUED;
  return w;
}

static void let_go(ember_tensor **t) {
  if (*t) ember_tensor_release(*t);
  *t = NULL;
}

static void divide(ember_tensor *t, int n) {
  int64_t k = ember_tensor_numel(t);
  if (t->dtype == EMBER_F64) {
    double *p = ember_tensor_data(t);
    for (int64_t i = 0; i < k; i++) p[i] /= n;
  } else {
    float *p = ember_tensor_data(t);
    for (int64_t i = 0; i < k; i++) p[i] /= (float)n;
  }
}

/* Writes the results back and lets the tensors go; once. The error, if any, stays. */
static ember_status finish(ember_dist_work *w) {
  if (!w->finished) {
    w->finished = 1;
    if (!w->failed && w->kind == DIST_RECV && w->got != w->count) {
      w->failed = 1;
      snprintf(w->msg, sizeof w->msg, "recv: rank %d sent %zu bytes, but the tensor (%s) holds %zu",
               w->source + 1, w->got, ember_dtype_name(w->user_out->dtype), w->count);
    }
    if (!w->failed && w->user_out) {
      ember_tensor *res = w->stage_out ? w->stage_out : w->user_out;
      if (w->divide && S.size > 1) divide(res, S.size);
      if (w->stage_out) {
        if (ember_copy_(w->user_out, w->stage_out) != EMBER_OK) {
          w->failed = 1;
          snprintf(w->msg, sizeof w->msg, "%s: writing the result back: %s", kind_names[w->kind],
                   ember_last_error());
        }
      } else {
        w->user_out->storage->version++;    /* an in-place write, as autograd counts them */
      }
    }
    let_go(&w->user_in), let_go(&w->user_out), let_go(&w->stage_in), let_go(&w->stage_out);
  }
  return w->failed ? ember_error("%s", w->msg) : EMBER_OK;
}

static void work_free(ember_dist_work *w) {
  finish(w);
  free(w);
}

/* A call this rank cannot make. The other ranks may be making theirs, so when ranks
** check each other this one still takes part in the check: if their calls differ,
** every rank raises the same "calls differ" error; if all refused alike, each raises
** its own reason. */
static ember_status refuse(ember_dist_work *w) {
  char why[512];
  snprintf(why, sizeof why, "%s", ember_last_error());
  let_go(&w->user_in), let_go(&w->user_out), let_go(&w->stage_in), let_go(&w->stage_out);
  if (w->check && S.is_mpi) {
    w->call.pad = 1;                     /* "refused on that rank" */
    w->check_only = 1;
    dist_run_blocking(w);
    if (w->failed) {
      ember_status st = ember_error("%s", w->msg);
      free(w);
      return st;
    }
  }
  free(w);
  return ember_error("%s", why);
}

static ember_status launch(ember_dist_work *w, ember_dist_work **async) {
  if (async) {
    dist_enqueue(w);
    *async = w;
    return EMBER_OK;
  }
  dist_run_blocking(w);
  ember_status st = finish(w);
  free(w);
  return st;
}

/* }====== */

/* {====== buffers */

static int on_host(const ember_tensor *t, ember_dtype as) {
  return ember_tensor_device(t) == EMBER_CPU && ember_tensor_is_contiguous(t) && t->dtype == as;
}

/* A contiguous host tensor of dtype `as` standing in for t (NULL: t itself will do);
** with `fill`, t's values copied and converted into it. */
static ember_status stage(ember_tensor *t, ember_dtype as, int fill, ember_tensor **out) {
  *out = NULL;
  if (on_host(t, as)) return EMBER_OK;
  ember_tensor *s = ember_tensor_empty(as, t->ndim, t->shape);
  if (s == NULL) return EMBER_ERROR;
  if (fill && ember_copy_(s, t) != EMBER_OK) {
    ember_tensor_release(s);
    return EMBER_ERROR;
  }
  *out = s;
  return EMBER_OK;
}

static void *host_of(ember_tensor *t, ember_tensor *staged) {
  static unsigned char none;             /* MPI is given an address even for 0 bytes */
  void *p = ember_tensor_data(staged ? staged : t);
  return p ? p : &none;
}

/* The dtype a reduction runs in, and MPI's type for it: f16 and bf16 go in f32. */
static ember_dtype reduce_dtype(ember_dtype dt, int *type) {
  switch (dt) {
    case EMBER_F64: *type = EMBER_MPI_F64; return dt;
    case EMBER_I8: *type = EMBER_MPI_I8; return dt;
    case EMBER_I16: *type = EMBER_MPI_I16; return dt;
    case EMBER_I32: *type = EMBER_MPI_I32; return dt;
    case EMBER_I64: *type = EMBER_MPI_I64; return dt;
    case EMBER_U8: case EMBER_BOOL: *type = EMBER_MPI_U8; return dt;
    default: *type = EMBER_MPI_F32; return EMBER_F32;
  }
}

/* MPI's op; on bool (0 or 1 in a byte) sum is "or" and prod is "and". */
static int reduce_op(ember_reduce_op op, ember_dtype dt) {
  if (dt == EMBER_BOOL) return op == EMBER_REDUCE_PROD || op == EMBER_REDUCE_MIN ? EMBER_MPI_MIN : EMBER_MPI_MAX;
  switch (op) {
    case EMBER_REDUCE_MAX: return EMBER_MPI_MAX;
    case EMBER_REDUCE_MIN: return EMBER_MPI_MIN;
    case EMBER_REDUCE_PROD: return EMBER_MPI_PROD;
    default: return EMBER_MPI_SUM;
  }
}

/* }====== */

/* {====== checks of the arguments */

static ember_status started(const char *fn) {
  if (!S.initialized) return ember_error("%s: the job has not started: call dist.init() first", fn);
  return EMBER_OK;
}

static ember_status reducible(const char *fn, const ember_tensor *t, ember_reduce_op op) {
  if ((unsigned)op > EMBER_REDUCE_PROD) return ember_error("%s: unknown reduction %d", fn, (int)op);
  if ((int)t->dtype >= EMBER_COMPUTE_DTYPES)
    return ember_error("%s: %s is a storage-only dtype; convert the tensor to one ops compute in",
                       fn, ember_dtype_name(t->dtype));
  if (op == EMBER_REDUCE_AVG && !ember_dtype_is_float(t->dtype))
    return ember_error("%s: avg needs a float tensor, got %s (sum it and divide)", fn,
                       ember_dtype_name(t->dtype));
  return EMBER_OK;
}

static ember_status rank_ok(const char *fn, const char *what, int r) {
  if (r < 0 || r >= S.size)
    return ember_error("%s: %s %d is not a rank of this job (it has %d)", fn, what, r + 1, S.size);
  return EMBER_OK;
}

/* MPI counts in int: a move per rank beyond that is refused rather than cut. */
static ember_status fits(const char *fn, size_t nbytes) {
  if (nbytes > (size_t)INT_MAX)
    return ember_error("%s: %zu bytes per rank is more than MPI moves in one call (%d)", fn, nbytes, INT_MAX);
  return EMBER_OK;
}

static ember_status same_dtype(const char *fn, const ember_tensor *out, const ember_tensor *in) {
  if (out->dtype != in->dtype)
    return ember_error("%s: out is %s but the input is %s", fn, ember_dtype_name(out->dtype),
                       ember_dtype_name(in->dtype));
  return EMBER_OK;
}

static int overlap(const ember_tensor *a, const ember_tensor *b) {
  return a->storage == b->storage;
}

/* }====== */

ember_status ember_dist_barrier(ember_dist_work **async) {
  if (async) *async = NULL;
  if (started("barrier") != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_BARRIER, NULL, -1, -1);
  return w ? launch(w, async) : EMBER_ERROR;
}

ember_status ember_dist_allreduce(ember_tensor *t, ember_reduce_op op, ember_dist_work **async) {
  if (async) *async = NULL;
  if (started("allreduce") != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_ALLREDUCE, t, op, -1);
  if (w == NULL) return EMBER_ERROR;
  if (reducible("allreduce", t, op) != EMBER_OK) return refuse(w);
  ember_dtype as = reduce_dtype(t->dtype, &w->type);
  if (stage(t, as, 1, &w->stage_out) != EMBER_OK) return refuse(w);
  ember_tensor_retain(t);
  w->user_out = t;
  w->recvbuf = host_of(t, w->stage_out);
  w->count = (size_t)ember_tensor_numel(t);
  w->op = reduce_op(op, t->dtype);
  w->divide = op == EMBER_REDUCE_AVG;
  return launch(w, async);
}

ember_status ember_dist_broadcast(ember_tensor *t, int root, ember_dist_work **async) {
  if (async) *async = NULL;
  if (started("broadcast") != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_BROADCAST, t, -1, root);
  if (w == NULL) return EMBER_ERROR;
  if (rank_ok("broadcast", "root", root) != EMBER_OK || fits("broadcast", ember_tensor_nbytes(t)) != EMBER_OK)
    return refuse(w);
  if (stage(t, t->dtype, S.rank == root, &w->stage_out) != EMBER_OK) return refuse(w);
  ember_tensor_retain(t);
  w->user_out = t;
  w->recvbuf = host_of(t, w->stage_out);
  w->count = ember_tensor_nbytes(t);
  w->peer = root;
  return launch(w, async);
}

/* The input of a gather or a scatter: staged when MPI cannot read it as it is, or when
** it shares memory with the output (MPI wants them apart). */
static ember_status take_input(ember_dist_work *w, ember_tensor *in, ember_tensor *out, ember_dtype as) {
  if (overlap(in, out) && on_host(in, as)) {
    ember_tensor *s = ember_clone(in);
    if (s == NULL) return EMBER_ERROR;
    w->stage_in = s;
  } else if (stage(in, as, 1, &w->stage_in) != EMBER_OK) {
    return EMBER_ERROR;
  }
  ember_tensor_retain(in);
  w->user_in = in;
  w->sendbuf = host_of(in, w->stage_in);
  return EMBER_OK;
}

static ember_status take_output(ember_dist_work *w, ember_tensor *out, ember_dtype as) {
  if (stage(out, as, 0, &w->stage_out) != EMBER_OK) return EMBER_ERROR;
  ember_tensor_retain(out);
  w->user_out = out;
  w->recvbuf = host_of(out, w->stage_out);
  return EMBER_OK;
}

ember_status ember_dist_allgather(ember_tensor *out, ember_tensor *in, ember_dist_work **async) {
  const char *fn = "allgather";
  if (async) *async = NULL;
  if (started(fn) != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_ALLGATHER, in, -1, -1);
  if (w == NULL) return EMBER_ERROR;
  int64_t n = ember_tensor_numel(in);
  if (same_dtype(fn, out, in) != EMBER_OK || fits(fn, ember_tensor_nbytes(in)) != EMBER_OK)
    return refuse(w);
  if (ember_tensor_numel(out) != n * S.size) {
    ember_error("%s: out has %lld elements; %d ranks of %lld need %lld", fn,
                (long long)ember_tensor_numel(out), S.size, (long long)n, (long long)(n * S.size));
    return refuse(w);
  }
  if (take_input(w, in, out, in->dtype) != EMBER_OK || take_output(w, out, out->dtype) != EMBER_OK)
    return refuse(w);
  w->count = ember_tensor_nbytes(in);
  return launch(w, async);
}

ember_status ember_dist_reduce_scatter(ember_tensor *out, ember_tensor *in, ember_reduce_op op,
                                       ember_dist_work **async) {
  const char *fn = "reduce_scatter";
  if (async) *async = NULL;
  if (started(fn) != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_REDUCE_SCATTER, in, op, -1);
  if (w == NULL) return EMBER_ERROR;
  int64_t n = ember_tensor_numel(out);
  if (reducible(fn, in, op) != EMBER_OK || same_dtype(fn, out, in) != EMBER_OK ||
      fits(fn, ember_tensor_nbytes(out)) != EMBER_OK)
    return refuse(w);
  if (ember_tensor_numel(in) != n * S.size) {
    ember_error("%s: the input has %lld elements; %d ranks of out's %lld need %lld", fn,
                (long long)ember_tensor_numel(in), S.size, (long long)n, (long long)(n * S.size));
    return refuse(w);
  }
  ember_dtype as = reduce_dtype(in->dtype, &w->type);
  if (take_input(w, in, out, as) != EMBER_OK || take_output(w, out, as) != EMBER_OK) return refuse(w);
  w->count = (size_t)n;
  w->op = reduce_op(op, in->dtype);
  w->divide = op == EMBER_REDUCE_AVG;
  return launch(w, async);
}

ember_status ember_dist_all_to_all(ember_tensor *out, ember_tensor *in, ember_dist_work **async) {
  const char *fn = "all_to_all";
  if (async) *async = NULL;
  if (started(fn) != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_ALL_TO_ALL, in, -1, -1);
  if (w == NULL) return EMBER_ERROR;
  int64_t n = ember_tensor_numel(in);
  if (same_dtype(fn, out, in) != EMBER_OK) return refuse(w);
  if (ember_tensor_numel(out) != n || n % S.size != 0) {
    ember_error("%s: in and out need the same number of elements, a multiple of the %d ranks "
                "(in has %lld, out %lld)", fn, S.size, (long long)n, (long long)ember_tensor_numel(out));
    return refuse(w);
  }
  if (fits(fn, ember_tensor_nbytes(in) / (size_t)S.size) != EMBER_OK) return refuse(w);
  if (take_input(w, in, out, in->dtype) != EMBER_OK || take_output(w, out, out->dtype) != EMBER_OK)
    return refuse(w);
  w->count = ember_tensor_nbytes(in) / (size_t)S.size;
  return launch(w, async);
}

static ember_status tag_ok(const char *fn, int tag) {
  int max = S.is_mpi ? S.mpi->tag_max : INT_MAX;
  if (tag < 0 || tag > max) return ember_error("%s: tag %d is out of 0..%d", fn, tag, max);
  return EMBER_OK;
}

ember_status ember_dist_send(ember_tensor *t, int dst, int tag, ember_dist_work **async) {
  if (async) *async = NULL;
  if (started("send") != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_SEND, t, -1, dst);
  if (w == NULL) return EMBER_ERROR;
  if (rank_ok("send", "destination", dst) != EMBER_OK || tag_ok("send", tag) != EMBER_OK ||
      fits("send", ember_tensor_nbytes(t)) != EMBER_OK || stage(t, t->dtype, 1, &w->stage_in) != EMBER_OK)
    return refuse(w);
  ember_tensor_retain(t);
  w->user_in = t;
  w->sendbuf = host_of(t, w->stage_in);
  w->count = ember_tensor_nbytes(t);
  w->peer = dst;
  w->tag = tag;
  return launch(w, async);
}

ember_status ember_dist_recv(ember_tensor *t, int src, int tag, ember_dist_work **async) {
  if (async) *async = NULL;
  if (started("recv") != EMBER_OK) return EMBER_ERROR;
  ember_dist_work *w = work_new(DIST_RECV, t, -1, src);
  if (w == NULL) return EMBER_ERROR;
  if ((src != -1 && rank_ok("recv", "source", src) != EMBER_OK) || tag_ok("recv", tag) != EMBER_OK ||
      fits("recv", ember_tensor_nbytes(t)) != EMBER_OK || take_output(w, t, t->dtype) != EMBER_OK)
    return refuse(w);
  w->count = ember_tensor_nbytes(t);
  w->peer = src;
  w->tag = tag;
  w->source = -1;
  return launch(w, async);
}

int ember_dist_test(ember_dist_work *w) {
  if (!dist_is_done(w)) return 0;
  return finish(w) == EMBER_OK ? 1 : -1;
}

ember_status ember_dist_wait(ember_dist_work *w) {
  dist_wait_done(w);
  return finish(w);
}

int ember_dist_work_source(const ember_dist_work *w) { return w->source; }

void ember_dist_work_free(ember_dist_work *w) {
  if (w == NULL) return;
  dist_wait_done(w);
  work_free(w);
}
