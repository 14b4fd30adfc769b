// math64.glsl — exp, log, log1p, expm1, sin, cos (and both at once), tanh, pow and
// erfc in double precision. GLSL has double arithmetic, sqrt, floor, frexp and ldexp,
// but none of these: without them an f64 tensor on the device would get float
// precision from its transcendental ops (the elementwise ops; through misc_math.glsl,
// Box-Muller's normals and cross-entropy's log-sum-exp too). Written from the textbook
// methods (range reduction by multiples of ln 2 or pi/2 split in parts, then a series),
// each within a few ulp on the ranges the specs check; sin and cos reduce exactly for
// |x| < 2^20. Included only by the f64 variants (HAS_F64).

const double M64_LN2_HI = 6.93147180369123816490e-01lf;
const double M64_LN2_LO = 1.90821492927058770002e-10lf;
const double M64_INV_LN2 = 1.44269504088896338700e+00lf;

double m64_inf() { return packDouble2x32(uvec2(0u, 0x7ff00000u)); }
double m64_nan() { return packDouble2x32(uvec2(0u, 0x7ff80000u)); }

double exp64(double x) {
  if (isnan(x)) return x;
  if (x > 709.782712893384lf) return m64_inf();
  if (x < -745.1332191019412lf) return 0.0lf;
  double k = floor(x * M64_INV_LN2 + 0.5lf);
  double r = (x - k * M64_LN2_HI) - k * M64_LN2_LO;      // |r| <= 0.35
  double p = 1.0lf / 87178291200.0lf;                    // 1/14!
  p = p * r + 1.0lf / 6227020800.0lf;
  p = p * r + 1.0lf / 479001600.0lf;
  p = p * r + 1.0lf / 39916800.0lf;
  p = p * r + 1.0lf / 3628800.0lf;
  p = p * r + 1.0lf / 362880.0lf;
  p = p * r + 1.0lf / 40320.0lf;
  p = p * r + 1.0lf / 5040.0lf;
  p = p * r + 1.0lf / 720.0lf;
  p = p * r + 1.0lf / 120.0lf;
  p = p * r + 1.0lf / 24.0lf;
  p = p * r + 1.0lf / 6.0lf;
  p = p * r + 0.5lf;
  p = p * r + 1.0lf;
  p = p * r + 1.0lf;
  int ki = int(k);
  if (ki < -1020) return ldexp(ldexp(p, ki + 60), -60);   // keep the scaling in range
  if (ki > 1020) return ldexp(ldexp(p, ki - 60), 60);
  return ldexp(p, ki);
}

double log64(double x) {
  if (isnan(x) || x < 0.0lf) return m64_nan();
  if (x == 0.0lf) return -m64_inf();
  if (isinf(x)) return x;
  int e;
  double m = frexp(x, e);                                // m in [0.5, 1)
  if (m < 0.70710678118654752440lf) {
    m *= 2.0lf;
    e -= 1;
  }
  double f = m - 1.0lf;                                  // exact
  double s = f / (2.0lf + f);                            // |s| <= 0.1716
  double s2 = s * s;
  // log(1 + f) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...)
  double t = 1.0lf / 23.0lf;
  t = t * s2 + 1.0lf / 21.0lf;
  t = t * s2 + 1.0lf / 19.0lf;
  t = t * s2 + 1.0lf / 17.0lf;
  t = t * s2 + 1.0lf / 15.0lf;
  t = t * s2 + 1.0lf / 13.0lf;
  t = t * s2 + 1.0lf / 11.0lf;
  t = t * s2 + 1.0lf / 9.0lf;
  t = t * s2 + 1.0lf / 7.0lf;
  t = t * s2 + 1.0lf / 5.0lf;
  t = t * s2 + 1.0lf / 3.0lf;
  double lg = 2.0lf * s + 2.0lf * s * (s2 * t);
  double de = double(e);
  return de * M64_LN2_HI + (lg + de * M64_LN2_LO);
}

double log1p64(double x) {
  double u = 1.0lf + x;
  if (u == 1.0lf) return x;
  if (isinf(u) || u <= 0.0lf) return log64(u);
  return log64(u) * x / (u - 1.0lf);
}

double expm1_64(double x) {
  if (abs(x) < 1e-5lf) return x + x * x * (0.5lf + x / 6.0lf);
  double u = exp64(x);
  if (isinf(u)) return u;
  if (u == 1.0lf) return x;
  double um1 = u - 1.0lf;
  if (um1 == -1.0lf) return -1.0lf;
  return um1 * x / log64(u);
}

