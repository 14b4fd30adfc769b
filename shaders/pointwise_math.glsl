// pointwise_math.glsl — the float math of the elementwise ops, one function of the op
// code (pointwise_ops.h): pw_float_op. pointwise.comp runs it for one op, the GEMM's
// epilogue (matmul.comp, matmul_coopmat*.comp) and conv_fwd.comp for the activation
// of export's fused_linear and fused_conv2d, and fused_pointwise.comp for each step of
// its program, so a fused kernel computes what the eager op would. The math mirrors
// host/cpu/elementwise*.c: NaN rules, floor division from fmod, remainder with the
// divisor's sign.
//
// The includer has included common.glsl and, in an f64 variant (HAS_F64), defined
// F64_VALUES: whether the values are f64, so that the transcendental functions take
// math64.glsl's double forms (GLSL has no double exp/log/sin/cos/tanh/pow).
#include "pointwise_ops.h"
#ifdef HAS_F64
#include "math64.glsl"
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

// }======

// One op on float values: x, y, z its operands (unused ones are ignored), p0 and p1
// its parameters (add's and sub's alpha, softplus's beta and threshold), flags
// clamp's bounds (1: lower present, 2: upper present).
WIDE pw_float_op(int op, WIDE x, WIDE y, WIDE z, WIDE p0, WIDE p1, int flags) {
  switch (op) {
  case PW_ADD: return x + p0 * y;
  case PW_SUB: return x - p0 * y;
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
    if ((flags & 1) != 0) r = max_w(r, y);
    if ((flags & 2) != 0) r = min_w(r, z);
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
  case PW_SQUARE: return x * x;
  case PW_RECIPROCAL: return WIDE(1) / x;
  case PW_SIN: return sin_w(x);
  case PW_COS: return cos_w(x);
  case PW_TANH: return tanh_w(x);
  case PW_SIGMOID: return sigmoid_w(x);
  case PW_SILU: return x / (WIDE(1) + exp_w(-x));
  case PW_GELU: return WIDE(0.5) * x * erfc_w(-x * WIDE(SQRT1_2_W));
  case PW_GELU_TANH: return WIDE(0.5) * x * (WIDE(1) + tanh_w(WIDE(GELU_K_W) * (x + WIDE(GELU_C_W) * x * x * x)));
  case PW_SOFTPLUS: {
    WIDE beta = p0, z2 = x * beta;
    return z2 > p1 ? x : log1p_w(exp_w(z2)) / beta;
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
    WIDE z2 = y * p0;
    return z2 > p1 ? x : x / (WIDE(1) + exp_w(-z2));
  }
  }
  return x;
}
