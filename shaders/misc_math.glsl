// misc_math.glsl — the transcendental functions the misc family (random.comp,
// loss.comp) needs to agree with the host's libm to rounding: log and sin/cos for
// Box-Muller's normals, exp and log for cross-entropy's log-sum-exp.
//
// GLSL's own exp/log/sin/cos are allowed errors of 2^-21 absolute or several ulps
// (and 2^-11 for sin/cos), and have no double forms at all. The float ones here are
// fdlibm's and Cephes' algorithms, good to about one ulp; the double ones (with
// HAS_F64) are math64.glsl's.

// {====== float

// log of a positive normal float (fdlibm e_logf.c)
float misc_logf(float x) {
  const float ln2_hi = 6.9313812256e-01, ln2_lo = 9.0580006145e-06;
  const float Lg1 = 6.6666662693e-01, Lg2 = 4.0000972152e-01;
  const float Lg3 = 2.8498786688e-01, Lg4 = 2.4279078841e-01;
  if (!(x > 0.0)) return x == 0.0 ? -1.0 / 0.0 : 0.0 / 0.0;
  if (isinf(x)) return x;
  int ix = floatBitsToInt(x);
  int k = (ix >> 23) - 127;
  ix &= 0x007fffff;
  int i = (ix + (0x95f64 << 3)) & 0x800000;
  float xn = intBitsToFloat(ix | (i ^ 0x3f800000));   // x or x/2 in [sqrt(2)/2, sqrt(2))
  k += i >> 23;
  precise float f = xn - 1.0;
  float dk = float(k);
  precise float res;
  if ((0x007fffff & (0x8000 + ix)) < 0xc000) {         // |f| < 2^-9
    if (f == 0.0) {
      res = dk * ln2_hi + dk * ln2_lo;
      return res;
    }
    precise float R = f * f * (0.5 - 0.33333333333333333 * f);
    res = k == 0 ? f - R : dk * ln2_hi - ((R - dk * ln2_lo) - f);
    return res;
  }
  precise float s = f / (2.0 + f);
  precise float z = s * s;
  precise float w = z * z;
  i = ix - (0x6147a << 3);
  int j = (0x6b851 << 3) - ix;
  precise float R = z * (Lg1 + w * Lg3) + w * (Lg2 + w * Lg4);
  if ((i | j) > 0) {
    precise float hfsq = 0.5 * f * f;
    res = k == 0 ? f - (hfsq - s * (hfsq + R)) : dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
  } else {
    res = k == 0 ? f - s * (f - R) : dk * ln2_hi - ((s * (f - R) - dk * ln2_lo) - f);
  }
  return res;
}

// sin and cos of 0 <= x < 2^13 (Cephes sinf/cosf): reduction by pi/4 in three parts,
// the first two exact, and polynomials on [-pi/4, pi/4]
void misc_sincosf(float x, out float sn, out float cs) {
  const float FOPI = 1.27323954473516;
  const float DP1 = 0.78515625, DP2 = 2.4187564849853515625e-4, DP3 = 3.77489497744594108e-8;
  int j = int(x * FOPI);
  float y = float(j);
  if ((j & 1) != 0) {
    j += 1;
    y += 1.0;
  }
  j &= 7;
  precise float r = ((x - y * DP1) - y * DP2) - y * DP3;
  precise float z = r * r;
  precise float cp = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z
                     - 0.5 * z + 1.0;
  precise float sp = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  int js = j;
  float ss = 1.0;
  if (js > 3) {
    ss = -1.0;
    js -= 4;
  }
  sn = ss * ((js == 1 || js == 2) ? cp : sp);
  int jc = j;
  float sc = 1.0;
  if (jc > 3) {
    jc -= 4;
    sc = -sc;
  }
  if (jc > 1) sc = -sc;
  cs = sc * ((jc == 1 || jc == 2) ? sp : cp);
}

// }======

#ifdef HAS_F64
// {====== double: math64.glsl's (what the elementwise ops use), under the names
// loss.comp calls

#include "math64.glsl"

double misc_exp(double x) { return exp64(x); }
double misc_log(double x) { return log64(x); }

// }======
#endif
