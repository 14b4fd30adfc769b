// variants: f64
// reduce.comp — one reduction (OP) of x over its "run" per output: the reduced dims,
// moved last by the host and merged (rshape/rstride, row-major positions), for each
// output element o (kept dims kshape/kstride, outputs contiguous). Semantics mirror
// host/cpu/reduce_fold.c: integer sums and products wrap in int64; extremes keep the
// first position of the best value and the first NaN wins (decided by position, so
// any merge order gives the same answer); var is the corrected two-pass form; norm
// by kind of p; logsumexp shifts by the max (0 when infinite).
//
// MODE (the host picks it by shape):
//   ROW     one workgroup per output: each thread folds positions t, t + WG, ...,
//           then a shared-memory tree; two-pass ops run both passes in the group.
//   THREAD  one thread per output, folding its run serially in chunks of 64 merged
//           one by one (short runs, or strided runs whose outputs lie side by side).
//   PART1   one workgroup per (output, chunk) of a long run: pass 1 of the chunk ->
//           partial accumulator in sa.
//   PART2   the same for pass 2, after merging the output's pass-1 partials (var's
//           mean, logsumexp's max) -> sb.
//   FINAL   one workgroup per output: merges the partials and writes the result.
//
// Floats accumulate in WIDE: float for f32 data, double in the f64 variant. GLSL has
// no double exp/log/pow: those go through float in the f64 variant (logsumexp, norm
// with p other than 0, 1, 2, inf).
#version 450
#include "common.glsl"

#define R_SUM 0
#define R_MEAN 1
#define R_PROD 2
#define R_MAX 3
#define R_MIN 4
#define R_ARGMAX 5
#define R_ARGMIN 6
#define R_VAR 7
#define R_STD 8
#define R_NORM 9
#define R_LSE 10
#define R_ALL 11
#define R_ANY 12

#define M_ROW 0
#define M_THREAD 1
#define M_PART1 2
#define M_PART2 3
#define M_FINAL 4

#define N_2 0
#define N_1 1
#define N_INF 2
#define N_NINF 3
#define N_0 4
#define N_P 5

layout(constant_id = 3) const int OP = 0;
layout(constant_id = 4) const int DT_X = 0;
layout(constant_id = 5) const int DT_O = 0;
layout(constant_id = 6) const int MODE = 0;
layout(constant_id = 7) const int NKIND = 0;

VIEWS(0, x)
VIEWS(1, o)
ACCESSORS(x, DT_X)
ACCESSORS(o, DT_O)
layout(std430, binding = 2) buffer IX { int64_t ix[]; };     // max/min indices
layout(std430, binding = 3) buffer SA { int64_t sa[]; };     // pass-1 partials, 4 words each
layout(std430, binding = 4) buffer SB { int64_t sb[]; };     // pass-2 partials

layout(push_constant) uniform Push {
  uint nout;
  int len;
  int nk, nr;
  int off_x;
  int chunk;          // split modes: positions per chunk
  int nchunk;         // split modes: chunks per output
  int index_base;
  int flags;          // 1: write the indices (max, min with a dim)
  int kshape[4];
  int kstride[4];
  int rshape[4];
  int rstride[4];
  uint sc[3];         // the parameter (correction, p): float bits, then double bits
} p;

const bool XINT = DT_X >= DT_I8;
const bool EXT = OP >= R_MAX && OP <= R_ARGMIN;
const bool WANT_MAX = OP == R_MAX || OP == R_ARGMAX;
const int NPASS = (OP == R_VAR || OP == R_STD || OP == R_LSE) ? 2 : 1;
const int EMPTY = 0x7fffffff;      // `at` of an accumulator that has seen no element
const uint WG = gl_WorkGroupSize.x;

WIDE param() {
#ifdef HAS_F64
  return packDouble2x32(uvec2(p.sc[1], p.sc[2]));
#else
  return uintBitsToFloat(p.sc[0]);
#endif
}

struct Acc {
  WIDE v;        // sum, product, extreme, max (logsumexp), sum of deviations
  WIDE w;        // sum of squared deviations, sum of exp
  int64_t i;     // integer sum / product / extreme, all/any flag
  int at;        // position of the extreme
};

// Vulkan leaves x/0, log(0), exp(+-inf) and pow at 0 or inf undefined: the special
// values are made from their bits, and the edges handled before the math
WIDE winf() { return WIDE(uintBitsToFloat(0x7f800000u)); }
WIDE wnan() { return WIDE(uintBitsToFloat(0x7fc00000u)); }

WIDE exp_w(WIDE d) {
  if (isnan(d)) return d;
  if (d < WIDE(-104)) return WIDE(0);
  if (d > WIDE(89)) return winf();
  return WIDE(exp(float(d)));
}

