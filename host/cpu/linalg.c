/*
** linalg.c — CPU kernels of the linalg family: matmul (also mm and bmm), addmm, outer,
** dot, and the strided GEMM that linear shares.
**
** Invariants:
** - the dispatcher has cast the inputs to the compute dtype (f32, f64 or i64) and
**   allocated out[0] contiguous in that dtype;
** - f32/f64 products go to OpenBLAS, which threads itself. An operand goes to BLAS as
**   stored (NoTrans, ld = its row stride) or transposed (Trans, ld = its column
**   stride), so transposed views cost nothing; it is copied only when it has neither
**   unit stride. i64 products use a plain loop with wrapping arithmetic, as PyTorch;
** - with beta == 0 nothing reads C, so outputs are never zero-filled first;
** - a batch of small products is spread over OpenMP threads; large ones run one after
**   another, each using all of OpenBLAS's threads.
*/
#include <limits.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "linalg.h"

/* one product at most this many multiply-adds is run single-threaded by OpenBLAS
   (its own threshold), so a batch of them can use our threads instead */
#define SMALL_GEMM (64 * 64 * 64)
/* multiply-adds worth splitting over threads: a plain i64 product, a batch of small
   BLAS products (each already vectorised, so they pay off sooner) */
#define PARALLEL_WORK (1 << 20)
#define BATCH_PARALLEL_WORK (1 << 17)

static int64_t max1(int64_t x) { return x > 1 ? x : 1; }

/* {====== GEMM */

/* How BLAS reads a rows x cols operand: as stored (row-major, leading dim ld) when its
** columns are adjacent, else transposed when its rows are. A size-1 dim's stride is
** never read, so it does not count. 0 when neither fits. */
static int blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                       CBLAS_TRANSPOSE *tr, int *ld) {
  int64_t need = max1(cols), l = rows == 1 ? need : rs;
  if ((cols == 1 || cs == 1) && l >= need && l <= INT_MAX) {
    *tr = CblasNoTrans;
    *ld = (int)l;
    return 1;
  }
  need = max1(rows);
  l = cols == 1 ? need : cs;
  if ((rows == 1 || rs == 1) && l >= need && l <= INT_MAX) {
    *tr = CblasTrans;
    *ld = (int)l;
    return 1;
  }
  return 0;
}

int ember_mat_blas_ok(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  CBLAS_TRANSPOSE tr;
  int ld;
  return blas_layout(rows, cols, rs, cs, &tr, &ld);
}

static ember_mat mat_t(ember_mat x) {
  ember_mat t = { x.data, x.cs, x.rs };
  return t;
}

/* Any strides, f32/f64: the rare operand BLAS cannot take (strides past INT_MAX). */
static void gemm_loop(ember_dtype dt, int64_t m, int64_t n, int64_t k, double alpha,
                      ember_mat a, ember_mat b, double beta, ember_mat c) {
  int64_t es = (int64_t)ember_dtype_size(dt);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++)
        s += ember_load_f64(dt, a.data + (i * a.rs + p * a.cs) * es) *
             ember_load_f64(dt, b.data + (p * b.rs + j * b.cs) * es);
      char *pc = c.data + (i * c.rs + j * c.cs) * es;
      ember_store_f64(dt, pc, alpha * s + (beta == 0 ? 0 : beta * ember_load_f64(dt, pc)));
    }
}

typedef struct i64_product {
  int64_t n, k, alpha, beta;
  ember_mat a, b, c;
} i64_product;

/* Rows [lo, hi) of an i64 product. */
static void gemm_i64_rows(void *ctx, int64_t lo, int64_t hi) {
  const i64_product *g = ctx;
  int64_t n = g->n, k = g->k, alpha = g->alpha, beta = g->beta;
  ember_mat a = g->a, b = g->b, c = g->c;
  const int64_t *A = (const int64_t *)a.data, *B = (const int64_t *)b.data;
  int64_t *C = (int64_t *)c.data;
  for (int64_t i = lo; i < hi; i++) {
    int64_t *row = C + i * c.rs;
    for (int64_t j = 0; j < n; j++)
      row[j * c.cs] = beta == 0 ? 0 : (int64_t)((uint64_t)beta * (uint64_t)row[j * c.cs]);
    for (int64_t p = 0; p < k; p++) {
      uint64_t av = (uint64_t)alpha * (uint64_t)A[i * a.rs + p * a.cs];
      if (av == 0) continue;
      const int64_t *brow = B + p * b.rs;
      for (int64_t j = 0; j < n; j++)
        row[j * c.cs] = (int64_t)((uint64_t)row[j * c.cs] + av * (uint64_t)brow[j * b.cs]);
    }
  }
}

