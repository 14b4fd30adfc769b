/*
** creation.c — CPU kernels of the creation family: constant fills, ranges, eye and
** the random tensors.
**
** Invariants:
** - out[0] is a fresh contiguous tensor in its final dtype (infer never asks for a
**   wider kernel dtype), so every kernel writes element i at data + i * size;
** - the random kernels are pure functions of (seed, first counter, i): element i
**   takes draw i of the reserved Philox blocks (f32, f16, bf16, randint with a range
**   up to 2^32), or draws 2i and 2i+1 (f64, wide randint); randn turns draws 2j and
**   2j+1 into elements 2j and 2j+1 (f64: four draws into two). The numbers therefore
**   do not depend on the thread split, and a GPU kernel computing the same blocks
**   gives the same tensor;
** - attributes are read by name (ember_creation_attr), so zeros and zeros_like,
**   randint and randint_like share a kernel although their attribute lists differ.
*/
#include <math.h>
#include <string.h>

#include "creation.h"

/* {====== attributes */

const ember_attr *ember_creation_attr(const ember_call *c, const char *name) {
  int k = ember_op_attr_index(c->op, name);
  return k >= 0 ? &c->attr[k] : NULL;
}

int ember_creation_is_integral(const ember_attr *a) {
  return a->f == (double)a->i;
}

void ember_creation_range(const ember_call *c, ember_range *r) {
  const ember_attr *a = ember_creation_attr(c, "start"), *b = ember_creation_attr(c, "end"),
                   *s = ember_creation_attr(c, "step");
  ember_attr zero = { .present = 1 };
  if (!b->present) {             /* arange(end) */
    b = a;
    a = &zero;
  }
  r->start = a->f; r->end = b->f; r->step = s->f;
  r->istart = a->i; r->iend = b->i; r->istep = s->i;
  r->integral = ember_creation_is_integral(a) && ember_creation_is_integral(b) &&
                ember_creation_is_integral(s);
}

void ember_creation_int_bounds(const ember_call *c, int64_t *low, int64_t *high) {
  const ember_attr *l = ember_creation_attr(c, "low"), *h = ember_creation_attr(c, "high");
  if (h->present) {
    *low = l->i;
    *high = h->i;
  } else {                       /* randint_like(t, high) */
    *low = 0;
    *high = l->i;
  }
}

void ember_creation_fill_value(const ember_call *c, ember_dtype dt, void *elem) {
  const ember_attr *v = ember_creation_attr(c, "fill_value");
  if (ember_creation_is_integral(v) && !ember_dtype_is_float(dt)) ember_store_i64(dt, elem, v->i);
  else ember_store_f64(dt, elem, v->f);
}

float ember_creation_half_round(ember_dtype dt, float v) {
  return dt == EMBER_F16 ? ember_f16_to_f32(ember_f32_to_f16(v)) : ember_bf16_to_f32(ember_f32_to_bf16(v));
}

void ember_creation_linspace_half(ember_dtype dt, double a, double b, int64_t n, float *fa,
                                  float *fb, float *step) {
  *fa = ember_creation_half_round(dt, (float)a);
  *fb = ember_creation_half_round(dt, (float)b);
  *step = ember_creation_half_round(dt, ember_creation_half_round(dt, *fb - *fa) /
                                            ember_creation_half_round(dt, (float)(n - 1)));
}

/* }====== */

/* {====== constant fills */

/* memset, in 1 MiB pieces over the threads when large: one core cannot use all of
** the memory bandwidth a many-core machine has */
static void set_bytes(char *p, int byte, size_t nbytes) {
  const size_t piece = (size_t)1 << 20;
  if (nbytes <= 4 * piece || ember_parallel_threads() < 2) {
    memset(p, byte, nbytes);
    return;
  }
  int64_t npiece = (int64_t)((nbytes + piece - 1) / piece);
  #pragma omp parallel for
  for (int64_t k = 0; k < npiece; k++) {
    size_t at = (size_t)k * piece;
    memset(p + at, byte, nbytes - at < piece ? nbytes - at : piece);
  }
}

/* Elements [lo, hi) of a fill of 2-, 4- or 8-byte elements, each set to the bits v. */
typedef struct fill_ctx { char *p; size_t es; uint64_t v; } fill_ctx;

