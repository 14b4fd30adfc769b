// variants: x16 f64
// pointwise.comp — one elementwise op (OP, pointwise_ops.h) over up to three inputs
// a, b, c and the output o, each with its own offset and strides over the merged
// shape (a broadcast input has stride 0). Float ops compute in WIDE (float, or double
// in the f64 variant, which the host picks for f64 calls); integer and bool ops in
// int64. The math mirrors host/cpu/elementwise*.c: NaN rules, floor division from
// fmod, remainder with the divisor's sign, halves to even.
//
// GLSL has no double exp/log/sin/cos/tanh/pow: the f64 variant takes them from
// math64.glsl, so f64 tensors keep f64 precision.
#version 450
#include "common.glsl"
#include "pointwise_ops.h"
#ifdef HAS_F64
#include "math64.glsl"
#endif

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
#else
#define F64_VALUES false
#define exp64(x) (x)
#define log64(x) (x)
#define log1p64(x) (x)
#define expm1_64(x) (x)
#define sin64(x) (x)
#define cos64(x) (x)
#define tanh64(x) (x)
#define erfc64(x) (x)
#define pow64(x, y) (x)
#endif

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

// {====== float helpers

float log1p_f(float x) {            // exact near 0: log(u) * x / (u - 1), u = 1 + x
  float u = 1.0 + x;
  if (u == 1.0) return x;
  if (isinf(u)) return log(u);
  return log(u) * x / (u - 1.0);
}

float expm1_f(float x) {
  if (abs(x) < 1e-5) return x + 0.5 * x * x;
  float u = exp(x);
  if (isinf(u)) return u;
  if (u == 1.0) return x;
  float um1 = u - 1.0;
  if (um1 == -1.0) return -1.0;
  return um1 * x / log(u);
}