static void gemm_i64(int64_t m, int64_t n, int64_t k, int64_t alpha, ember_mat a,
                     ember_mat b, int64_t beta, ember_mat c) {
  i64_product g = { n, k, alpha, beta, a, b, c };
  /* PARALLEL_WORK multiply-adds weigh as much as EMBER_PARALLEL_GRAIN elements */
  ember_parallel_for(m, m * n * k / (PARALLEL_WORK / EMBER_PARALLEL_GRAIN), gemm_i64_rows, &g);
}

/* C = beta * C for a product with k == 0 (BLAS would do it, but says nothing of k = 0). */
static void scale_mat(ember_dtype dt, int64_t m, int64_t n, double beta, ember_mat c) {
  int64_t es = (int64_t)ember_dtype_size(dt);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      char *p = c.data + (i * c.rs + j * c.cs) * es;
      ember_store_f64(dt, p, beta == 0 ? 0 : beta * ember_load_f64(dt, p));
    }
}

/* y = alpha * op(stored) x (+ beta y): a product with one row or one column. y is
** cleared first when beta == 0, since BLAS implementations differ on whether scaling
** by 0 keeps a NaN that was in y. */
static void gemv(ember_dtype dt, CBLAS_TRANSPOSE tr, int rows, int cols, double alpha,
                 const char *a, int ld, const char *x, int incx, double beta, char *y,
                 int leny, int incy) {
  if (beta == 0)
    for (int i = 0; i < leny; i++) ember_store_f64(dt, y + (int64_t)i * incy * (int64_t)ember_dtype_size(dt), 0);
  if (dt == EMBER_F32)
    cblas_sgemv(CblasRowMajor, tr, rows, cols, (float)alpha, (const float *)a, ld,
                (const float *)x, incx, (float)beta, (float *)y, incy);
  else
    cblas_dgemv(CblasRowMajor, tr, rows, cols, alpha, (const double *)a, ld,
                (const double *)x, incx, beta, (double *)y, incy);
}

static int fits_int(int64_t x) { return x > 0 && x <= INT_MAX; }

/* Debian's OpenBLAS (its pthread build) runs every GEMM above 64K multiply-adds on
** all its threads. For the small products of a training step that costs more than it
** saves: waking its threads takes microseconds, and while they wait for work they
** spin and yield the cores that ember's own OpenMP loops need (the digits CNN step
** took 1.67 ms with both pools busy, 1.31 ms with small GEMMs on one BLAS thread).
** So products below BLAS_THREAD_WORK multiply-adds run on one BLAS thread and larger
** ones on all. Only the thread outside any parallel region changes the setting; the
** calls are cheap (OpenBLAS keeps its pool, it only changes how much it uses). */
#define BLAS_THREAD_WORK ((int64_t)1 << 22)

void ember_blas_threads_for(int64_t work) {
  static int all = 0, now = 0;
#ifdef _OPENMP
  if (omp_in_parallel()) return;
#endif
  if (all == 0) all = now = openblas_get_num_threads();
  int want = work < BLAS_THREAD_WORK ? 1 : all;
  if (want != now) {
    openblas_set_num_threads(want);
    now = want;
  }
}