// x^y for x >= 0 (or NaN), as C's pow
WIDE pow_pos(WIDE x, WIDE y) {
  if (isnan(x) || isnan(y)) return y == WIDE(0) ? WIDE(1) : wnan();
  if (y == WIDE(0) || x == WIDE(1)) return WIDE(1);
  if (x == WIDE(0)) return y > WIDE(0) ? WIDE(0) : winf();
  if (isinf(x)) return y > WIDE(0) ? winf() : WIDE(0);
  return WIDE(pow(float(x), float(y)));
}

Acc acc_init(int pass) {
  Acc a;
  a.v = WIDE(0);
  a.w = WIDE(0);
  a.i = 0l;
  a.at = EMPTY;
  if (OP == R_PROD) { a.v = WIDE(1); a.i = 1l; }
  if (OP == R_ALL) a.i = 1l;
  if (OP == R_LSE && pass == 0) a.v = -winf();
  if (OP == R_NORM && NKIND == N_NINF) a.v = winf();
  return a;
}

// the better of two extremes: the NaN, else the larger (smaller); ties to the first
Acc pick(Acc a, Acc b) {
  if (b.at == EMPTY) return a;
  if (a.at == EMPTY) return b;
  bool take;
  if (XINT) {
    take = (WANT_MAX ? b.i > a.i : b.i < a.i) || (b.i == a.i && b.at < a.at);
  } else {
    bool an = isnan(a.v), bn = isnan(b.v);
    if (an || bn) take = bn && (!an || b.at < a.at);
    else take = (WANT_MAX ? b.v > a.v : b.v < a.v) || (b.v == a.v && b.at < a.at);
  }
  return take ? b : a;
}

// NaN-propagating max (min) of v
WIDE nan_ext(WIDE a, WIDE b, bool want_max) {
  if (isnan(a)) return a;
  if (isnan(b)) return b;
  return want_max ? (b > a ? b : a) : (b < a ? b : a);
}

// |x|^q for norm's other p: exact repeated products for small integer q
WIDE pow_abs(WIDE ax, WIDE q) {
  if (ax == WIDE(0) || isinf(ax) || isnan(ax)) return pow_pos(ax, q);
  if (floor(q) == q && abs(q) <= WIDE(32)) {
    WIDE base = ax, acc = WIDE(1);
    for (int n = int(abs(q)); n > 0; n >>= 1) {
      if ((n & 1) != 0) acc *= base;
      base *= base;
    }
    return q < WIDE(0) ? WIDE(1) / acc : acc;
  }
  return pow_pos(ax, q);
}

WIDE lse_shift(Acc first) { return isinf(first.v) ? WIDE(0) : first.v; }

// fold element at storage index idx, run position pos
void fold(inout Acc a, uint idx, int pos, int pass, Acc first) {
  if (OP == R_ALL || OP == R_ANY) {
    bool nz = XINT ? x_load_in(idx) != 0l : x_load_fl(idx) != WIDE(0);
    if (OP == R_ALL) a.i = nz ? a.i : 0l;
    else a.i = nz ? 1l : a.i;
    return;
  }
  if (EXT) {
    Acc b;
    b.v = XINT ? WIDE(0) : x_load_fl(idx);
    b.i = XINT ? x_load_in(idx) : 0l;
    b.w = WIDE(0);
    b.at = pos;
    a = pick(a, b);
    return;
  }
  if (XINT) {                                 // sum, mean, prod of int64
    int64_t v = x_load_in(idx);
    if (OP == R_PROD) a.i *= v;
    else a.i += v;
    return;
  }
  WIDE v = x_load_fl(idx);
  if (OP == R_SUM || OP == R_MEAN) a.v += v;
  else if (OP == R_PROD) a.v *= v;
  else if (OP == R_VAR || OP == R_STD) {
    if (pass == 0) a.v += v;
    else {
      WIDE d = v - first.v / WIDE(p.len);
      a.v += d;
      a.w += d * d;
    }
  } else if (OP == R_NORM) {
    WIDE ax = abs(v);
    if (NKIND == N_2) a.v += v * v;
    else if (NKIND == N_1) a.v += ax;
    else if (NKIND == N_0) a.v += ax != WIDE(0) ? WIDE(1) : WIDE(0);
    else if (NKIND == N_INF) a.v = nan_ext(a.v, ax, true);
    else if (NKIND == N_NINF) a.v = nan_ext(a.v, ax, false);
    else a.v += pow_abs(ax, param());
  } else if (OP == R_LSE) {
    if (pass == 0) a.v = nan_ext(a.v, v, true);
    else if (!isnan(first.v)) a.w += exp_w(v - lse_shift(first));
  }
}