// erfc with relative error below 1.2e-7 everywhere (a Chebyshev fit), so gelu's
// negative tail keeps its precision as the host's erfcf does
float erfc_f(float x) {
  float z = abs(x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0.0 ? r : 2.0 - r;
}

float tanh_f(float x) {            // GLSL's tanh may overflow through exp for large |x|
  if (abs(x) > 15.0) return sign(x);
  return tanh(x);
}

WIDE fmod_w(WIDE a, WIDE b) {       // C's fmod: a - trunc(a/b)*b, the sign of a
  if (isinf(b) && !isinf(a)) return a;
  WIDE ab = abs(b);
  WIDE m = a - trunc(a / b) * b;
  if (a > WIDE(0) && m < WIDE(0)) m += ab;       // a/b rounded up past a whole number
  if (a < WIDE(0) && m > WIDE(0)) m -= ab;
  if (abs(m) >= ab) m -= sign(m) * ab;
  return m == WIDE(0) ? a * WIDE(0) : m;
}

WIDE pow_w(WIDE x, WIDE y) {
  if (y == WIDE(0)) return WIDE(1);
  if (x == WIDE(1)) return WIDE(1);
  if (isnan(x) || isnan(y)) return x + y;
  WIDE ax = abs(x);
  bool yint = floor(y) == y && !isinf(y);
  bool yodd = yint && abs(fmod_w(y, WIDE(2))) == WIDE(1);
  if (x == WIDE(0)) {
    if (y > WIDE(0)) return yodd ? x : WIDE(0);
    return yodd ? WIDE(1) / x : WIDE(1) / WIDE(0);
  }
  if (isinf(y)) {
    if (ax == WIDE(1)) return WIDE(1);
    return (ax > WIDE(1)) == (y > WIDE(0)) ? WIDE(1) / WIDE(0) : WIDE(0);
  }
  if (x < WIDE(0) && !yint) return WIDE(0) / WIDE(0);
  WIDE r;
  if (yint && abs(y) <= WIDE(64)) {     // exact repeated squaring for small integer powers
    WIDE base = ax, acc = WIDE(1);
    int n = int(abs(y));
    for (; n > 0; n >>= 1) {
      if ((n & 1) != 0) acc *= base;
      base *= base;
    }
    r = y < WIDE(0) ? WIDE(1) / acc : acc;
  } else {
    r = F64_VALUES ? pow64(ax, y) : WIDE(pow(float(ax), float(y)));
  }
  return x < WIDE(0) && yodd ? -r : r;
}

// The transcendental functions at WIDE precision: math64.glsl's for f64 values,
// float's otherwise.
WIDE exp_w(WIDE x) { return F64_VALUES ? exp64(x) : WIDE(exp(float(x))); }
WIDE log_w(WIDE x) { return F64_VALUES ? log64(x) : WIDE(log(float(x))); }
WIDE log1p_w(WIDE x) { return F64_VALUES ? log1p64(x) : WIDE(log1p_f(float(x))); }
WIDE expm1_w(WIDE x) { return F64_VALUES ? expm1_64(x) : WIDE(expm1_f(float(x))); }
WIDE sin_w(WIDE x) { return F64_VALUES ? sin64(x) : WIDE(sin(float(x))); }
WIDE cos_w(WIDE x) { return F64_VALUES ? cos64(x) : WIDE(cos(float(x))); }
WIDE tanh_w(WIDE x) { return F64_VALUES ? tanh64(x) : WIDE(tanh_f(float(x))); }
WIDE erfc_w(WIDE x) { return F64_VALUES ? erfc64(x) : WIDE(erfc_f(float(x))); }

WIDE max_w(WIDE a, WIDE b) { return isnan(a) ? a : isnan(b) ? b : a < b ? b : a; }
WIDE min_w(WIDE a, WIDE b) { return isnan(a) ? a : isnan(b) ? b : b < a ? b : a; }

WIDE floor_div_w(WIDE a, WIDE b) {
  if (b == WIDE(0)) return a / b;
  WIDE m = fmod_w(a, b);
  WIDE q = (a - m) / b;
  if (m != WIDE(0) && (b < WIDE(0)) != (m < WIDE(0))) q -= WIDE(1);
  if (q == WIDE(0)) return (a < WIDE(0)) != (b < WIDE(0)) ? -WIDE(0) : WIDE(0);
  WIDE f = floor(q);
  return q - f > WIDE(0.5) ? f + WIDE(1) : f;
}

WIDE sigmoid_w(WIDE x) { return WIDE(1) / (WIDE(1) + exp_w(-x)); }

#ifdef HAS_F64
#define GELU_K_W 0.7978845608028654lf
#define INV_SQRT_2PI_W 0.3989422804014327lf
#define SQRT1_2_W 0.7071067811865476lf
#define GELU_C_W 0.044715lf
#else
#define GELU_K_W 0.7978845608028654
#define INV_SQRT_2PI_W 0.3989422804014327
#define SQRT1_2_W 0.7071067811865476
#define GELU_C_W 0.044715
#endif

WIDE float_op(WIDE x, WIDE y, WIDE z) {
  float fx = float(x);
  switch (OP) {
  case PW_ADD: return x + param(0) * y;
  case PW_SUB: return x - param(0) * y;
  case PW_MUL: return x * y;
  case PW_DIV: return x / y;
  case PW_DIV_TRUNC: return trunc(x / y);
  case PW_DIV_FLOOR: return floor_div_w(x, y);
  case PW_REMAINDER: {
    WIDE m = fmod_w(x, y);
    return m != WIDE(0) && (y < WIDE(0)) != (m < WIDE(0)) ? m + y : m;
  }
  case PW_POW: return pow_w(x, y);
  case PW_MAXIMUM: return max_w(x, y);
  case PW_MINIMUM: return min_w(x, y);
  case PW_CLAMP: {
    WIDE r = x;
    if ((p.flags & 1) != 0) r = max_w(r, y);
    if ((p.flags & 2) != 0) r = min_w(r, z);
    return r;
  }
  case PW_NEG: return -x;
  case PW_ABS: return abs(x);
  case PW_SIGN: return x > WIDE(0) ? WIDE(1) : x < WIDE(0) ? WIDE(-1) : WIDE(0);
  case PW_RELU: return x < WIDE(0) ? WIDE(0) : x;
  case PW_FLOOR: return floor(x);
  case PW_CEIL: return ceil(x);
  case PW_ROUND: return roundEven(x);
  case PW_TRUNC: return trunc(x);
  case PW_SQRT: return sqrt(x);
  case PW_RSQRT: return WIDE(1) / sqrt(x);
  case PW_EXP: return exp_w(x);
  case PW_LOG: return log_w(x);
  case PW_LOG1P: return log1p_w(x);
  case PW_EXPM1: return expm1_w(x);
  case PW_SIN: return sin_w(x);
  case PW_COS: return cos_w(x);
  case PW_TANH: return tanh_w(x);
  case PW_SIGMOID: return sigmoid_w(x);
  case PW_SILU: return x / (WIDE(1) + exp_w(-x));
  case PW_GELU: return WIDE(0.5) * x * erfc_w(-x * WIDE(SQRT1_2_W));
  case PW_GELU_TANH: return WIDE(0.5) * x * (WIDE(1) + tanh_w(WIDE(GELU_K_W) * (x + WIDE(GELU_C_W) * x * x * x)));
  case PW_SOFTPLUS: {
    WIDE beta = param(0), z2 = x * beta;
    return z2 > param(1) ? x : log1p_w(exp_w(z2)) / beta;
  }
  // backward pairs: x is g, y is the saved value
  case PW_RELU_BW: return y <= WIDE(0) ? WIDE(0) : x;
  case PW_TANH_BW: return x * (WIDE(1) - y * y);
  case PW_SIGMOID_BW: return x * (WIDE(1) - y) * y;
  case PW_SILU_BW: {
    WIDE s = sigmoid_w(y);
    return x * s * (WIDE(1) + y * (WIDE(1) - s));
  }
  case PW_GELU_BW: {
    WIDE cdf = WIDE(0.5) * erfc_w(-y * WIDE(SQRT1_2_W));
    WIDE pdf = WIDE(INV_SQRT_2PI_W) * exp_w(WIDE(-0.5) * y * y);
    return x * (cdf + y * pdf);
  }
  case PW_GELU_TANH_BW: {
    WIDE k = WIDE(GELU_K_W), y2 = y * y;
    WIDE t = tanh_w(k * (y + WIDE(GELU_C_W) * y2 * y));
    WIDE dinner = k * (WIDE(1) + (WIDE(3) * WIDE(GELU_C_W)) * y2);
    return x * (WIDE(0.5) * (WIDE(1) + t) + WIDE(0.5) * y * (WIDE(1) - t * t) * dinner);
  }
  case PW_SOFTPLUS_BW: {
    WIDE z2 = y * param(0);
    return z2 > param(1) ? x : x / (WIDE(1) + exp_w(-z2));
  }
  }
  return x;
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
