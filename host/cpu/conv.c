/*
** conv.c — CPU kernels of conv2d (im2col + GEMM), conv_transpose2d (GEMM + col2im)
** and conv2d's gradients: the input's is conv_transpose2d's computation, the weight's
** a GEMM of the output's gradient with the input's columns (transposed).
**
** The column matrix of an image has one row per (channel, ki, kj) tap and one column
** per window position; row r, column (oy, ox) holds image[c, oy*s - p + ki*d,
** ox*s - p + kj*d], or 0 where that falls in the padding. conv2d multiplies the
** group's weight (O/g x C/g*kh*kw, PyTorch's layout read as a matrix) by it, which
** gives the output in NCHW order directly. conv_transpose2d is the adjoint: the
** transposed weight times the input image gives columns over the *output* image, and
** col2im adds each column entry back into the pixel it came from. The weight gradient
** of one group is the sum over images of grad_output (O/g x positions) times the
** columns transposed (positions x C/g*kh*kw), one GEMM over all the positions.
**
** Kernels run in f32 or f64 (c->compute; f16/bf16 are widened by the dispatcher).
** Outputs come contiguous from the dispatcher; inputs are made contiguous here. GEMM is
** OpenBLAS, threaded by itself. The im2col / col2im loops around it stay on the
** calling thread on purpose: OpenBLAS (the pthreads build) runs its own threads, and
** OpenMP workers left spinning after a parallel region just before a GEMM take the
** cores it needs (measured: several times slower on 2 cores). Small images are
** batched into one GEMM so that BLAS sees wide matrices. Depthwise convolutions (one
** input channel per group) skip GEMM and run a direct loop, parallel over planes.
** Export's fused_conv2d is conv2d with its activation run over each block of output as
** soon as the block is made (the eager op's own loops, elementwise.h).
*/
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "elementwise.h"
#include "fused.h"
#include "linalg.h"
#include "pointwise.h"

/* {====== columns */

/* One image seen through a window: ch channels of h x w pixels, visited at oh x ow
** positions. For conv2d the image is the input; for conv_transpose2d, the output. */
typedef struct colgeom {
  int64_t ch, h, w, oh, ow;
  const ember_window *win;
} colgeom;

