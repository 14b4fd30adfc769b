/*
** gemm_narrow.c — f32 products with a few output columns, the last layer of a
** classifier or a game's policy head: C (m x n) = alpha A (m x k) B (k x n) + beta C
** with n <= EMBER_GEMM_NARROW.
**
** OpenBLAS packs both operands for such a product and its micro-kernel, made for a wide
** C, runs mostly on its edge cases: 32 x 10 x 128 (a batch of 32 through nn.Linear(128,
** 10)) took 1.8 us, where the multiply-adds need about 0.5. When A's rows and B's columns
** are each contiguous (x @ W^T with W stored out x in, as nn.Linear keeps it) every output
** is a dot product of two contiguous vectors, and the kernel here computes them two rows
** by up to six columns at a time in twelve vector registers, reading each of A's rows
** once per six columns and no packing at all: 1.1 us for the same product.
**
** It needs AVX2 and FMA. The build targets baseline x86-64, so the kernel alone is
** compiled for them and chosen at run time when the CPU has them; elsewhere (another
** CPU or architecture) ember_gemm_narrow declines and the product goes to BLAS.
*/
#include "linalg.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

static AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* Rows x0 and x1 against nc <= 6 columns of B (column j at w + j * ldw), k elements
** each: the dot products into d0[j * cs] and d1[j * cs]. A lone last row comes as
** x1 = x0, d1 = d0: both results are made before either is stored, so it is written
** twice with the same value, and there is one loop to compile rather than two. The
** loops over j have a constant bound once inlined into each case of tile(), so the
** accumulators stay in registers. */
static AVX2 inline __attribute__((always_inline))
void tile_of(int nc, int64_t k, const float *x0, const float *x1, const float *w, int64_t ldw,
             float alpha, float beta, float *d0, float *d1, int64_t cs) {
  __m256 a0[6], a1[6];
  int64_t k8 = k & ~(int64_t)7;
  _Pragma("GCC unroll 6")
  for (int j = 0; j < nc; j++) a0[j] = a1[j] = _mm256_setzero_ps();
  for (int64_t p = 0; p < k8; p += 8) {
    __m256 u = _mm256_loadu_ps(x0 + p), v = _mm256_loadu_ps(x1 + p);
    _Pragma("GCC unroll 6")
    for (int j = 0; j < nc; j++) {
      __m256 c = _mm256_loadu_ps(w + j * ldw + p);
      a0[j] = _mm256_fmadd_ps(u, c, a0[j]);
      a1[j] = _mm256_fmadd_ps(v, c, a1[j]);
    }
  }
  _Pragma("GCC unroll 6")
  for (int j = 0; j < nc; j++) {
    const float *c = w + j * ldw;
    float s0 = hsum(a0[j]), s1 = hsum(a1[j]);
    for (int64_t p = k8; p < k; p++) {
      s0 += x0[p] * c[p];
      s1 += x1[p] * c[p];
    }
    /* with beta == 0, C is only written (it may hold garbage), as ember_gemm promises */
    float r0 = alpha * s0 + (beta == 0 ? 0 : beta * d0[j * cs]);
    float r1 = alpha * s1 + (beta == 0 ? 0 : beta * d1[j * cs]);
    d0[j * cs] = r0;
    d1[j * cs] = r1;
  }
}

static AVX2 void tile(int nc, int64_t k, const float *x0, const float *x1, const float *w,
                      int64_t ldw, float alpha, float beta, float *d0, float *d1, int64_t cs) {
  switch (nc) {
  case 6: tile_of(6, k, x0, x1, w, ldw, alpha, beta, d0, d1, cs); break;
  case 5: tile_of(5, k, x0, x1, w, ldw, alpha, beta, d0, d1, cs); break;
  case 4: tile_of(4, k, x0, x1, w, ldw, alpha, beta, d0, d1, cs); break;
  case 3: tile_of(3, k, x0, x1, w, ldw, alpha, beta, d0, d1, cs); break;
  case 2: tile_of(2, k, x0, x1, w, ldw, alpha, beta, d0, d1, cs); break;
  default: tile_of(1, k, x0, x1, w, ldw, alpha, beta, d0, d1, cs); break;
  }
}

static AVX2 void narrow(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *c, int64_t rs, int64_t cs) {
  for (int64_t i = 0; i < m; i += 2) {
    const float *x0 = a + i * lda, *x1 = i + 1 < m ? x0 + lda : x0;
    float *d0 = c + i * rs, *d1 = i + 1 < m ? d0 + rs : d0;
    for (int64_t j = 0; j < n; j += 6) {
      int nc = n - j < 6 ? (int)(n - j) : 6;
      tile(nc, k, x0, x1, b + j * ldb, ldb, alpha, beta, d0 + j * cs, d1 + j * cs, cs);
    }
  }
}

/* Whether the CPU has AVX2 and FMA and the OS saves the ymm registers. Asked of cpuid
** directly: __builtin_cpu_supports would link libgcc's CPU model, a constructor and 8
** KB in every runtime build, even one whose program never multiplies. */
static int cpu_fits(void) {
  static int fits = -1;   /* a benign race: every thread computes the same answer */
  if (fits < 0) {
    unsigned a, b, c, d, lo, hi;
    fits = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c >> 12 & 1) && (c >> 27 & 1) && (c >> 28 & 1)) {
      __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));   /* FMA, OSXSAVE, AVX above */
      if ((lo & 6) == 6 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) fits = b >> 5 & 1;
    }
  }
  return fits;
}

int ember_gemm_narrow(ember_dtype dt, int64_t m, int64_t n, int64_t k, double alpha,
                      ember_mat a, ember_mat b, double beta, ember_mat c) {
  /* k >= 8: a vector of A's row at least; shorter rows are latency, not work */
  if (dt != EMBER_F32 || n > EMBER_GEMM_NARROW || k < 8 || m < 1 || n < 1) return 0;
  if (a.cs != 1 || b.rs != 1 || !cpu_fits()) return 0;   /* rows of A, columns of B: runs */
  narrow(m, n, k, (float)alpha, (const float *)a.data, a.rs, (const float *)b.data, b.cs,
         (float)beta, (float *)c.data, c.rs, c.cs);
  return 1;
}

#else

int ember_gemm_narrow(ember_dtype dt, int64_t m, int64_t n, int64_t k, double alpha,
                      ember_mat a, ember_mat b, double beta, ember_mat c) {
  (void)dt, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)b, (void)beta, (void)c;
  return 0;
}

#endif