static void fill_range(void *ctx, int64_t lo, int64_t hi) {
  const fill_ctx *f = ctx;
  if (f->es == 2) {
    uint16_t v = (uint16_t)f->v, *d = (uint16_t *)f->p;
    #pragma omp simd
    for (int64_t i = lo; i < hi; i++) d[i] = v;
  } else if (f->es == 4) {
    uint32_t v = (uint32_t)f->v, *d = (uint32_t *)f->p;
    #pragma omp simd
    for (int64_t i = lo; i < hi; i++) d[i] = v;
  } else {
    uint64_t v = f->v, *d = (uint64_t *)f->p;
    #pragma omp simd
    for (int64_t i = lo; i < hi; i++) d[i] = v;
  }
}

/* Every element of the contiguous out set to the bytes of one element. */
static void fill_bytes(ember_tensor *out, const void *elem) {
  int64_t n = ember_tensor_numel(out);
  fill_ctx f = { ember_tensor_data(out), ember_dtype_size(out->dtype), 0 };
  if (f.es == 1) {
    set_bytes(f.p, *(const uint8_t *)elem, (size_t)n);
    return;
  }
  if (f.es == 2) {
    uint16_t v;
    memcpy(&v, elem, sizeof v);
    f.v = v;
  } else if (f.es == 4) {
    uint32_t v;
    memcpy(&v, elem, sizeof v);
    f.v = v;
  } else {
    memcpy(&f.v, elem, sizeof f.v);
  }
  ember_parallel_for(n, n, fill_range, &f);
}

ember_status ember_cpu_empty(ember_call *c) {
  (void)c;
  return EMBER_OK;
}

ember_status ember_cpu_zeros(ember_call *c) {
  /* zero is all-zero bits in every dtype */
  set_bytes(ember_tensor_data(c->out[0]), 0, ember_tensor_nbytes(c->out[0]));
  return EMBER_OK;
}

ember_status ember_cpu_ones(ember_call *c) {
  char one[8];
  ember_store_i64(c->out[0]->dtype, one, 1);
  fill_bytes(c->out[0], one);
  return EMBER_OK;
}

ember_status ember_cpu_full(ember_call *c) {
  char elem[8];
  ember_creation_fill_value(c, c->out[0]->dtype, elem);
  fill_bytes(c->out[0], elem);
  return EMBER_OK;
}

ember_status ember_cpu_eye(ember_call *c) {
  ember_tensor *out = c->out[0];
  int64_t rows = out->shape[0], cols = out->shape[1];
  size_t es = ember_dtype_size(out->dtype);
  char *p = ember_tensor_data(out), one[8];
  set_bytes(p, 0, ember_tensor_nbytes(out));
  ember_store_i64(out->dtype, one, 1);
  for (int64_t i = 0; i < rows && i < cols; i++) memcpy(p + (i * cols + i) * (int64_t)es, one, es);
  return EMBER_OK;
}

/* }====== */

/* {====== ranges */

/* An arange (r) or a linspace (a to b in n, the first half counted from a) being
** written to p: f32, f64, or an arange's i64 when the range is integral. */
typedef struct range_ctx {
  char *p;
  ember_dtype dt;
  ember_range r;
  double a, b;
  int64_t n, half;
} range_ctx;

/* Elements [lo, hi) of an arange. */
static void arange_range(void *ctx, int64_t lo, int64_t hi) {
  const range_ctx *x = ctx;
  const ember_range *r = &x->r;
  if (x->dt == EMBER_F32) {
    float *d = (float *)x->p;
    for (int64_t i = lo; i < hi; i++) d[i] = (float)(r->start + r->step * (double)i);
  } else if (x->dt == EMBER_F64) {
    double *d = (double *)x->p;
    for (int64_t i = lo; i < hi; i++) d[i] = r->start + r->step * (double)i;
  } else {
    int64_t *d = (int64_t *)x->p;
    uint64_t v = (uint64_t)r->istart + (uint64_t)r->istep * (uint64_t)lo, step = (uint64_t)r->istep;
    #pragma omp simd linear(v : step)
    for (int64_t i = lo; i < hi; i++) {   /* v = start + i * step, wrapping */
      d[i] = (int64_t)v;
      v += step;
    }
  }
}