/* The positions o in [0, nout) whose tap o*s + q lands inside [0, nin): [*lo, *hi). */
static void tap_range(int64_t nin, int64_t nout, int64_t s, int64_t q, int64_t *lo, int64_t *hi) {
  int64_t a = q >= 0 ? 0 : (-q + s - 1) / s;
  int64_t b = nin - 1 - q < 0 ? 0 : (nin - 1 - q) / s + 1;
  if (a > nout) a = nout;
  if (b > nout) b = nout;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

/* One row of window positions: d[0, lo) and d[hi, n) are padding (0), d[i] for i in
** [lo, hi) is s[(i - lo) * step]. Plain typed loops: rows are often only a few
** elements long, too short for memcpy / memset calls to pay. */
static inline void put_row(ember_dtype dt, void *restrict d, const void *restrict s, int64_t lo,
                           int64_t hi, int64_t n, int64_t step) {
  if (dt == EMBER_F32) {
    float *restrict o = d;
    const float *restrict p = s;
    for (int64_t i = 0; i < lo; i++) o[i] = 0;
    if (step == 1) for (int64_t i = lo; i < hi; i++) o[i] = p[i - lo];
    else for (int64_t i = lo; i < hi; i++) o[i] = p[(i - lo) * step];
    for (int64_t i = hi; i < n; i++) o[i] = 0;
  } else {
    double *restrict o = d;
    const double *restrict p = s;
    for (int64_t i = 0; i < lo; i++) o[i] = 0;
    if (step == 1) for (int64_t i = lo; i < hi; i++) o[i] = p[i - lo];
    else for (int64_t i = lo; i < hi; i++) o[i] = p[(i - lo) * step];
    for (int64_t i = hi; i < n; i++) o[i] = 0;
  }
}

/* Zeroes n elements `step` apart: one column of a row of positions. */
static inline void zero_column(ember_dtype dt, void *d, int64_t n, int64_t step) {
  if (dt == EMBER_F32) for (int64_t i = 0; i < n; i++) ((float *)d)[i * step] = 0;
  else for (int64_t i = 0; i < n; i++) ((double *)d)[i * step] = 0;
}

/* d[i * step] += s[i]: one row of columns added back into the image. */
static inline void scatter_add(ember_dtype dt, void *restrict dst, const void *restrict src,
                               int64_t n, int64_t step) {
  if (dt == EMBER_F32) {
    float *restrict d = dst;
    const float *restrict s = src;
    if (step == 1) {
      #pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] += s[i];
    } else {
      for (int64_t i = 0; i < n; i++) d[i * step] += s[i];
    }
  } else {
    double *restrict d = dst;
    const double *restrict s = src;
    if (step == 1) {
      #pragma omp simd
      for (int64_t i = 0; i < n; i++) d[i] += s[i];
    } else {
      for (int64_t i = 0; i < n; i++) d[i * step] += s[i];
    }
  }
}

/* Writes the column matrix of img into col, whose rows are ld elements apart (the
** image's columns may be one block of a wider matrix that holds several images). */
static void im2col(ember_dtype dt, const void *img, void *col, int64_t ld, const colgeom *g) {
  const ember_window *win = g->win;
  size_t es = ember_dtype_size(dt);
  int64_t kk = win->k[0] * win->k[1], npix = g->h * g->w;
  /* at stride 1 with rows as long as the image's, a row of columns is the whole plane
     shifted: one copy, then the positions that wrapped round an edge are zeroed */
  int flat = win->s[0] == 1 && win->s[1] == 1 && g->ow == g->w;
  /* tap by tap, then channel by channel: a tap's ranges are worked out once (rows are
     short, and the divisions would cost as much as the copies) */
  for (int64_t t = 0; t < kk; t++) {
    int64_t ki = t / win->k[1], kj = t % win->k[1];
    int64_t qy = ki * win->d[0] - win->p[0], qx = kj * win->d[1] - win->p[1];
    int64_t ylo, yhi, xlo, xhi;
    tap_range(g->h, g->oh, win->s[0], qy, &ylo, &yhi);
    tap_range(g->w, g->ow, win->s[1], qx, &xlo, &xhi);
    int64_t shift = qy * g->w + qx, a = ylo * g->ow, b = yhi * g->ow, opix = g->oh * g->ow;
    if (a + shift < 0) a = -shift;
    if (b + shift > npix) b = npix - shift;
    /* a kernel row wholly in the padding can push a past the output row: keep both in it */
    a = a < 0 ? 0 : a > opix ? opix : a;
    b = b < a ? a : b > opix ? opix : b;
    for (int64_t ch = 0; ch < g->ch; ch++) {
      const char *plane = (const char *)img + (size_t)(ch * npix) * es;
      char *row = (char *)col + (size_t)((ch * kk + t) * ld) * es;
      if (flat) {
        put_row(dt, row, b > a ? plane + (size_t)(a + shift) * es : NULL, a, b, g->oh * g->ow, 1);
        for (int64_t ox = 0; ox < xlo; ox++)
          zero_column(dt, row + (size_t)(ylo * g->ow + ox) * es, yhi - ylo, g->ow);
        for (int64_t ox = xhi; ox < g->ow; ox++)
          zero_column(dt, row + (size_t)(ylo * g->ow + ox) * es, yhi - ylo, g->ow);
        continue;
      }
      for (int64_t oy = 0; oy < g->oh; oy++) {
        char *d = row + (size_t)(oy * g->ow) * es;
        if (oy < ylo || oy >= yhi || xlo == xhi) {
          put_row(dt, d, NULL, 0, 0, g->ow, 1);
          continue;
        }
        int64_t first = (oy * win->s[0] + qy) * g->w + xlo * win->s[1] + qx;
        put_row(dt, d, plane + (size_t)first * es, xlo, xhi, g->ow, win->s[1]);
      }
    }
  }
}

/* {====== columns of several small images at once
** When the column matrix holds several images side by side (images_per_gemm) and the
** convolution keeps the image's size at stride 1 (3x3 with padding 1, 5x5 with 2 ...),
** row (ch, tap) of the matrix is, for every image, the channel's plane shifted by the
** tap's offset with the pixels that fell off an edge zeroed. Copied image by image,
** as im2col does, that is a loop per row per image per tap over a few pixels (16 for a
** 4x4 plane), and the loops' overhead was most of a small CNN's convolution time. Here
** the planes are first regrouped channel-major (a channel's planes of all the images one
** run), so that each row of the matrix is one long loop: the regrouped channel read at
** the tap's offset, ANDed with the tap's mask of kept pixels (all ones or all zeros per
** element; the same for every channel). Reads at an offset run past a channel's ends
** into its neighbours or into a zeroed guard, and are masked out. */

typedef struct batchcols {
  int64_t m, npix, guard;    /* images, pixels of a plane, guard elements at each end */
  char *planes;              /* guard, then ch runs of m planes, then guard */
  char *keep;                /* per tap, m * npix masks */
} batchcols;

static int batch_cols_apply(const ember_window *win, int64_t n, int64_t h, int64_t w,
                            int64_t oh, int64_t ow) {
  return n > 1 && win->s[0] == 1 && win->s[1] == 1 && oh == h && ow == w;
}

/* The tap's offset in a plane, and whether output (oy, ox) reads inside the image. */
static int64_t tap_shift(const ember_window *win, int64_t w, int64_t t, int64_t *qy, int64_t *qx) {
  *qy = t / win->k[1] * win->d[0] - win->p[0];
  *qx = t % win->k[1] * win->d[1] - win->p[1];
  return *qy * w + *qx;
}

static int64_t batch_cols_guard(const ember_window *win, int64_t w) {
  int64_t most = 0, qy, qx;
  for (int64_t t = 0; t < win->k[0] * win->k[1]; t++) {
    int64_t s = tap_shift(win, w, t, &qy, &qx);
    if (s < 0) s = -s;
    if (s > most) most = s;
  }
  return most;
}

/* Bytes of scratch for nb images of ch channels. */
static size_t batch_cols_bytes(const colgeom *g, int64_t nb, size_t es) {
  int64_t npix = g->h * g->w, kk = g->win->k[0] * g->win->k[1];
  return (size_t)(g->ch * nb * npix + 2 * batch_cols_guard(g->win, g->w) + kk * nb * npix) * es;
}

/* Lays out the guards and the masks for up to nb images in mem (batch_cols_bytes). */
static void batch_cols_init(batchcols *b, const colgeom *g, int64_t nb, size_t es, char *mem) {
  int64_t npix = g->h * g->w, kk = g->win->k[0] * g->win->k[1], qy, qx;
  b->m = nb;
  b->npix = npix;
  b->guard = batch_cols_guard(g->win, g->w);
  b->planes = mem;
  b->keep = mem + (size_t)(g->ch * nb * npix + 2 * b->guard) * es;
  memset(b->planes, 0, (size_t)b->guard * es);
  memset(b->planes + (size_t)(b->guard + g->ch * nb * npix) * es, 0, (size_t)b->guard * es);
  for (int64_t t = 0; t < kk; t++) {
    char *mask = b->keep + (size_t)(t * nb * npix) * es;
    tap_shift(g->win, g->w, t, &qy, &qx);
    for (int64_t y = 0; y < g->h; y++)
      for (int64_t x = 0; x < g->w; x++) {
        int in = y + qy >= 0 && y + qy < g->h && x + qx >= 0 && x + qx < g->w;
        memset(mask + (size_t)(y * g->w + x) * es, in ? 0xff : 0, es);
      }
    for (int64_t j = 1; j < nb; j++) memcpy(mask + (size_t)(j * npix) * es, mask, (size_t)npix * es);
  }
}

/* Columns of m <= b's images into col (rows ld elements apart): image j's channel ch is
** at img + (j * img_step + ch * npix) elements. */
static void batch_cols(ember_dtype dt, const char *img, int64_t img_step, int64_t m, char *col,
                       int64_t ld, const colgeom *g, const batchcols *b) {
  size_t es = ember_dtype_size(dt);
  int64_t npix = b->npix, run = m * npix, kk = g->win->k[0] * g->win->k[1], qy, qx;
  char *planes = b->planes + (size_t)b->guard * es;
  for (int64_t ch = 0; ch < g->ch; ch++)
    for (int64_t j = 0; j < m; j++)
      memcpy(planes + (size_t)((ch * m + j) * npix) * es,
             img + (size_t)(j * img_step + ch * npix) * es, (size_t)npix * es);
  /* the guard after the last channel's run, which moves with m */
  memset(planes + (size_t)(g->ch * run) * es, 0, (size_t)b->guard * es);
  for (int64_t ch = 0; ch < g->ch; ch++)
    for (int64_t t = 0; t < kk; t++) {
      int64_t shift = tap_shift(g->win, g->w, t, &qy, &qx);
      const char *src = planes + (size_t)(ch * run + shift) * es;
      char *dst = col + (size_t)((ch * kk + t) * ld) * es;
      const char *mask = b->keep + (size_t)(t * b->m * npix) * es;
      if (es == 4) {
        const uint32_t *restrict s = (const uint32_t *)src, *restrict k = (const uint32_t *)mask;
        uint32_t *restrict d = (uint32_t *)dst;
        #pragma omp simd
        for (int64_t i = 0; i < run; i++) d[i] = s[i] & k[i];
      } else {
        const uint64_t *restrict s = (const uint64_t *)src, *restrict k = (const uint64_t *)mask;
        uint64_t *restrict d = (uint64_t *)dst;
        #pragma omp simd
        for (int64_t i = 0; i < run; i++) d[i] = s[i] & k[i];
      }
    }
}

/* }====== */

/* Adds the column matrix col (rows ld elements apart) into img: the adjoint of im2col.
** At stride 1 with rows as long as the image's (im2col's flat case) a row of columns
** adds onto the plane shifted, in one run: its entries that fell in the padding, which
** would wrap round an edge, are zeroed first. col is scratch, so that is allowed. */
static void col2im(ember_dtype dt, void *col, int64_t ld, void *img, const colgeom *g) {
  const ember_window *win = g->win;
  size_t es = ember_dtype_size(dt);
  int64_t kk = win->k[0] * win->k[1], npix = g->h * g->w;
  int flat = win->s[0] == 1 && win->s[1] == 1 && g->ow == g->w;
  for (int64_t t = 0; t < kk; t++) {        /* tap by tap, as im2col */
    int64_t ki = t / win->k[1], kj = t % win->k[1];
    int64_t qy = ki * win->d[0] - win->p[0], qx = kj * win->d[1] - win->p[1];
    int64_t ylo, yhi, xlo, xhi;
    tap_range(g->h, g->oh, win->s[0], qy, &ylo, &yhi);
    tap_range(g->w, g->ow, win->s[1], qx, &xlo, &xhi);
    for (int64_t ch = 0; ch < g->ch; ch++) {
      char *plane = (char *)img + (size_t)(ch * npix) * es;
      char *row = (char *)col + (size_t)((ch * kk + t) * ld) * es;
      if (flat) {
        if (xlo >= xhi) continue;
        for (int64_t ox = 0; ox < xlo; ox++)
          zero_column(dt, row + (size_t)(ylo * g->ow + ox) * es, yhi - ylo, g->ow);
        for (int64_t ox = xhi; ox < g->ow; ox++)
          zero_column(dt, row + (size_t)(ylo * g->ow + ox) * es, yhi - ylo, g->ow);
        int64_t shift = qy * g->w + qx, a = ylo * g->ow, b = yhi * g->ow, opix = g->oh * g->ow;
        if (a + shift < 0) a = -shift;
        if (b + shift > npix) b = npix - shift;
        a = a < 0 ? 0 : a > opix ? opix : a;
        b = b > opix ? opix : b;
        if (b > a)
          scatter_add(dt, plane + (size_t)(a + shift) * es, row + (size_t)a * es, b - a, 1);
        continue;
      }
      for (int64_t oy = ylo; oy < yhi && xlo < xhi; oy++) {
        int64_t first = (oy * win->s[0] + qy) * g->w + xlo * win->s[1] + qx;
        scatter_add(dt, plane + (size_t)first * es, row + (size_t)(oy * g->ow + xlo) * es,
                    xhi - xlo, win->s[1]);
      }
    }
  }
}

/* }====== */

/* {====== GEMM and bias */

/* C (m x n, ldc) = op(A) (m x k) * op(B) (k x n) + beta * C; op(X) = X or X^T as
** trans says (bit 0: A, bit 1: B). */
enum { TRANS_A = 1, TRANS_B = 2 };

static void gemm(ember_dtype dt, int trans, int64_t m, int64_t n, int64_t k, const void *a,
                 int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
  enum CBLAS_TRANSPOSE ta = trans & TRANS_A ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = trans & TRANS_B ? CblasTrans : CblasNoTrans;
  ember_blas_threads_for(m * n * k);
  if (dt == EMBER_F32)
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b,
                (int)ldb, (float)beta, c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
}

/* Packs the same block of rows (rows x npos, one plane per row) of m images side by
** side: dst row r = image 0's row r, image 1's row r, ... (ld = m * npos). Images are
** img_step elements apart. */
static void pack_rows(size_t es, const char *src, int64_t img_step, int64_t m, int64_t rows,
                      int64_t npos, char *dst) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < m; j++)
      memcpy(dst + (size_t)((r * m + j) * npos) * es, src + (size_t)(j * img_step + r * npos) * es,
             (size_t)npos * es);
}

