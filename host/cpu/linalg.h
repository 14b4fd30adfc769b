/*
** linalg.h — CPU kernels of the linalg family (host/cpu/linalg.c) and the GEMM
** entry the nn kernels share (linear).
**
** A matrix operand is an address and two element strides; BLAS reads it as stored or
** transposed, whichever has a unit stride, so transposed views cost no copy. The
** kernels copy an operand only when neither of its strides is 1 (or 0-stride rows).
*/
#ifndef EMBER_CPU_LINALG_H
#define EMBER_CPU_LINALG_H

#include "ops.h"

typedef struct ember_mat {
  char *data;         /* address of element (0, 0) */
  int64_t rs, cs;     /* row and column strides, in elements */
} ember_mat;

/* C[m x n] = alpha * A[m x k] B[k x n] + beta * C, for f32 and f64 (OpenBLAS) and i64
** (a plain loop). With beta == 0, C is only written: it may hold garbage or NaN. Any
** strides work; strides BLAS cannot take fall back to a plain loop, so callers that
** care about speed pass operands for which ember_mat_blas_ok holds. */
void ember_gemm(ember_dtype dt, int64_t m, int64_t n, int64_t k, double alpha, ember_mat a,
                ember_mat b, double beta, ember_mat c);

/* The product of ember_gemm when B has at most EMBER_GEMM_NARROW columns, f32, A's rows
** and B's columns are contiguous and the CPU has AVX2 and FMA (gemm_narrow.c): 1 when
** it computed C, 0 when it declined (nothing written). */
#define EMBER_GEMM_NARROW 12
int ember_gemm_narrow(ember_dtype dt, int64_t m, int64_t n, int64_t k, double alpha,
                      ember_mat a, ember_mat b, double beta, ember_mat c);

/* Before a BLAS call of `work` multiply-adds: sets how many threads OpenBLAS uses for
** it (one for small products, all for large ones). */
void ember_blas_threads_for(int64_t work);

/* Whether BLAS can read a rows x cols matrix with these strides without a copy. */
int ember_mat_blas_ok(int64_t rows, int64_t cols, int64_t rs, int64_t cs);

ember_status ember_cpu_matmul(ember_call *c);   /* matmul, mm, bmm */
ember_status ember_cpu_addmm(ember_call *c);
ember_status ember_cpu_outer(ember_call *c);
ember_status ember_cpu_dot(ember_call *c);

#endif