// sin and cos of r, |r| <= pi/4
double m64_sin_poly(double r) {
  double r2 = r * r;
  double p = -1.0lf / 121645100408832000.0lf;            // -1/19!
  p = p * r2 + 1.0lf / 355687428096000.0lf;
  p = p * r2 - 1.0lf / 1307674368000.0lf;
  p = p * r2 + 1.0lf / 6227020800.0lf;
  p = p * r2 - 1.0lf / 39916800.0lf;
  p = p * r2 + 1.0lf / 362880.0lf;
  p = p * r2 - 1.0lf / 5040.0lf;
  p = p * r2 + 1.0lf / 120.0lf;
  p = p * r2 - 1.0lf / 6.0lf;
  return r + r * r2 * p;
}

double m64_cos_poly(double r) {
  double r2 = r * r;
  double p = 1.0lf / 6402373705728000.0lf;               // 1/18!
  p = p * r2 - 1.0lf / 20922789888000.0lf;
  p = p * r2 + 1.0lf / 87178291200.0lf;
  p = p * r2 - 1.0lf / 479001600.0lf;
  p = p * r2 + 1.0lf / 3628800.0lf;
  p = p * r2 - 1.0lf / 40320.0lf;
  p = p * r2 + 1.0lf / 720.0lf;
  p = p * r2 - 1.0lf / 24.0lf;
  p = p * r2 + 0.5lf;
  return 1.0lf - r2 * p;
}

// x = k pi/2 + r: pi/2 in three parts of 33 bits each, so k * part is exact for
// |k| < 2^20 (fdlibm's split)
double m64_reduce(double x, out int q) {
  double k = floor(x * 0.63661977236758134308lf + 0.5lf);
  double r = ((x - k * 1.57079632673412561417e+00lf) - k * 6.07710050630396597660e-11lf)
             - k * 2.02226624871116645580e-21lf;
  q = int(k - 4.0lf * floor(k * 0.25lf));
  return r;
}

// sin and cos of x from one reduction: quadrant q turns (sin r, cos r) by q pi/2
void sincos64(double x, out double sn, out double cs) {
  if (isnan(x) || isinf(x)) {
    sn = m64_nan();
    cs = sn;
    return;
  }
  int q;
  double r = m64_reduce(x, q);
  double s = m64_sin_poly(r), c = m64_cos_poly(r);
  sn = q == 0 ? s : q == 1 ? c : q == 2 ? -s : -c;
  cs = q == 0 ? c : q == 1 ? -s : q == 2 ? -c : s;
}

double sin64(double x) {
  double s, c;
  sincos64(x, s, c);
  return s;
}

double cos64(double x) {
  double s, c;
  sincos64(x, s, c);
  return c;
}

double tanh64(double x) {
  if (isnan(x)) return x;
  double a = abs(x);
  if (a > 22.0lf) return x > 0.0lf ? 1.0lf : -1.0lf;
  if (a < 1e-9lf) return x;
  double e = expm1_64(2.0lf * a);
  double t = e / (e + 2.0lf);
  return x < 0.0lf ? -t : t;
}

// x^y for x > 0 (the caller handles signs, zeros, infinities and integer powers)
double pow64(double x, double y) {
  return exp64(y * log64(x));
}

// erfc: for |x| < 1 as 1 - erf(x) from erf's series (erfc >= 0.157 there, so nothing
// cancels away); beyond, Lentz's continued fraction, which keeps the tail's relative
// precision (about 190 terms at 1, 40 at 2.5)
double erfc64(double x) {
  if (isnan(x)) return x;
  double a = abs(x);
  double r;
  if (a < 1.0lf) {
    double x2 = a * a, term = a, sum = a;
    for (int n = 1; n < 60; n++) {
      term *= -x2 / double(n);
      double add = term / double(2 * n + 1);
      sum += add;
      if (abs(add) < 1e-17lf * abs(sum)) break;
    }
    r = 1.0lf - 1.12837916709551257390lf * sum;          // 2/sqrt(pi)
  } else if (a > 27.3lf) {
    r = 0.0lf;
  } else {
    // erfc(a) = exp(-a^2)/sqrt(pi) / (a + 1/2 / (a + 1 / (a + 3/2 / (a + ...))))
    double tiny = 1e-300lf, f = a, c = a, d = 0.0lf;
    for (int n = 1; n < 300; n++) {
      double an = 0.5lf * double(n);
      d = a + an * d;
      d = abs(d) < tiny ? tiny : d;
      c = a + an / c;
      c = abs(c) < tiny ? tiny : c;
      d = 1.0lf / d;
      double delta = c * d;
      f *= delta;
      if (abs(delta - 1.0lf) < 1e-16lf) break;
    }
    r = exp64(-a * a) * 0.56418958354775628695lf / f;    // 1/sqrt(pi)
  }
  return x < 0.0lf ? 2.0lf - r : r;
}