/* Every dimension handed to BLAS must fit its int. */
static ember_status blas_fits(ember_call *c, int64_t a, int64_t b, int64_t d) {
  if (a > INT_MAX || b > INT_MAX || d > INT_MAX)
    return ember_op_error(c, "matrix of %lld x %lld x %lld is too large for BLAS", (long long)a,
                          (long long)b, (long long)d);
  return EMBER_OK;
}

/* rows x n block of rows ld apart: row o = bias[o] (or 0), plus src row o if src. */
static void fill_rows(ember_dtype dt, void *dst, int64_t ld, int64_t rows, int64_t n,
                      const void *bias, const void *src, int64_t src_ld) {
  for (int64_t o = 0; o < rows; o++) {
    if (dt == EMBER_F32) {
      float *restrict d = (float *)dst + o * ld, bv = bias ? ((const float *)bias)[o] : 0.0f;
      const float *restrict s = src ? (const float *)src + o * src_ld : NULL;
      if (s) {
        #pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] = s[i] + bv;
      } else {
        for (int64_t i = 0; i < n; i++) d[i] = bv;
      }
    } else {
      double *restrict d = (double *)dst + o * ld, bv = bias ? ((const double *)bias)[o] : 0.0;
      const double *restrict s = src ? (const double *)src + o * src_ld : NULL;
      if (s) {
        #pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] = s[i] + bv;
      } else {
        for (int64_t i = 0; i < n; i++) d[i] = bv;
      }
    }
  }
}

