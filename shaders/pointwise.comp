// variants: x16 f64
// pointwise.comp — one elementwise op (OP, pointwise_ops.h) over up to three inputs
// a, b, c and the output o, each with its own offset and strides over the merged
// shape (a broadcast input has stride 0). Float ops compute in WIDE (float, or double
// in the f64 variant, which the host picks for f64 calls); integer and bool ops in
// int64. The math mirrors host/cpu/elementwise*.c: NaN rules, floor division from
// fmod, remainder with the divisor's sign, halves to even.
//
// The float math is pointwise_math.glsl's (shared with the fused kernels); GLSL has no
// double exp/log/sin/cos/tanh/pow: the f64 variant takes them from math64.glsl, so
// f64 tensors keep f64 precision.
#version 450
#include "common.glsl"
#include "pointwise_ops.h"

layout(constant_id = 3) const int OP = 0;
layout(constant_id = 4) const int DT_O = 0;
layout(constant_id = 5) const int DT_A = 0;
layout(constant_id = 6) const int DT_B = 0;
layout(constant_id = 7) const int DT_C = 0;

VIEWS(0, o)
VIEWS(1, a)
VIEWS(2, b)
VIEWS(3, c)
ACCESSORS(o, DT_O)
ACCESSORS(a, DT_A)
ACCESSORS(b, DT_B)
ACCESSORS(c, DT_C)

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int nin;
  int flags;            // clamp: 1 lower bound present, 2 upper bound present;
                        // bits 8..10: inputs a, b, c are numbers held in off[k], st[4k]
  int shape[4];
  int off[4];           // o, a, b, c
  int st[16];           // strides: [tensor * 4 + dim]
  uint sc[4];           // parameters (see vk_pointwise.c)
} p;

// the value inputs' dtype decides float or integer math
const int DT_V = OP == PW_WHERE ? DT_B : DT_A;
const bool FLOAT_MATH = DT_V <= DT_BF16;

#ifdef HAS_F64
#define F64_VALUES (DT_V == DT_F64)
#endif
#include "pointwise_math.glsl"

WIDE param(int k) {
#ifdef HAS_F64
  if (DT_V == DT_F64) return packDouble2x32(uvec2(p.sc[2 * k], p.sc[2 * k + 1]));
#endif
  return WIDE(uintBitsToFloat(p.sc[k]));
}

int64_t iparam() { return int64_t(uint64_t(p.sc[0]) | (uint64_t(p.sc[1]) << 32)); }

// A number given in the push constants instead of a buffer (the host puts its bits in
// the offset and first stride of input k, which it does not need): no upload, no barrier.
bool is_number(int k) { return (p.flags & (1 << (7 + k))) != 0; }

int64_t number_i(int k) { return int64_t(uint64_t(uint(p.off[k])) | (uint64_t(uint(p.st[4 * k])) << 32)); }

WIDE number_f(int k, int dt) {
#ifdef HAS_F64
  if (dt == DT_F64) return packDouble2x32(uvec2(uint(p.off[k]), uint(p.st[4 * k])));
#endif
  if (dt == DT_F32) return WIDE(uintBitsToFloat(uint(p.off[k])));
  return WIDE(number_i(k));
}

#define LOADF(N, K, DT, I) (is_number(K) ? number_f(K, DT) : N##_load_fl(I))
#define LOADI(N, K, I) (is_number(K) ? number_i(K) : N##_load_in(I))

WIDE float_op(WIDE x, WIDE y, WIDE z) {
  return pw_float_op(OP, x, y, z, param(0), param(1), p.flags);
}