/* Element i = start + i * step, computed in double as PyTorch's CPU kernel does for
** floats (its accumulation type), exactly in int64 when all three are integers
** (in uint64, which wraps where signed overflow would be undefined). */
ember_status ember_cpu_arange(ember_call *c) {
  ember_tensor *out = c->out[0];
  range_ctx x = { .p = ember_tensor_data(out), .dt = out->dtype };
  ember_creation_range(c, &x.r);
  const ember_range *r = &x.r;
  int64_t n = ember_tensor_numel(out);
  char *p = x.p;
  ember_dtype dt = out->dtype;
  size_t es = ember_dtype_size(dt);
  if (dt == EMBER_F32 || dt == EMBER_F64 || (dt == EMBER_I64 && r->integral)) {
    ember_parallel_for(n, n, arange_range, &x);
  } else if (r->integral && !ember_dtype_is_float(dt)) {
    for (int64_t i = 0; i < n; i++)
      ember_store_i64(dt, p + i * (int64_t)es, (int64_t)((uint64_t)r->istart + (uint64_t)r->istep * (uint64_t)i));
  } else {
    for (int64_t i = 0; i < n; i++) ember_store_f64(dt, p + i * (int64_t)es, r->start + r->step * (double)i);
  }
  return EMBER_OK;
}

/* Elements [lo, hi) of a linspace in f64 (step in double) or f32 (every operation in
** float, from the ends rounded to float). */
static void linspace_range(void *ctx, int64_t lo, int64_t hi) {
  const range_ctx *x = ctx;
  int64_t n = x->n, half = x->half;
  if (x->dt == EMBER_F64) {
    double a = x->a, b = x->b, step = (b - a) / (double)(n - 1), *d = (double *)x->p;
    for (int64_t i = lo; i < hi; i++) d[i] = i < half ? a + step * (double)i : b - step * (double)(n - 1 - i);
  } else {
    float fa = (float)x->a, fb = (float)x->b, step = (fb - fa) / (float)(n - 1), *d = (float *)x->p;
    for (int64_t i = lo; i < hi; i++) d[i] = i < half ? fa + step * (float)i : fb - step * (float)(n - 1 - i);
  }
}

/* PyTorch's symmetric form: the first half counts up from start, the second half
** down from end, so both ends are exact. f64 and f32 compute in their own type,
** f16/bf16 round every operation as PyTorch's half arithmetic does, integer
** dtypes take integral ends and a double step, then truncate. */
ember_status ember_cpu_linspace(ember_call *c) {
  ember_tensor *out = c->out[0];
  double a = ember_creation_attr(c, "start")->f, b = ember_creation_attr(c, "end")->f;
  int64_t n = ember_tensor_numel(out), half = n / 2;
  ember_dtype dt = out->dtype;
  char *p = ember_tensor_data(out);
  size_t es = ember_dtype_size(dt);
  if (n == 0) return EMBER_OK;
  if (n == 1) {
    ember_store_f64(dt, p, a);
    return EMBER_OK;
  }
  if (dt == EMBER_F64 || dt == EMBER_F32) {
    range_ctx x = { .p = p, .dt = dt, .a = a, .b = b, .n = n, .half = half };
    ember_parallel_for(n, n, linspace_range, &x);
  } else if (ember_dtype_is_float(dt)) {
    /* f16, bf16: PyTorch computes in the half type, each operation rounding to it */
    float fa, fb, step;
    ember_creation_linspace_half(dt, a, b, n, &fa, &fb, &step);
    for (int64_t i = 0; i < n; i++) {
      int64_t j = i < half ? i : n - 1 - i;          /* steps from the nearer end */
      float d = ember_creation_half_round(dt, step * ember_creation_half_round(dt, (float)j));
      ember_store_f64(dt, p + i * (int64_t)es, i < half ? fa + d : fb - d);   /* the last rounding */
    }
  } else {
    double ia = trunc(a), ib = trunc(b), step = (ib - ia) / (double)(n - 1);
    for (int64_t i = 0; i < n; i++)
      ember_store_f64(dt, p + i * (int64_t)es, i < half ? ia + step * (double)i
                                                        : ib - step * (double)(n - 1 - i));
  }
  return EMBER_OK;
}