/* }====== */

/* {====== depthwise */

/* One output plane of a convolution whose output channel reads a single input channel
** (groups == input channels, the depthwise case): bias, then each tap adds a scaled,
** shifted copy of the input plane. No GEMM: with one input channel per group it would
** be a 1 x taps product per plane, all call overhead. */
static void depthwise_plane(ember_dtype dt, const void *in, void *out, const void *wk,
                            double bias, const colgeom *g) {
  const ember_window *win = g->win;
  int64_t n = g->oh * g->ow, sx = win->s[1];
  if (dt == EMBER_F32) for (int64_t i = 0; i < n; i++) ((float *)out)[i] = (float)bias;
  else for (int64_t i = 0; i < n; i++) ((double *)out)[i] = bias;
  for (int64_t ki = 0; ki < win->k[0]; ki++) {
    for (int64_t kj = 0; kj < win->k[1]; kj++) {
      int64_t qy = ki * win->d[0] - win->p[0], qx = kj * win->d[1] - win->p[1];
      int64_t ylo, yhi, xlo, xhi;
      tap_range(g->h, g->oh, win->s[0], qy, &ylo, &yhi);
      tap_range(g->w, g->ow, sx, qx, &xlo, &xhi);
      int64_t t = ki * win->k[1] + kj;
      for (int64_t oy = ylo; oy < yhi; oy++) {
        int64_t src = (oy * win->s[0] + qy) * g->w + qx, dst = oy * g->ow;
        if (dt == EMBER_F32) {
          const float *restrict x = (const float *)in + src;
          float *restrict o = (float *)out + dst;
          float wv = ((const float *)wk)[t];
          if (sx == 1) {
            #pragma omp simd
            for (int64_t ox = xlo; ox < xhi; ox++) o[ox] += wv * x[ox];
          } else {
            for (int64_t ox = xlo; ox < xhi; ox++) o[ox] += wv * x[ox * sx];
          }
        } else {
          const double *restrict x = (const double *)in + src;
          double *restrict o = (double *)out + dst;
          double wv = ((const double *)wk)[t];
          if (sx == 1) {
            #pragma omp simd
            for (int64_t ox = xlo; ox < xhi; ox++) o[ox] += wv * x[ox];
          } else {
            for (int64_t ox = xlo; ox < xhi; ox++) o[ox] += wv * x[ox * sx];
          }
        }
      }
    }
  }
}