void ember_gemm(ember_dtype dt, int64_t m, int64_t n, int64_t k, double alpha, ember_mat a,
                ember_mat b, double beta, ember_mat c) {
  if (m == 0 || n == 0) return;
  if (dt == EMBER_I64) {
    gemm_i64(m, n, k, (int64_t)alpha, a, b, (int64_t)beta, c);
    return;
  }
  if (k == 0) {
    scale_mat(dt, m, n, beta, c);
    return;
  }
  /* row-major BLAS writes C with unit column stride; a C with unit row stride
     instead is written as C^T = B^T A^T */
  if (n > 1 && c.cs != 1 && (m == 1 || c.rs == 1)) {
    ember_gemm(dt, n, m, k, alpha, mat_t(b), mat_t(a), beta, mat_t(c));
    return;
  }
  CBLAS_TRANSPOSE ta, tb;
  int lda, ldb;
  int64_t ldc = m == 1 ? max1(n) : c.rs;
  if (!(n == 1 || c.cs == 1) || ldc < max1(n) || !fits_int(ldc) || !fits_int(m) ||
      !fits_int(n) || !fits_int(k) || !blas_layout(m, k, a.rs, a.cs, &ta, &lda) ||
      !blas_layout(k, n, b.rs, b.cs, &tb, &ldb)) {
    gemm_loop(dt, m, n, k, alpha, a, b, beta, c);
    return;
  }
  if (n == 1) {          /* y = A x: x is B's column, y is C's column */
    int64_t incx = k == 1 ? 1 : b.rs, incy = m == 1 ? 1 : c.rs;
    if (fits_int(incx) && fits_int(incy)) {
      if (ta == CblasNoTrans)
        gemv(dt, CblasNoTrans, (int)m, (int)k, alpha, a.data, lda, b.data, (int)incx, beta,
             c.data, (int)m, (int)incy);
      else
        gemv(dt, CblasTrans, (int)k, (int)m, alpha, a.data, lda, b.data, (int)incx, beta,
             c.data, (int)m, (int)incy);
      return;
    }
  } else if (m == 1) {   /* y^T = x^T B: x is A's row, y is C's row */
    int64_t incx = k == 1 ? 1 : a.cs;
    if (fits_int(incx)) {
      if (tb == CblasNoTrans)
        gemv(dt, CblasTrans, (int)k, (int)n, alpha, b.data, ldb, a.data, (int)incx, beta,
             c.data, (int)n, 1);
      else
        gemv(dt, CblasNoTrans, (int)n, (int)k, alpha, b.data, ldb, a.data, (int)incx, beta,
             c.data, (int)n, 1);
      return;
    }
  }
  if (m * n * k < BLAS_THREAD_WORK && ember_gemm_narrow(dt, m, n, k, alpha, a, b, beta, c)) return;
  ember_blas_threads_for(m * n * k);
  if (dt == EMBER_F32)
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, (float)alpha,
                (const float *)a.data, lda, (const float *)b.data, ldb, (float)beta,
                (float *)c.data, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, (const double *)a.data,
                lda, (const double *)b.data, ldb, beta, (double *)c.data, (int)ldc);
}

/* }====== */

/* {====== batched products */

/* One side of a batched product: the matrix at batch index 0 and a stride per batch
** dim (0 where the side is broadcast). */
typedef struct side {
  ember_mat m;
  int64_t bstride[EMBER_MAX_DIMS];
} side;

/* Do the batch dims and the row dim of s form one run of rows (stride s->m.rs)? */
static int rows_collapse(const side *s, int nb, const int64_t *bshape, int64_t rows) {
  int64_t expect = s->m.rs * rows;
  for (int d = nb - 1; d >= 0; d--) {
    if (bshape[d] == 1) continue;
    if (s->bstride[d] != expect) return 0;
    expect *= bshape[d];
  }
  return 1;
}

typedef struct batch {
  ember_dtype dt;
  int nb;
  const int64_t *bshape;
  int64_t m, n, k;
  double alpha, beta;
  const side *a, *b, *c;
} batch;

/* Products [lo, hi) of a batch, one after another. */
static void batch_products(const batch *g, int64_t lo, int64_t hi) {
  int64_t es = (int64_t)ember_dtype_size(g->dt);
  const side *a = g->a, *b = g->b, *c = g->c;
  for (int64_t i = lo; i < hi; i++) {
    int64_t oa = 0, ob = 0, oc = 0, r = i;
    for (int d = g->nb - 1; d >= 0; d--) {
      int64_t ix = r % g->bshape[d];
      r /= g->bshape[d];
      oa += ix * a->bstride[d];
      ob += ix * b->bstride[d];
      oc += ix * c->bstride[d];
    }
    ember_mat ai = { a->m.data + oa * es, a->m.rs, a->m.cs };
    ember_mat bi = { b->m.data + ob * es, b->m.rs, b->m.cs };
    ember_mat ci = { c->m.data + oc * es, c->m.rs, c->m.cs };
    ember_gemm(g->dt, g->m, g->n, g->k, g->alpha, ai, bi, g->beta, ci);
  }
}