/* }====== */

/* {====== random */

/* Philox blocks per batch: 256 draws, 1 KiB on the stack of each thread. */
#define CHUNK EMBER_PHILOX_BATCH

/* The walk every random kernel shares: elements [0, n) in batches of CHUNK blocks,
** each block giving `per_block` elements; fill(draws, i0, i1, ctx) writes elements
** [i0, i1) from the batch's draws (element i0 takes the first). Batches run on
** separate threads when the tensor is large. */
typedef void (*batch_fn)(const uint32_t *draws, int64_t i0, int64_t i1, void *ctx);

typedef struct batch_ctx {
  uint64_t key, first;
  int64_t n, per_batch;
  batch_fn fill;
  void *ctx;
} batch_ctx;

/* Batches [lo, hi) of CHUNK blocks. */
static void batch_range(void *ctx, int64_t lo, int64_t hi) {
  const batch_ctx *b = ctx;
  for (int64_t bt = lo; bt < hi; bt++) {
    uint32_t draws[4 * CHUNK];
    ember_philox4x32_batch(b->key, b->first + (uint64_t)(bt * CHUNK), draws);
    int64_t i0 = bt * b->per_batch, i1 = i0 + b->per_batch < b->n ? i0 + b->per_batch : b->n;
    b->fill(draws, i0, i1, b->ctx);
  }
}

/* cost: the work of one element, in elements of plain elementwise work */
static void random_batches(int64_t n, int per_block, uint64_t first, batch_fn fill, void *ctx,
                           int64_t cost) {
  batch_ctx b = { ember_rng_seed(), first, n, (int64_t)CHUNK * per_block, fill, ctx };
  ember_parallel_for((n + b.per_batch - 1) / b.per_batch, n * cost, batch_range, &b);
}

/* Uniform in [0, 1) with `bits` random bits: 24 for f32 (ember_u32_to_unit_f32), and
** exactly the precision of f16 (11) and bf16 (8), so that converting never rounds up
** to 1. */
static inline float unit_bits(uint32_t x, int bits) {
  return (float)(x >> (32 - bits)) * ldexpf(1.0f, -bits);
}

static void uniform_fill(const uint32_t *r, int64_t i0, int64_t i1, void *ctx) {
  ember_tensor *out = ctx;
  char *p = ember_tensor_data(out);
  switch (out->dtype) {
  case EMBER_F32: {
    float *d = (float *)p + i0;
    int m = (int)(i1 - i0);
    #pragma omp simd
    for (int k = 0; k < m; k++) d[k] = ember_u32_to_unit_f32(r[k]);
    break;
  }
  case EMBER_F64: {                      /* draws 2k and 2k + 1 */
    double *d = (double *)p;
    for (int64_t i = i0; i < i1; i++) d[i] = ember_u64_to_unit_f64(r[2 * (i - i0)], r[2 * (i - i0) + 1]);
    break;
  }
  case EMBER_F16: {
    uint16_t *d = (uint16_t *)p;
    for (int64_t i = i0; i < i1; i++) d[i] = ember_f32_to_f16(unit_bits(r[i - i0], 11));
    break;
  }
  default: {
    uint16_t *d = (uint16_t *)p;
    for (int64_t i = i0; i < i1; i++) d[i] = ember_f32_to_bf16(unit_bits(r[i - i0], 8));
    break;
  }
  }
}

ember_status ember_cpu_rand(ember_call *c) {
  ember_tensor *out = c->out[0];
  int64_t n = ember_tensor_numel(out);
  int per_block = out->dtype == EMBER_F64 ? 2 : 4;
  uint64_t first = ember_rng_reserve(n * (4 / per_block));
  random_batches(n, per_block, first, uniform_fill, out, 1);
  return EMBER_OK;
}