typedef struct depthwise_ctx {
  ember_dtype dt;
  const char *x, *w, *bias;
  char *out;
  const ember_conv_geom *g;
  const colgeom *cgeo;
  const ember_pw_loops *act;     /* fused_conv2d's activation, or NULL */
} depthwise_ctx;

static void depthwise_range(void *ctx, int64_t lo, int64_t hi) {
  const depthwise_ctx *k = ctx;
  const ember_conv_geom *g = k->g;
  size_t es = ember_dtype_size(k->dt);
  int64_t og = g->oc / g->groups, kk = g->win.k[0] * g->win.k[1];
  int64_t npix = g->h * g->w, npos = g->oh * g->ow;
  for (int64_t p = lo; p < hi; p++) {
    int64_t n = p / g->oc, o = p % g->oc, ci = o / og;
    double b = !k->bias ? 0.0 : k->dt == EMBER_F32 ? ((const float *)k->bias)[o]
                                                   : ((const double *)k->bias)[o];
    char *plane = k->out + (size_t)(p * npos) * es;
    depthwise_plane(k->dt, k->x + (size_t)((n * g->c + ci) * npix) * es, plane,
                    k->w + (size_t)(o * kk) * es, b, k->cgeo);
    if (k->act) ember_cpu_unary_apply(k->act, k->dt, plane, npos);
  }
}

/* All planes, in parallel: no BLAS runs here, so OpenMP has the cores to itself. */
static void depthwise(ember_dtype dt, const char *x, const char *w, const char *bias, char *out,
                      const ember_conv_geom *g, const ember_pw_loops *act) {
  int64_t planes = g->n * g->oc, npos = g->oh * g->ow, kk = g->win.k[0] * g->win.k[1];
  colgeom cgeo = { 1, g->h, g->w, g->oh, g->ow, &g->win };
  depthwise_ctx k = { dt, x, w, bias, out, g, &cgeo, act };
  ember_parallel_for(planes, planes * npos * kk, depthwise_range, &k);
}

/* }====== */

/* {====== conv2d */

/* Images per GEMM: enough that the column matrix is wide (BLAS is slow on narrow
** ones), few enough that it stays within a fixed budget. */
static int64_t images_per_gemm(int64_t n, int64_t npos, int64_t krows, size_t es) {
  const int64_t wide = 1024, budget = (int64_t)64 << 20;
  if (npos >= wide || n <= 1) return 1;
  int64_t nb = (wide + npos - 1) / npos;
  while (nb > 1 && nb * npos * krows * (int64_t)es > budget) nb--;
  return nb < n ? nb : n;
}

typedef struct convio {
  ember_tensor *x, *w, *b;
} convio;

static ember_status take_inputs(ember_call *c, convio *io) {
  io->x = ember_contiguous(c->in[0]);
  io->w = ember_contiguous(c->in[1]);
  io->b = c->nin > 2 && c->in[2] ? ember_contiguous(c->in[2]) : NULL;
  if (io->x && io->w && (io->b || c->nin <= 2 || c->in[2] == NULL)) return EMBER_OK;
  return EMBER_ERROR;
}