Acc merge(Acc a, Acc b, int pass) {
  if (EXT) return pick(a, b);
  if (OP == R_ALL) { a.i = a.i != 0l && b.i != 0l ? 1l : 0l; return a; }
  if (OP == R_ANY) { a.i = a.i != 0l || b.i != 0l ? 1l : 0l; return a; }
  if (OP == R_PROD) { a.v *= b.v; a.i *= b.i; return a; }
  if ((OP == R_LSE && pass == 0) || (OP == R_NORM && (NKIND == N_INF || NKIND == N_NINF))) {
    a.v = nan_ext(a.v, b.v, !(OP == R_NORM && NKIND == N_NINF));
    return a;
  }
  a.v += b.v;
  a.w += b.w;
  a.i += b.i;
  return a;
}

// write output element o from the last pass's accumulator a (first: pass 1's)
void finish(uint o, Acc a, Acc first) {
  int64_t base = int64_t(p.index_base);
  if (OP == R_ARGMAX || OP == R_ARGMIN) { o_store_i(o, int64_t(a.at) + base); return; }
  if (OP == R_MAX || OP == R_MIN) {
    if (XINT) o_store_i(o, a.i);
    else o_store_f(o, a.v);
    if ((p.flags & 1) != 0) ix[o] = int64_t(a.at) + base;
    return;
  }
  if (OP == R_ALL || OP == R_ANY) { o_store_i(o, a.i != 0l ? 1l : 0l); return; }
  if (XINT) { o_store_i(o, a.i); return; }
  WIDE n = WIDE(p.len);
  if (OP == R_MEAN) { o_store_f(o, p.len == 0 ? wnan() : a.v / n); return; }
  if (OP == R_VAR || OP == R_STD) {
    WIDE var = wnan();                        // empty: 0 - 0/0, as the CPU
    if (p.len > 0) {
      WIDE ss = a.w - a.v * a.v / n;
      if (ss < WIDE(0)) ss = WIDE(0);
      WIDE dof = n - param();
      if (dof > WIDE(0)) var = ss / dof;
      else if (!isnan(ss)) var = ss == WIDE(0) ? wnan() : winf();   // ss / 0
      else var = ss;
    }
    o_store_f(o, OP == R_STD ? sqrt(var) : var);
    return;
  }
  if (OP == R_NORM) {
    WIDE r = a.v;
    if (NKIND == N_2) r = sqrt(a.v);
    else if (NKIND == N_P) r = pow_pos(a.v, WIDE(1) / param());
    o_store_f(o, r);
    return;
  }
  if (OP == R_LSE) {
    if (isnan(first.v)) o_store_f(o, first.v);
    else if (a.w == WIDE(0)) o_store_f(o, -winf());           // log(0)
    else o_store_f(o, WIDE(log(float(a.w))) + lse_shift(first));
    return;
  }
  o_store_f(o, a.v);                           // sum, prod
}

// {====== layout

// storage index of the first element of output o's run
int run_base(uint o) {
  int off = p.off_x;
  uint r = o;
  for (int d = p.nk - 1; d >= 0; d--) {
    uint s = uint(p.kshape[d]);
    off += int(r % s) * p.kstride[d];
    r /= s;
  }
  return off;
}

// offset of run position pos from the run's start
int run_off(int pos) {
  if (p.nr == 1) return pos * p.rstride[0];
  int off = 0;
  for (int d = p.nr - 1; d >= 0; d--) {
    off += (pos % p.rshape[d]) * p.rstride[d];
    pos /= p.rshape[d];
  }
  return off;
}

uint group_id() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

// }======

// {====== partials in int64 words: v, w (bits), i, at

int64_t wbits(WIDE v) {
#ifdef HAS_F64
  return doubleBitsToInt64(v);
#else
  return int64_t(floatBitsToInt(v));
#endif
}

WIDE wfrom(int64_t b) {
#ifdef HAS_F64
  return int64BitsToDouble(b);
#else
  return intBitsToFloat(int(b));
#endif
}

void put_a(uint k, Acc a) {
  sa[4 * k] = wbits(a.v); sa[4 * k + 1] = wbits(a.w); sa[4 * k + 2] = a.i; sa[4 * k + 3] = int64_t(a.at);
}

void put_b(uint k, Acc a) {
  sb[4 * k] = wbits(a.v); sb[4 * k + 1] = wbits(a.w); sb[4 * k + 2] = a.i; sb[4 * k + 3] = int64_t(a.at);
}

Acc get_a(uint k) {
  Acc a;
  a.v = wfrom(sa[4 * k]); a.w = wfrom(sa[4 * k + 1]); a.i = sa[4 * k + 2]; a.at = int(sa[4 * k + 3]);
  return a;
}

