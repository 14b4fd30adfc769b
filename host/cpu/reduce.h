/*
** reduce.h — CPU kernels of the reduce family (sum, mean, prod, max, min, argmax,
** argmin, var, std, norm, logsumexp, all, any, cumsum) and the reduction driver they
** share (host/cpu/reduce.c); the per-op folds live in reduce_fold.c, cumsum in
** reduce_scan.c.
**
** A reduction is described by an ember_reducer: how to fold a run of elements into an
** accumulator, how to merge two accumulators of consecutive ranges, and how to write
** the finished result. The driver owns layout and threading, so a reducer never sees
** strides beyond one run's, nor threads.
*/
#ifndef EMBER_CPU_REDUCE_H
#define EMBER_CPU_REDUCE_H

#include "ops.h"

/* {====== dims of a reduction (shared by the table's infer rules and the kernels) */

/* The dims attribute k of c as a bit mask over an input of ndim dims. Absent or an
** empty list means every dim (PyTorch's dim=None and dim=[]). Fails with a message
** naming the op for a dim out of range or one given twice. A 0-dim input accepts
** dim 1 and -1 (as PyTorch's 0 and -1) and reduces nothing. */
ember_status ember_reduce_mask(const ember_call *c, int k, int ndim, uint32_t *mask);

/* The shape that reducing (ndim, shape) over mask leaves: reduced dims are dropped,
** or kept as size 1 when keepdim. Returns the number of dims. */
int ember_reduce_shape(int ndim, const int64_t *shape, uint32_t mask, int keepdim,
                       int64_t *out);

/* }====== */

/* {====== the plan: where each output's run lies (also host/vk/vk_reduce.c's) */

/* The reduced dims moved last: kept dims in order, then reduced dims, in order when
** the result names positions, else by decreasing stride (stable, innermost last), so a
** transposed input still runs contiguously. Dims laid out one after the other are
** folded, size-1 dims dropped: output element o (row-major over the kept dims) owns
** the run of its len elements, a few strided rows. Strides count units of `unit`:
** 1 for elements, the element size for bytes. */
typedef struct ember_rplan {
  int perm[EMBER_MAX_DIMS];                                 /* x's dims in that order */
  int nk, nr;                                               /* kept, reduced dims folded */
  int64_t kshape[EMBER_MAX_DIMS], kstride[EMBER_MAX_DIMS];
  int64_t rshape[EMBER_MAX_DIMS], rstride[EMBER_MAX_DIMS];  /* innermost last */
  int64_t nout, len;
  int64_t unit;
} ember_rplan;

void ember_reduce_plan(ember_rplan *pl, const ember_tensor *x, uint32_t mask, int positional,
                       int64_t unit);
/* The plan once x's permuted view (dims in pl->perm order) is copied contiguous: the
** runs one after the other. */
void ember_reduce_plan_packed(ember_rplan *pl);

/* }====== */

/* {====== the driver */

/* Accumulator of one output while its elements are folded; each reducer gives the
** fields its own meaning. */
typedef struct ember_racc {
  double v;       /* sum, product, extreme, sum of deviations */
  double w;       /* a second sum: of squared deviations, of exp(x - max) */
  int64_t i;      /* integer sum / product / extreme; all/any flag */
  int64_t at;     /* position in the run of the extreme (max/min/argmax/argmin) */
  int64_t n;      /* elements folded so far */
} ember_racc;

typedef struct ember_rctx {
  double p[2];        /* the op's parameters: correction (var, std), p (norm) */
  int64_t len;        /* elements that reduce into each output */
  int index_base;     /* added to the positions written as indices */
} ember_rctx;

/* Fold n elements at p (stride s bytes) into a. pos is the position of p's first
** element in the output's run (row-major over the reduced dims), so index results
** are positions. first is the output's finished pass-1 accumulator in pass 2, else
** NULL. n may be 0. */
typedef void (*ember_rfold_fn)(ember_racc *a, const ember_racc *first, const char *p,
                               int64_t n, int64_t s, int64_t pos, const ember_rctx *cx);
/* a = a followed by b (b's positions come after a's). */
typedef void (*ember_rmerge_fn)(ember_racc *a, const ember_racc *b);
/* Write output element o from the last pass's accumulator a (first: pass 1's) into
** out[0] (and out[1], the indices, when it is not NULL), in the kernel's dtypes. */
typedef void (*ember_rfinish_fn)(const ember_racc *a, const ember_racc *first,
                                 const ember_rctx *cx, char *const *out, int64_t o);

typedef struct ember_reducer {
  int npass;                 /* 2 when pass 2 needs pass 1's result (var: the mean) */
  ember_racc init[2];        /* each pass's empty accumulator */
  ember_rfold_fn fold[2];
  ember_rmerge_fn merge[2];
  ember_rfinish_fn finish;
  int positional;            /* the result names positions: keep the reduced dims' order */
} ember_reducer;

/* Reduce x over the dims in mask: output element o (row-major over the kept dims)
** gets the reduction of its run. out[k] are the contiguous output buffers (NULL for
** absent ones). Runs are read in place when their dims fold into strided rows and
** copied to a contiguous buffer only when rows are too short; work is split over
** OpenMP threads by outputs, or by chunks of the run when there are few outputs. */
ember_status ember_reduce_run(const ember_reducer *r, const ember_tensor *x, uint32_t mask,
                              ember_rctx *cx, char *const *out);

/* }====== */

/* {====== kernels named by the table (host/ops/ops_reduce.c) */

ember_status ember_cpu_sum(ember_call *c);
ember_status ember_cpu_mean(ember_call *c);
ember_status ember_cpu_prod(ember_call *c);
ember_status ember_cpu_max(ember_call *c);
ember_status ember_cpu_min(ember_call *c);
ember_status ember_cpu_argmax(ember_call *c);
ember_status ember_cpu_argmin(ember_call *c);
ember_status ember_cpu_var(ember_call *c);
ember_status ember_cpu_std(ember_call *c);
ember_status ember_cpu_norm(ember_call *c);
ember_status ember_cpu_logsumexp(ember_call *c);
ember_status ember_cpu_all(ember_call *c);
ember_status ember_cpu_any(ember_call *c);
ember_status ember_cpu_cumsum(ember_call *c);

/* }====== */

#endif