static void drop_inputs(convio *io) {
  ember_tensor_release(io->x);
  ember_tensor_release(io->w);
  ember_tensor_release(io->b);
}

/* conv2d, then act (fused_conv2d's activation; NULL: none) on each block of output
** right after the GEMM (or the depthwise loop) that made it, while it is in cache. */
static ember_status conv2d(ember_call *c, const ember_pw_loops *act) {
  ember_conv_geom g;
  if (ember_conv_geom_of(c, 0, &g) != EMBER_OK) return EMBER_ERROR;
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  int64_t cg = g.c / g.groups, og = g.oc / g.groups, npos = g.oh * g.ow;
  int64_t krows = cg * g.win.k[0] * g.win.k[1];
  char *out = ember_tensor_data(c->out[0]);
  if (g.n * g.oc * npos == 0) return EMBER_OK;
  int64_t nb = images_per_gemm(g.n, npos, krows, es);
  if (blas_fits(c, og, nb * npos, krows) != EMBER_OK) return EMBER_ERROR;
  convio io;
  if (take_inputs(c, &io) != EMBER_OK) {
    drop_inputs(&io);
    return EMBER_ERROR;
  }
  const char *x = ember_tensor_data(io.x), *w = ember_tensor_data(io.w);
  const char *bias = io.b ? ember_tensor_data(io.b) : NULL;
  const ember_window *win = &g.win;
  if (g.groups > 1 && cg == 1) {
    depthwise(dt, x, w, bias, out, &g, act);
    drop_inputs(&io);
    return EMBER_OK;
  }
  /* a 1x1 kernel at stride 1 without padding reads the image as its own columns */
  int direct = nb == 1 && win->k[0] == 1 && win->k[1] == 1 && win->s[0] == 1 && win->s[1] == 1 &&
               win->p[0] == 0 && win->p[1] == 0;
  colgeom cgeo = { cg, g.h, g.w, g.oh, g.ow, win };
  int batched = !direct && batch_cols_apply(win, nb, g.h, g.w, g.oh, g.ow);
  void *col = NULL, *tmp = NULL, *bmem = NULL;
  if (!direct) col = ember_scratch_alloc((size_t)(krows * nb * npos) * es);
  if (nb > 1) tmp = ember_scratch_alloc((size_t)(og * nb * npos) * es);
  if (batched) bmem = ember_scratch_alloc(batch_cols_bytes(&cgeo, nb, es));
  if ((!direct && col == NULL) || (nb > 1 && tmp == NULL) || (batched && bmem == NULL)) {
    ember_scratch_free(bmem);
    ember_scratch_free(tmp);
    ember_scratch_free(col);
    drop_inputs(&io);
    return ember_op_error(c, "out of memory for the column matrix");
  }
  batchcols bcols;
  if (batched) batch_cols_init(&bcols, &cgeo, nb, es, bmem);
  int64_t ld = nb * npos;
  for (int64_t n0 = 0; n0 < g.n; n0 += nb) {
    int64_t m = g.n - n0 < nb ? g.n - n0 : nb;
    for (int64_t gi = 0; gi < g.groups; gi++) {
      const char *wg = w + (size_t)(gi * og * krows) * es;
      const char *bg = bias ? bias + (size_t)(gi * og) * es : NULL;
      if (batched)
        batch_cols(dt, x + (size_t)((n0 * g.c + gi * cg) * g.h * g.w) * es, g.c * g.h * g.w, m,
                   col, ld, &cgeo, &bcols);
      for (int64_t j = 0; j < m && !direct && !batched; j++)
        im2col(dt, x + (size_t)(((n0 + j) * g.c + gi * cg) * g.h * g.w) * es,
               (char *)col + (size_t)(j * npos) * es, ld, &cgeo);
      if (nb == 1) {
        char *og_out = out + (size_t)((n0 * g.oc + gi * og) * npos) * es;
        const void *cols = direct ? x + (size_t)((n0 * g.c + gi * cg) * g.h * g.w) * es : col;
        if (bg) fill_rows(dt, og_out, npos, og, npos, bg, NULL, 0);
        gemm(dt, 0, og, npos, krows, wg, krows, cols, npos, bg ? 1.0 : 0.0, og_out, npos);
        if (act) ember_cpu_unary_apply(act, dt, og_out, og * npos);
        continue;
      }
      gemm(dt, 0, og, m * npos, krows, wg, krows, col, ld, 0.0, tmp, ld);
      for (int64_t j = 0; j < m; j++) {
        char *img_out = out + (size_t)(((n0 + j) * g.oc + gi * og) * npos) * es;
        fill_rows(dt, img_out, npos, og, npos, bg, (char *)tmp + (size_t)(j * npos) * es, ld);
        if (act) ember_cpu_unary_apply(act, dt, img_out, og * npos);
      }
    }
  }
  ember_scratch_free(bmem);
  ember_scratch_free(tmp);
  ember_scratch_free(col);
  drop_inputs(&io);
  return EMBER_OK;
}