Acc get_b(uint k) {
  Acc a;
  a.v = wfrom(sb[4 * k]); a.w = wfrom(sb[4 * k + 1]); a.i = sb[4 * k + 2]; a.at = int(sb[4 * k + 3]);
  return a;
}

// }======

// {====== the workgroup tree

shared WIDE s_v[WG];
shared WIDE s_w[WG];
shared int64_t s_i[WG];
shared int s_at[WG];

// every thread's a merged (lower threads first); every thread gets the result
Acc tree(Acc a, int pass) {
  uint t = gl_LocalInvocationID.x;
  s_v[t] = a.v; s_w[t] = a.w; s_i[t] = a.i; s_at[t] = a.at;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) {
      Acc l, r;
      l.v = s_v[t]; l.w = s_w[t]; l.i = s_i[t]; l.at = s_at[t];
      r.v = s_v[t + s]; r.w = s_w[t + s]; r.i = s_i[t + s]; r.at = s_at[t + s];
      l = merge(l, r, pass);
      s_v[t] = l.v; s_w[t] = l.w; s_i[t] = l.i; s_at[t] = l.at;
    }
    barrier();
  }
  Acc res;
  res.v = s_v[0]; res.w = s_w[0]; res.i = s_i[0]; res.at = s_at[0];
  barrier();                                  // the arrays may be reused at once
  return res;
}

// this thread's share of run positions [lo, hi) of the run at base, merged over the group
Acc group_fold(int base, int lo, int hi, int pass, Acc first) {
  Acc a = acc_init(pass);
  for (int pos = lo + int(gl_LocalInvocationID.x); pos < hi; pos += int(WG))
    fold(a, uint(base + run_off(pos)), pos, pass, first);
  return tree(a, pass);
}

// partials [k0, k0 + n) of sa (from_b: sb) merged in order over the group
Acc group_partials(uint k0, int n, bool from_b, int pass) {
  Acc a = acc_init(pass);
  for (int k = int(gl_LocalInvocationID.x); k < n; k += int(WG))
    a = merge(a, from_b ? get_b(k0 + uint(k)) : get_a(k0 + uint(k)), pass);
  return tree(a, pass);
}

// }======

// a whole run folded by one thread: chunks of 64, each merged into the total, so
// long float sums keep most of a pairwise sum's accuracy
Acc thread_fold(int base, int pass, Acc first) {
  Acc a = acc_init(pass);
  for (int c = 0; c < p.len; c += 64) {
    Acc part = acc_init(pass);
    int end = min(c + 64, p.len);
    for (int pos = c; pos < end; pos++) fold(part, uint(base + run_off(pos)), pos, pass, first);
    a = merge(a, part, pass);
  }
  return a;
}

void main() {
  if (MODE == M_THREAD) {
    uint o = flat_id();
    if (o >= p.nout) return;
    int base = run_base(o);
    Acc first = thread_fold(base, 0, acc_init(0));
    Acc last = NPASS == 2 ? thread_fold(base, 1, first) : first;
    finish(o, last, first);
    return;
  }
  uint g = group_id();
  if (MODE == M_ROW) {
    if (g >= p.nout) return;                  // whole groups past the end
    int base = run_base(g);
    Acc first = group_fold(base, 0, p.len, 0, acc_init(0));
    Acc last = NPASS == 2 ? group_fold(base, 0, p.len, 1, first) : first;
    if (gl_LocalInvocationID.x == 0) finish(g, last, first);
    return;
  }
  if (MODE == M_FINAL) {
    if (g >= p.nout) return;
    uint k0 = g * uint(p.nchunk);
    Acc first = group_partials(k0, p.nchunk, false, 0);
    Acc last = NPASS == 2 ? group_partials(k0, p.nchunk, true, 1) : first;
    if (gl_LocalInvocationID.x == 0) finish(g, last, first);
    return;
  }
  // PART1, PART2: group g is chunk g % nchunk of output g / nchunk
  uint o = g / uint(p.nchunk);
  if (o >= p.nout) return;
  int c = int(g % uint(p.nchunk));
  int lo = c * p.chunk, hi = min(lo + p.chunk, p.len);
  int base = run_base(o);
  if (MODE == M_PART1) {
    Acc a = group_fold(base, lo, hi, 0, acc_init(0));
    if (gl_LocalInvocationID.x == 0) put_a(g, a);
    return;
  }
  Acc first = group_partials(o * uint(p.nchunk), p.nchunk, false, 0);
  Acc a = group_fold(base, lo, hi, 1, first);
  if (gl_LocalInvocationID.x == 0) put_b(g, a);
}