// integer math (i64; bool and u8 logic arrive as 0/1 or bytes)
int64_t int_op(int64_t x, int64_t y, int64_t z) {
  switch (OP) {
  case PW_ADD: return x + iparam() * y;
  case PW_SUB: return x - iparam() * y;
  case PW_MUL: return x * y;
  case PW_DIV_TRUNC:
    if (y == 0l) return 0l;
    return y == -1l ? -x : x / y;
  case PW_DIV_FLOOR: {
    if (y == 0l) return 0l;
    if (y == -1l) return -x;
    int64_t q = x / y, r = x - q * y;
    return r != 0l && (r < 0l) != (y < 0l) ? q - 1l : q;
  }
  case PW_REMAINDER: {
    if (y == 0l || y == -1l) return 0l;
    int64_t m = x - (x / y) * y;
    return m != 0l && (y < 0l) != (m < 0l) ? m + y : m;
  }
  case PW_POW: {
    if (y < 0l) return x == 1l ? 1l : x == -1l ? (((y & 1l) != 0l) ? -1l : 1l) : 0l;
    uint64_t r = 1ul, b = uint64_t(x);
    for (int64_t e = y; e != 0l; e >>= 1) {
      if ((e & 1l) != 0l) r *= b;
      b *= b;
    }
    return int64_t(r);
  }
  case PW_MAXIMUM: return x < y ? y : x;
  case PW_MINIMUM: return y < x ? y : x;
  case PW_CLAMP: {
    int64_t r = x;
    if ((p.flags & 1) != 0) r = r < y ? y : r;
    if ((p.flags & 2) != 0) r = z < r ? z : r;
    return r;
  }
  case PW_NEG: return -x;
  case PW_ABS: return x < 0l ? -x : x;
  case PW_SIGN: return x > 0l ? 1l : x < 0l ? -1l : 0l;
  case PW_RELU: return x < 0l ? 0l : x;
  case PW_FLOOR: case PW_CEIL: case PW_ROUND: case PW_TRUNC: return x;
  }
  return x;
}

bool float_test(WIDE x, WIDE y) {
  switch (OP) {
  case PW_EQ: return x == y;
  case PW_NE: return x != y;
  case PW_LT: return x < y;
  case PW_LE: return x <= y;
  case PW_GT: return x > y;
  case PW_GE: return x >= y;
  case PW_AND: return x != WIDE(0) && y != WIDE(0);
  case PW_OR: return x != WIDE(0) || y != WIDE(0);
  case PW_XOR: return (x != WIDE(0)) != (y != WIDE(0));
  case PW_NOT: return x == WIDE(0);
  case PW_ISNAN: return isnan(x);
  case PW_ISINF: return isinf(x);
  }
  return false;
}

bool int_test(int64_t x, int64_t y) {
  switch (OP) {
  case PW_EQ: return x == y;
  case PW_NE: return x != y;
  case PW_LT: return x < y;
  case PW_LE: return x <= y;
  case PW_GT: return x > y;
  case PW_GE: return x >= y;
  case PW_AND: return x != 0l && y != 0l;
  case PW_OR: return x != 0l || y != 0l;
  case PW_XOR: return (x != 0l) != (y != 0l);
  case PW_NOT: return x == 0l;
  }
  return false;
}

const bool IS_TEST = (OP >= PW_EQ && OP <= PW_XOR) || OP == PW_NOT || OP == PW_ISNAN || OP == PW_ISINF;

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  int o0 = p.off[0], o1 = p.off[1], o2 = p.off[2], o3 = p.off[3];
  uint r = i;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    int q = int(r % n);
    r /= n;
    o0 += q * p.st[k];
    o1 += q * p.st[4 + k];
    o2 += q * p.st[8 + k];
    o3 += q * p.st[12 + k];
  }
  uint io = uint(o0), ia = uint(o1), ib = uint(o2), ic = uint(o3);
  if (OP == PW_WHERE) {
    bool cond = LOADI(a, 1, ia) != 0l;
    if (FLOAT_MATH) o_store_f(io, cond ? LOADF(b, 2, DT_B, ib) : LOADF(c, 3, DT_C, ic));
    else o_store_i(io, cond ? LOADI(b, 2, ib) : LOADI(c, 3, ic));
    return;
  }
  bool has_b = p.nin > 1, has_c = p.nin > 2;
  if (IS_TEST) {
    bool t;
    if (FLOAT_MATH) t = float_test(LOADF(a, 1, DT_A, ia), has_b ? LOADF(b, 2, DT_B, ib) : WIDE(0));
    else t = int_test(LOADI(a, 1, ia), has_b ? LOADI(b, 2, ib) : 0l);
    o_store_i(io, t ? 1l : 0l);
    return;
  }
  if (FLOAT_MATH) {
    WIDE x = LOADF(a, 1, DT_A, ia);
    WIDE y = has_b ? LOADF(b, 2, DT_B, ib) : WIDE(0);
    WIDE z = has_c ? LOADF(c, 3, DT_C, ic) : WIDE(0);
    o_store_f(io, float_op(x, y, z));
  } else {
    int64_t x = LOADI(a, 1, ia);
    int64_t y = has_b ? LOADI(b, 2, ib) : 0l;
    int64_t z = has_c ? LOADI(c, 3, ic) : 0l;
    o_store_i(io, int_op(x, y, z));
  }
}
