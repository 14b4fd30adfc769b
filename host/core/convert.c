/*
** convert.c — reading, writing and converting elements between dtypes, and the
** two whole-tensor writers built on them: copy_ (broadcasting, converting) and fill_.
** Float -> int truncates toward zero as C and PyTorch do; values outside the target
** range saturate and NaN becomes 0, so no conversion is undefined behaviour.
*/
#include <math.h>
#include <string.h>

#include "core.h"

static int64_t f64_to_i64(double v) {
  if (v != v) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)v;
}

double ember_load_f64(ember_dtype dt, const void *p) {
  switch (dt) {
  case EMBER_F32: return *(const float *)p;
  case EMBER_F64: return *(const double *)p;
  case EMBER_F16: return ember_f16_to_f32(*(const uint16_t *)p);
  case EMBER_BF16: return ember_bf16_to_f32(*(const uint16_t *)p);
  case EMBER_I8: return *(const int8_t *)p;
  case EMBER_I16: return *(const int16_t *)p;
  case EMBER_I32: return *(const int32_t *)p;
  case EMBER_I64: return (double)*(const int64_t *)p;
  case EMBER_U8: return *(const uint8_t *)p;
  case EMBER_BOOL: return *(const uint8_t *)p != 0;
  case EMBER_U16: return *(const uint16_t *)p;
  case EMBER_U32: return *(const uint32_t *)p;
  case EMBER_U64: return (double)*(const uint64_t *)p;
  case EMBER_C64: return *(const float *)p;    /* the real part, as torch's casts take */
  default:
    /* a packed dtype's element at p is the one at bit 0 (see ember_subbyte_get) */
    if (ember_dtype_is_subbyte(dt)) return ember_minifloat_decode(dt, ember_subbyte_get(dt, p, 0));
    return ember_minifloat_decode(dt, *(const uint8_t *)p);
  }
}

int64_t ember_load_i64(ember_dtype dt, const void *p) {
  switch (dt) {
  case EMBER_I8: return *(const int8_t *)p;
  case EMBER_I16: return *(const int16_t *)p;
  case EMBER_I32: return *(const int32_t *)p;
  case EMBER_I64: return *(const int64_t *)p;
  case EMBER_U8: return *(const uint8_t *)p;
  case EMBER_BOOL: return *(const uint8_t *)p != 0;
  case EMBER_U16: return *(const uint16_t *)p;
  case EMBER_U32: return *(const uint32_t *)p;
  case EMBER_U64: return (int64_t)*(const uint64_t *)p;   /* wraps above 2^63, as torch */
  default: return f64_to_i64(ember_load_f64(dt, p));
  }
}

void ember_store_i64(ember_dtype dt, void *p, int64_t v) {
  switch (dt) {
  /* narrowing wraps modulo 2^n, as PyTorch's integer casts do */
  case EMBER_I8: *(int8_t *)p = (int8_t)(uint8_t)v; break;
  case EMBER_I16: *(int16_t *)p = (int16_t)(uint16_t)v; break;
  case EMBER_I32: *(int32_t *)p = (int32_t)(uint32_t)v; break;
  case EMBER_I64: *(int64_t *)p = v; break;
  case EMBER_U8: *(uint8_t *)p = (uint8_t)v; break;
  case EMBER_BOOL: *(uint8_t *)p = v != 0; break;
  case EMBER_U16: *(uint16_t *)p = (uint16_t)v; break;
  case EMBER_U32: *(uint32_t *)p = (uint32_t)v; break;
  case EMBER_U64: *(uint64_t *)p = (uint64_t)v; break;
  default: ember_store_f64(dt, p, dt == EMBER_F64 ? (double)v : (double)(float)v); break; /* one rounding */
  }
}

void ember_store_f64(ember_dtype dt, void *p, double v) {
  switch (dt) {
  case EMBER_F32: *(float *)p = (float)v; break;
  case EMBER_F64: *(double *)p = v; break;
  case EMBER_F16: *(uint16_t *)p = ember_f32_to_f16((float)v); break;
  case EMBER_BF16: *(uint16_t *)p = ember_f32_to_bf16((float)v); break;
  case EMBER_BOOL: *(uint8_t *)p = v != 0; break;
  case EMBER_C64: ((float *)p)[0] = (float)v; ((float *)p)[1] = 0; break;
  case EMBER_U64:
    *(uint64_t *)p = v != v || v <= 0 ? 0 : v >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)v;
    break;
  default:
    if (ember_dtype_is_subbyte(dt)) {
      ember_subbyte_set(dt, p, 0, ember_minifloat_encode(dt, (float)v));
      break;
    }
    if (dt >= EMBER_F8_E4M3) {
      *(uint8_t *)p = (uint8_t)ember_minifloat_encode(dt, (float)v);
      break;
    }
    ember_store_i64(dt, p, f64_to_i64(v));
    break;
  }
}