/* Box-Muller: uniforms u1 in (0, 1] (so the log is finite) and u2 in [0, 1) give
** two independent normals r cos(2 pi u2) and r sin(2 pi u2), r = sqrt(-2 log u1). */
static void normal_fill(const uint32_t *r, int64_t i0, int64_t i1, void *ctx) {
  ember_tensor *out = ctx;
  char *p = ember_tensor_data(out);
  ember_dtype dt = out->dtype;
  if (dt == EMBER_F64) {                 /* four draws (two f64 uniforms) per pair */
    double *d = (double *)p;
    for (int64_t i = i0; i < i1; i += 2) {
      const uint32_t *q = r + 2 * (i - i0);
      double u1 = 1.0 - ember_u64_to_unit_f64(q[0], q[1]), u2 = ember_u64_to_unit_f64(q[2], q[3]);
      double radius = sqrt(-2.0 * log(u1)), s, co;
      sincos(6.283185307179586477 * u2, &s, &co);
      d[i] = radius * co;
      if (i + 1 < i1) d[i + 1] = radius * s;
    }
    return;
  }
  for (int64_t i = i0; i < i1; i += 2) {  /* two draws per pair */
    const uint32_t *q = r + (i - i0);
    float u1 = 1.0f - ember_u32_to_unit_f32(q[0]), u2 = ember_u32_to_unit_f32(q[1]);
    float radius = sqrtf(-2.0f * logf(u1)), z[2];
    sincosf(6.2831853071795865f * u2, &z[1], &z[0]);   /* GNU libm: one reduction for both */
    for (int k = 0; k < 2 && i + k < i1; k++) {
      float v = radius * z[k];
      if (dt == EMBER_F32) ((float *)p)[i + k] = v;
      else if (dt == EMBER_F16) ((uint16_t *)p)[i + k] = ember_f32_to_f16(v);
      else ((uint16_t *)p)[i + k] = ember_f32_to_bf16(v);
    }
  }
}

ember_status ember_cpu_randn(ember_call *c) {
  ember_tensor *out = c->out[0];
  int64_t n = ember_tensor_numel(out);
  int per_block = out->dtype == EMBER_F64 ? 2 : 4;
  uint64_t first = ember_rng_reserve((n + (n & 1)) * (4 / per_block));
  random_batches(n, per_block, first, normal_fill, out, 4);
  return EMBER_OK;
}

/* low + a uniform integer below range: one draw scaled by multiply-shift when the
** range fits 32 bits (bias below range / 2^32), else two draws modulo the range. */
typedef struct { ember_tensor *out; int64_t low; uint64_t range; } randint_ctx;

static void randint_fill(const uint32_t *r, int64_t i0, int64_t i1, void *ctx) {
  const randint_ctx *rc = ctx;
  ember_dtype dt = rc->out->dtype;
  size_t es = ember_dtype_size(dt);
  char *p = ember_tensor_data(rc->out);
  int wide = rc->range > ((uint64_t)1 << 32);
  if (dt == EMBER_I64 && !wide) {        /* the common case, vectorised */
    int64_t *d = (int64_t *)p + i0, low = rc->low;
    uint64_t range = rc->range;
    int m = (int)(i1 - i0);
    #pragma omp simd
    for (int k = 0; k < m; k++) d[k] = (int64_t)((uint64_t)low + (((uint64_t)r[k] * range) >> 32));
    return;
  }
  for (int64_t i = i0; i < i1; i++) {
    int64_t k = i - i0;
    uint64_t x = wide ? (((uint64_t)r[2 * k] << 32) | r[2 * k + 1]) % rc->range
                      : ((uint64_t)r[k] * rc->range) >> 32;
    int64_t v = (int64_t)((uint64_t)rc->low + x);
    if (dt == EMBER_I64) ((int64_t *)p)[i] = v;
    else ember_store_i64(dt, p + i * (int64_t)es, v);
  }
}

ember_status ember_cpu_randint(ember_call *c) {
  int64_t low, high;
  ember_creation_int_bounds(c, &low, &high);
  randint_ctx rc = { c->out[0], low, (uint64_t)high - (uint64_t)low };
  int64_t n = ember_tensor_numel(rc.out);
  int per_block = rc.range > ((uint64_t)1 << 32) ? 2 : 4;
  uint64_t first = ember_rng_reserve(n * (4 / per_block));
  random_batches(n, per_block, first, randint_fill, &rc, 1);
  return EMBER_OK;
}

/* }====== */