static void gemm_batched(ember_dtype dt, int nb, const int64_t *bshape, int64_t m, int64_t n,
                         int64_t k, double alpha, const side *a, const side *b, double beta,
                         const side *c) {
  int64_t nbatch = ember_shape_numel(nb, bshape);
  if (nbatch == 0) return;
  int b_shared = 1;
  for (int d = 0; d < nb; d++)
    if (bshape[d] > 1 && b->bstride[d] != 0) b_shared = 0;
  /* A batch of A against one B is one tall product when A's rows run on across the
     batch (a contiguous 3-D input times a weight): one BLAS call instead of many */
  if (nbatch > 1 && b_shared && m * nbatch <= INT_MAX && rows_collapse(a, nb, bshape, m) &&
      rows_collapse(c, nb, bshape, m) && ember_mat_blas_ok(m * nbatch, k, a->m.rs, a->m.cs)) {
    ember_gemm(dt, m * nbatch, n, k, alpha, a->m, b->m, beta, c->m);
    return;
  }
  batch g = { dt, nb, bshape, m, n, k, alpha, beta, a, b, c };
  if (nbatch > 1 && m * n * k <= SMALL_GEMM && nbatch * m * n * k >= BATCH_PARALLEL_WORK &&
      ember_parallel_threads() > 1) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nbatch; i++) batch_products(&g, i, i + 1);
  } else {
    batch_products(&g, 0, nbatch);
  }
}

/* The matrix part of t: a 1-D t is a row (left operand) or a column (right operand),
** as matmul prepends or appends a dim of size 1. */
static void matrix_of(const ember_tensor *t, int left, int64_t *rows, int64_t *cols,
                      ember_mat *m) {
  int nd = t->ndim;
  m->data = ember_tensor_data(t);
  if (nd == 1) {
    *rows = left ? 1 : t->shape[0];
    *cols = left ? t->shape[0] : 1;
    m->rs = left ? t->shape[0] * t->stride[0] : t->stride[0];
    m->cs = left ? t->stride[0] : 1;
    return;
  }
  *rows = t->shape[nd - 2];
  *cols = t->shape[nd - 1];
  m->rs = t->stride[nd - 2];
  m->cs = t->stride[nd - 1];
}

/* t itself (retained) when BLAS can read its matrix part, else a contiguous copy. */
static ember_tensor *blas_ready(ember_tensor *t, int left) {
  int64_t rows, cols;
  ember_mat m;
  matrix_of(t, left, &rows, &cols, &m);
  if (t->dtype == EMBER_I64 || ember_mat_blas_ok(rows, cols, m.rs, m.cs)) {
    ember_tensor_retain(t);
    return t;
  }
  return ember_contiguous(t);   /* contiguous (a stride-0 vector is not) suits BLAS */
}

static void side_of(const ember_tensor *t, int left, int nb, side *s) {
  int64_t rows, cols;
  matrix_of(t, left, &rows, &cols, &s->m);
  int tb = t->ndim > 2 ? t->ndim - 2 : 0;      /* t's own batch dims, right-aligned */
  for (int d = 0; d < nb; d++) {
    int it = d - (nb - tb);
    s->bstride[d] = (it < 0 || t->shape[it] == 1) ? 0 : t->stride[it];
  }
}

/* out = alpha * a @ b + beta * out with matmul's shape rules; out is contiguous and
** already holds beta's addend when beta != 0. */
static ember_status matmul_into(ember_tensor *a, ember_tensor *b, ember_tensor *out,
                                double alpha, double beta) {
  ember_dtype dt = out->dtype;
  ember_tensor *ra = blas_ready(a, 1), *rb = ra ? blas_ready(b, 0) : NULL;
  if (rb == NULL) {
    ember_tensor_release(ra);
    return EMBER_ERROR;
  }
  int64_t m, k, k2, n;
  side sa, sb, sc;
  int nb = out->ndim - (a->ndim > 1) - (b->ndim > 1);
  matrix_of(ra, 1, &m, &k, &sa.m);
  matrix_of(rb, 0, &k2, &n, &sb.m);
  side_of(ra, 1, nb, &sa);
  side_of(rb, 0, nb, &sb);
  sc.m.data = ember_tensor_data(out);
  sc.m.rs = n;
  sc.m.cs = 1;
  for (int d = 0; d < nb; d++) sc.bstride[d] = out->stride[d];
  gemm_batched(dt, nb, out->shape, m, n, k, alpha, &sa, &sb, beta, &sc);
  ember_tensor_release(ra);
  ember_tensor_release(rb);
  return EMBER_OK;
}

/* }====== */

/* {====== dot and outer */