ember_status ember_cpu_conv2d(ember_call *c) { return conv2d(c, NULL); }

/* export's fused_conv2d: the loops of the activation's eager op, so the same values */
ember_status ember_cpu_fused_conv2d(ember_call *c) {
  const ember_fused_word *w;
  if (ember_fused_activation(c, FUSED_CONV_ACTIVATION, &w) != EMBER_OK) return EMBER_ERROR;
  return conv2d(c, w ? ember_cpu_unary_loops(w->name) : NULL);
}

/* }====== */

/* {====== conv_transpose2d and conv2d's input gradient */

/* out = conv_transpose2d(x, w) + bias, g in conv_transpose2d's terms: x is n x c x h x w,
** out n x oc x oh x ow, w c x oc/groups x kh x kw. Per group, the transposed weight
** times the pixels gives columns over the output image, which col2im adds in. Small
** images go several to a GEMM, their pixels packed side by side. */
static ember_status transposed(ember_call *c, const char *x, const char *w, const char *bias,
                               char *out, const ember_conv_geom *g) {
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  int64_t cg = g->c / g->groups, og = g->oc / g->groups, npos = g->h * g->w, opix = g->oh * g->ow;
  int64_t rows = og * g->win.k[0] * g->win.k[1];
  if (g->n * g->oc * opix == 0) return EMBER_OK;
  int64_t nb = images_per_gemm(g->n, npos, rows, es);
  if (blas_fits(c, rows, nb * npos, cg) != EMBER_OK) return EMBER_ERROR;
  const ember_window *win = &g->win;
  /* a 1x1 kernel at stride 1 without padding writes its columns straight into the image */
  int direct = nb == 1 && win->k[0] == 1 && win->k[1] == 1 && win->s[0] == 1 && win->s[1] == 1 &&
               win->p[0] == 0 && win->p[1] == 0 && g->oh == g->h && g->ow == g->w;
  void *col = direct ? NULL : ember_scratch_alloc((size_t)(rows * nb * npos) * es);
  void *xp = nb > 1 ? ember_scratch_alloc((size_t)(cg * nb * npos) * es) : NULL;
  if ((!direct && col == NULL) || (nb > 1 && xp == NULL)) {
    ember_scratch_free(xp);
    ember_scratch_free(col);
    return ember_op_error(c, "out of memory for the column matrix");
  }
  /* the output is the image; the input positions are where the window stood */
  colgeom cgeo = { og, g->oh, g->ow, g->h, g->w, win };
  for (int64_t n0 = 0; n0 < g->n; n0 += nb) {
    int64_t m = g->n - n0 < nb ? g->n - n0 : nb, ld = m * npos;
    for (int64_t gi = 0; gi < g->groups; gi++) {
      const char *xg = x + (size_t)((n0 * g->c + gi * cg) * npos) * es;
      const char *wg = w + (size_t)(gi * cg * rows) * es;
      const char *bg = bias ? bias + (size_t)(gi * og) * es : NULL;
      char *outg = out + (size_t)((n0 * g->oc + gi * og) * opix) * es;
      for (int64_t j = 0; j < m; j++)
        fill_rows(dt, outg + (size_t)(j * g->oc * opix) * es, opix, og, opix, bg, NULL, 0);
      if (cg == 0) continue;
      if (direct) {
        gemm(dt, TRANS_A, rows, npos, cg, wg, rows, xg, npos, 1.0, outg, npos);
        continue;
      }
      if (m > 1) pack_rows(es, xg, g->c * npos, m, cg, npos, xp);
      gemm(dt, TRANS_A, rows, ld, cg, wg, rows, m > 1 ? xp : xg, ld, 0.0, col, ld);
      for (int64_t j = 0; j < m; j++)
        col2im(dt, (char *)col + (size_t)(j * npos) * es, ld,
               outg + (size_t)(j * g->oc * opix) * es, &cgeo);
    }
  }
  ember_scratch_free(xp);
  ember_scratch_free(col);
  return EMBER_OK;
}

/* transposed over c's inputs (x, w and the bias when there is one) into c's output. */
static ember_status run_transposed(ember_call *c, const ember_conv_geom *g) {
  convio io;
  ember_status st = EMBER_ERROR;
  if (take_inputs(c, &io) == EMBER_OK)
    st = transposed(c, ember_tensor_data(io.x), ember_tensor_data(io.w),
                    io.b ? ember_tensor_data(io.b) : NULL, ember_tensor_data(c->out[0]), g);
  drop_inputs(&io);
  return st;
}

ember_status ember_cpu_conv_transpose2d(ember_call *c) {
  ember_conv_geom g;
  if (ember_conv_geom_of(c, 1, &g) != EMBER_OK) return EMBER_ERROR;
  return run_transposed(c, &g);
}

