/*
** parallel.c — the one way kernels split a loop over OpenMP threads.
**
** Entering an OpenMP parallel region has a fixed cost of about a microsecond, and
** libgomp pays it even when the region's if clause is false: it still builds a team
** of one. Measured on a 2-core machine, a 10-element loop under
** `#pragma omp parallel for if (n > 65536)` took 1.18 us a call, the same loop
** behind a plain `if` 0.003 us. A training step runs hundreds of ops on tensors of
** 10 to 10 000 elements, where that cost was most of the time, so small work must
** not reach a parallel construct at all: it calls its loop directly. Nor may any
** work when one thread would run it: libgomp allocates a team for a region of one
** thread on every entry, and the runtime's execute allocates nothing.
*/
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core.h"

int ember_parallel_threads(void) {
#ifdef _OPENMP
  /* inside a team a nested region would get one thread anyway, at full cost */
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

int ember_parallel_worth(int64_t work) {
  return work > EMBER_PARALLEL_GRAIN && ember_parallel_threads() > 1;
}

void ember_parallel_for(int64_t n, int64_t work, ember_range_fn body, void *ctx) {
  if (n <= 0) return;
  if (n == 1 || !ember_parallel_worth(work)) {
    body(ctx, 0, n);
    return;
  }
#ifdef _OPENMP
  /* one contiguous piece per thread, as schedule(static) would deal the indices */
  int64_t pieces = omp_get_max_threads();
  if (pieces > n) pieces = n;
  int64_t q = n / pieces, r = n % pieces;
  #pragma omp parallel for schedule(static, 1) num_threads((int)pieces)
  for (int64_t k = 0; k < pieces; k++) {
    int64_t lo = k * q + (k < r ? k : r);
    body(ctx, lo, lo + q + (k < r));
  }
#endif
}