static void dot_into(ember_dtype dt, int64_t n, const char *x, int64_t incx, const char *y,
                     int64_t incy, char *out) {
  if (dt == EMBER_I64) {
    const int64_t *X = (const int64_t *)x, *Y = (const int64_t *)y;
    uint64_t s = 0;
    for (int64_t i = 0; i < n; i++) s += (uint64_t)X[i * incx] * (uint64_t)Y[i * incy];
    *(int64_t *)out = (int64_t)s;
    return;
  }
  int blas = n > 0 && n <= INT_MAX && incx > 0 && incx <= INT_MAX && incy > 0 && incy <= INT_MAX;
  if (dt == EMBER_F32) {
    /* dsdot sums f32 products in double: no worse than sdot and steadier for long vectors */
    double s = 0;
    if (blas) s = cblas_dsdot((int)n, (const float *)x, (int)incx, (const float *)y, (int)incy);
    else
      for (int64_t i = 0; i < n; i++)
        s += (double)((const float *)x)[i * incx] * ((const float *)y)[i * incy];
    *(float *)out = (float)s;
    return;
  }
  double s = 0;
  if (blas) s = cblas_ddot((int)n, (const double *)x, (int)incx, (const double *)y, (int)incy);
  else
    for (int64_t i = 0; i < n; i++) s += ((const double *)x)[i * incx] * ((const double *)y)[i * incy];
  *(double *)out = s;
}

ember_status ember_cpu_dot(ember_call *c) {
  const ember_tensor *a = c->in[0], *b = c->in[1];
  dot_into(c->out[0]->dtype, a->shape[0], ember_tensor_data(a), a->stride[0],
           ember_tensor_data(b), b->stride[0], ember_tensor_data(c->out[0]));
  return EMBER_OK;
}

/* Rows [lo, hi) of an outer product. */
static void outer_rows(void *ctx, int64_t lo, int64_t hi) {
  const ember_call *c = ctx;
  const ember_tensor *a = c->in[0], *b = c->in[1];
  int64_t n = b->shape[0], sa = a->stride[0], sb = b->stride[0];
  ember_dtype dt = c->out[0]->dtype;
  void *out = ember_tensor_data(c->out[0]);
  for (int64_t i = lo; i < hi; i++) {
    if (dt == EMBER_F32) {
      float av = ((const float *)ember_tensor_data(a))[i * sa], *o = (float *)out + i * n;
      const float *B = ember_tensor_data(b);
      for (int64_t j = 0; j < n; j++) o[j] = av * B[j * sb];
    } else if (dt == EMBER_F64) {
      double av = ((const double *)ember_tensor_data(a))[i * sa], *o = (double *)out + i * n;
      const double *B = ember_tensor_data(b);
      for (int64_t j = 0; j < n; j++) o[j] = av * B[j * sb];
    } else {
      uint64_t av = (uint64_t)((const int64_t *)ember_tensor_data(a))[i * sa];
      int64_t *o = (int64_t *)out + i * n;
      const int64_t *B = ember_tensor_data(b);
      for (int64_t j = 0; j < n; j++) o[j] = (int64_t)(av * (uint64_t)B[j * sb]);
    }
  }
}

ember_status ember_cpu_outer(ember_call *c) {
  int64_t m = c->in[0]->shape[0], n = c->in[1]->shape[0];
  ember_parallel_for(m, m * n, outer_rows, c);
  return EMBER_OK;
}

/* }====== */

/* {====== matmul, mm, bmm, addmm */

ember_status ember_cpu_matmul(ember_call *c) {
  ember_tensor *a = c->in[0], *b = c->in[1], *out = c->out[0];
  if (a->ndim == 1 && b->ndim == 1) {
    dot_into(out->dtype, a->shape[0], ember_tensor_data(a), a->stride[0], ember_tensor_data(b),
             b->stride[0], ember_tensor_data(out));
    return EMBER_OK;
  }
  return matmul_into(a, b, out, 1, 0);
}

/* out = beta * input + alpha * m1 @ m2; out is contiguous, input broadcasts to it. */
ember_status ember_cpu_addmm(ember_call *c) {
  ember_tensor *out = c->out[0];
  double beta = c->attr[0].f, alpha = c->attr[1].f;
  if (beta != 0) {    /* beta == 0 ignores input, NaN and all, as PyTorch */
    if (ember_copy_(out, c->in[0]) != EMBER_OK) return EMBER_ERROR;
    if (beta != 1) {
      int64_t n = ember_tensor_numel(out);
      void *p = ember_tensor_data(out);
      if (out->dtype == EMBER_F32)
        for (int64_t i = 0; i < n; i++) ((float *)p)[i] *= (float)beta;
      else if (out->dtype == EMBER_F64)
        for (int64_t i = 0; i < n; i++) ((double *)p)[i] *= beta;
      else
        for (int64_t i = 0; i < n; i++)
          ((int64_t *)p)[i] = (int64_t)((uint64_t)((int64_t *)p)[i] * (uint64_t)(int64_t)beta);
    }
  }
  return matmul_into(c->in[1], c->in[2], out, alpha, beta != 0 ? 1 : 0);
}

/* }====== */