ember_status ember_conv_input_grad_geom_of(ember_call *c, ember_conv_geom *g) {
  ember_conv_geom f;
  if (ember_conv_grad_geom_of(c, 0, &f) != EMBER_OK) return EMBER_ERROR;
  *g = f;
  g->c = f.oc;
  g->h = f.oh;
  g->w = f.ow;
  g->oc = f.c;
  g->oh = f.h;
  g->ow = f.w;
  return EMBER_OK;
}

/* conv2d's input gradient: conv_transpose2d of grad_output by the same weight. */
ember_status ember_cpu_conv2d_backward_input(ember_call *c) {
  ember_conv_geom t;
  if (ember_conv_input_grad_geom_of(c, &t) != EMBER_OK) return EMBER_ERROR;
  return run_transposed(c, &t);     /* in[0] grad_output, in[1] the weight, no bias */
}

/* }====== */

/* {====== conv2d's weight gradient */

ember_status ember_cpu_conv2d_backward_weight(ember_call *c) {
  ember_conv_geom g;
  if (ember_conv_grad_geom_of(c, 1, &g) != EMBER_OK) return EMBER_ERROR;
  ember_dtype dt = c->compute;
  size_t es = ember_dtype_size(dt);
  int64_t cg = g.c / g.groups, og = g.oc / g.groups, npos = g.oh * g.ow, npix = g.h * g.w;
  int64_t krows = cg * g.win.k[0] * g.win.k[1];
  char *out = ember_tensor_data(c->out[0]);
  if (g.oc * krows == 0) return EMBER_OK;
  if (g.n * npos == 0) {
    memset(out, 0, (size_t)(g.oc * krows) * es);
    return EMBER_OK;
  }
  int64_t nb = images_per_gemm(g.n, npos, krows, es);
  if (blas_fits(c, og, krows, nb * npos) != EMBER_OK) return EMBER_ERROR;
  const ember_window *win = &g.win;
  /* a 1x1 kernel at stride 1 without padding: the image is its own columns */
  int direct = nb == 1 && win->k[0] == 1 && win->k[1] == 1 && win->s[0] == 1 && win->s[1] == 1 &&
               win->p[0] == 0 && win->p[1] == 0 && g.oh == g.h && g.ow == g.w;
  ember_tensor *gt = ember_contiguous(c->in[0]), *xt = gt ? ember_contiguous(c->in[1]) : NULL;
  colgeom cgeo = { cg, g.h, g.w, g.oh, g.ow, win };
  int batched = !direct && batch_cols_apply(win, nb, g.h, g.w, g.oh, g.ow);
  void *col = direct ? NULL : ember_scratch_alloc((size_t)(krows * nb * npos) * es);
  void *gp = nb > 1 ? ember_scratch_alloc((size_t)(og * nb * npos) * es) : NULL;
  void *bmem = batched ? ember_scratch_alloc(batch_cols_bytes(&cgeo, nb, es)) : NULL;
  ember_status st = EMBER_OK;
  if (xt == NULL) st = EMBER_ERROR;
  else if ((!direct && col == NULL) || (nb > 1 && gp == NULL) || (batched && bmem == NULL))
    st = ember_op_error(c, "out of memory for the column matrix");
  if (st != EMBER_OK) {
    ember_scratch_free(bmem);
    ember_scratch_free(gp);
    ember_scratch_free(col);
    ember_tensor_release(gt);
    ember_tensor_release(xt);
    return st;
  }
  batchcols bcols;
  if (batched) batch_cols_init(&bcols, &cgeo, nb, es, bmem);
  const char *go = ember_tensor_data(gt), *x = ember_tensor_data(xt);
  for (int64_t n0 = 0; n0 < g.n; n0 += nb) {
    int64_t m = g.n - n0 < nb ? g.n - n0 : nb, ld = m * npos;
    for (int64_t gi = 0; gi < g.groups; gi++) {
      const char *xg = x + (size_t)((n0 * g.c + gi * cg) * npix) * es;
      const char *gg = go + (size_t)((n0 * g.oc + gi * og) * npos) * es;
      if (batched) batch_cols(dt, xg, g.c * npix, m, col, ld, &cgeo, &bcols);
      for (int64_t j = 0; j < m && !direct && !batched; j++)
        im2col(dt, xg + (size_t)(j * g.c * npix) * es, (char *)col + (size_t)(j * npos) * es, ld,
               &cgeo);
      if (m > 1) pack_rows(es, gg, g.oc * npos, m, og, npos, gp);
      /* dW (O/g x C/g*kh*kw) = grad_output (O/g x positions) . columns^T */
      gemm(dt, TRANS_B, og, krows, ld, m > 1 ? gp : gg, ld, direct ? xg : col, ld,
           n0 > 0 ? 1.0 : 0.0, out + (size_t)(gi * og * krows) * es, krows);
    }
  }
  ember_scratch_free(bmem);
  ember_scratch_free(gp);
  ember_scratch_free(col);
  ember_tensor_release(gt);
  ember_tensor_release(xt);
  return EMBER_OK;
}

/* }====== */