static int exact_int(ember_dtype dt) {
  return ember_dtype_is_int(dt) || dt == EMBER_BOOL;
}

void ember_convert(ember_dtype to, void *dst, ember_dtype from, const void *src, int64_t n) {
  size_t fs = ember_dtype_size(from), ts = ember_dtype_size(to);
  if (to == from) {
    memcpy(dst, src, (size_t)n * fs);
    return;
  }
  /* the pairs that training and I/O hit constantly get their own loops */
  if (from == EMBER_F32 && to == EMBER_F64) {
    const float *s = src; double *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
    return;
  }
  if (from == EMBER_F64 && to == EMBER_F32) {
    const double *s = src; float *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
    return;
  }
  if (from == EMBER_F16 && to == EMBER_F32) {
    const uint16_t *s = src; float *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ember_f16_to_f32(s[i]);
    return;
  }
  if (from == EMBER_F32 && to == EMBER_F16) {
    const float *s = src; uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ember_f32_to_f16(s[i]);
    return;
  }
  if (from == EMBER_BF16 && to == EMBER_F32) {
    const uint16_t *s = src; float *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ember_bf16_to_f32(s[i]);
    return;
  }
  if (from == EMBER_F32 && to == EMBER_BF16) {
    const float *s = src; uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = ember_f32_to_bf16(s[i]);
    return;
  }
  const char *s = src;
  char *d = dst;
  if (exact_int(from) && exact_int(to)) {
    for (int64_t i = 0; i < n; i++) ember_store_i64(to, d + i * ts, ember_load_i64(from, s + i * fs));
  } else if (from == EMBER_I64) {
    for (int64_t i = 0; i < n; i++) ember_store_i64(to, d + i * ts, ((const int64_t *)src)[i]);
  } else {
    for (int64_t i = 0; i < n; i++) ember_store_f64(to, d + i * ts, ember_load_f64(from, s + i * fs));
  }
}

typedef struct { ember_dtype to, from; } convert_ctx;

static void convert_loop(char **data, const int64_t *strides, int64_t n, void *ctx) {
  convert_ctx *c = ctx;
  size_t ts = ember_dtype_size(c->to), fs = ember_dtype_size(c->from);
  if (strides[0] == (int64_t)ts && strides[1] == (int64_t)fs) {
    ember_convert(c->to, data[0], c->from, data[1], n);
    return;
  }
  if (strides[1] == 0) {                 /* broadcast one value along the run */
    char one[8];
    ember_convert(c->to, one, c->from, data[1], 1);
    for (int64_t i = 0; i < n; i++) memcpy(data[0] + i * strides[0], one, ts);
    return;
  }
  if (c->to == c->from) {                /* strided move: no conversion per element */
    switch (ts) {
    case 4:
      for (int64_t i = 0; i < n; i++)
        *(uint32_t *)(data[0] + i * strides[0]) = *(const uint32_t *)(data[1] + i * strides[1]);
      return;
    case 8:
      for (int64_t i = 0; i < n; i++)
        *(uint64_t *)(data[0] + i * strides[0]) = *(const uint64_t *)(data[1] + i * strides[1]);
      return;
    default:
      for (int64_t i = 0; i < n; i++) memcpy(data[0] + i * strides[0], data[1] + i * strides[1], ts);
      return;
    }
  }
  for (int64_t i = 0; i < n; i++)
    ember_convert(c->to, data[0] + i * strides[0], c->from, data[1] + i * strides[1], 1);
}

/* src must broadcast to dst's shape exactly */
static ember_status check_broadcast(const ember_tensor *dst, const ember_tensor *src) {
  int nd;
  int64_t shape[EMBER_MAX_DIMS];
  if (ember_broadcast_shapes("copy_", dst->ndim, dst->shape, src->ndim, src->shape, &nd,
                             shape) != EMBER_OK)
    return EMBER_ERROR;
  if (nd != dst->ndim || memcmp(shape, dst->shape, nd * sizeof *shape) != 0) {
    char a[64], b[64];
    return ember_error("copy_: source of shape %s cannot be broadcast to destination %s",
                       ember_shape_str(src, a, sizeof a), ember_shape_str(dst, b, sizeof b));
  }
  return EMBER_OK;
}

ember_status ember_copy_(ember_tensor *dst, const ember_tensor *src) {
  ember_device dev = dst->storage->device != EMBER_CPU ? dst->storage->device : src->storage->device;
  if (dev != EMBER_CPU) {
    const ember_backend *b = ember_backend_of(dev);
    if (b == NULL || check_broadcast(dst, src) != EMBER_OK) return EMBER_ERROR;
    if (b->copy(dst, src) != EMBER_OK) return EMBER_ERROR;
    dst->storage->version++;
    return EMBER_OK;
  }
  if (ember_dtype_is_subbyte(src->dtype)) {
    ember_tensor *tmp = ember_to_dtype((ember_tensor *)src, EMBER_F32);
    if (tmp == NULL) return EMBER_ERROR;
    ember_status st = ember_copy_(dst, tmp);
    ember_tensor_release(tmp);
    return st;
  }
  if (ember_dtype_is_subbyte(dst->dtype)) {
    ember_tensor *tmp = ember_tensor_empty(EMBER_F32, dst->ndim, dst->shape);
    if (tmp == NULL) return EMBER_ERROR;
    ember_status st = ember_copy_(tmp, src);
    if (st == EMBER_OK) {
      const float *f = ember_tensor_data(tmp);
      int64_t n = ember_tensor_numel(dst);
      for (int64_t i = 0; i < n; i++)
        ember_subbyte_set(dst->dtype, ember_tensor_data(dst), i, ember_minifloat_encode(dst->dtype, f[i]));
    }
    ember_tensor_release(tmp);
    return st;
  }
  if (check_broadcast(dst, src) != EMBER_OK) return EMBER_ERROR;
  convert_ctx c = { dst->dtype, src->dtype };
  ember_iter_run(dst, 1, &src, convert_loop, &c);
  dst->storage->version++;
  return EMBER_OK;
}

ember_status ember_fill_(ember_tensor *dst, double v) {
  ember_tensor *s = ember_tensor_scalar(EMBER_F64, v);
  if (s == NULL) return EMBER_ERROR;
  ember_status st = ember_copy_(dst, s);
  ember_tensor_release(s);
  return st;
}

/* Packed sub-byte tensors are always contiguous; they convert through f32. */
static ember_tensor *subbyte_convert(ember_tensor *t, ember_dtype dt) {
  ember_tensor *out = ember_tensor_empty(dt, t->ndim, t->shape);
  if (out == NULL) return NULL;
  int64_t n = ember_tensor_numel(t);
  if (ember_dtype_is_subbyte(t->dtype)) {
    const uint8_t *src = ember_tensor_data(t);
    float *f = dt == EMBER_F32 ? ember_tensor_data(out) : NULL;
    for (int64_t i = 0; i < n; i++) {
      float v = ember_minifloat_decode(t->dtype, ember_subbyte_get(t->dtype, src, i));
      if (f) f[i] = v;
      else if (ember_dtype_is_subbyte(dt))
        ember_subbyte_set(dt, ember_tensor_data(out), i, ember_minifloat_encode(dt, v));
      else ember_store_f64(dt, (char *)ember_tensor_data(out) + i * ember_dtype_size(dt), v);
    }
    return out;
  }
  ember_tensor *f = ember_to_dtype(t, EMBER_F32);
  ember_tensor *fc = f ? ember_contiguous(f) : NULL;
  if (f) ember_tensor_release(f);
  if (fc == NULL) {
    ember_tensor_release(out);
    return NULL;
  }
  const float *src = ember_tensor_data(fc);
  uint8_t *dst = ember_tensor_data(out);
  for (int64_t i = 0; i < n; i++) ember_subbyte_set(dt, dst, i, ember_minifloat_encode(dt, src[i]));
  ember_tensor_release(fc);
  return out;
}

ember_tensor *ember_to_dtype(ember_tensor *t, ember_dtype dt) {
  if (t->dtype == dt) {
    ember_tensor_retain(t);
    return t;
  }
  if (ember_dtype_is_subbyte(t->dtype) || ember_dtype_is_subbyte(dt)) {
    if (t->storage->device != EMBER_CPU) {
      ember_error("to: %s tensors are packed and stay on the cpu; move the tensor there first",
                  ember_dtype_name(dt));
      return NULL;
    }
    return subbyte_convert(t, dt);
  }
  ember_tensor *out = ember_tensor_empty_like(t, dt);
  if (out && ember_copy_(out, t) != EMBER_OK) {
    ember_tensor_release(out);
    return NULL;
  }
  return out;
}

ember_tensor *ember_clone(ember_tensor *t) {
  if (ember_dtype_is_subbyte(t->dtype)) {   /* packed: always contiguous, copy the bytes */
    ember_tensor *c = ember_tensor_empty(t->dtype, t->ndim, t->shape);
    if (c) memcpy(ember_tensor_data(c), ember_tensor_data(t), ember_tensor_nbytes(t));
    return c;
  }
  ember_tensor *out = ember_tensor_empty_like(t, t->dtype);
  if (out && ember_copy_(out, t) != EMBER_OK) {
    ember_tensor_release(out);
    return NULL;
  }
  return out;
}

ember_tensor *ember_contiguous(ember_tensor *t) {
  if (ember_tensor_is_contiguous(t)) {
    ember_tensor_retain(t);
    return t;
  }
  return ember_clone(t);
}
