// variants: f64
// loss.comp — cross_entropy and its backward (host/cpu/loss.c): the input viewed as
// N x C x S, one row of C classes (stride S) per position pos = n * S + s, T threads
// per row (a spec constant dividing the workgroup), max-subtracted log-sum-exp by
// reductions in shared memory. Per position with target class k, weight w_k and
// label smoothing e:
//     l = (1 - e) w_k (lse - x_k) + (e / C) sum_j w_j (lse - x_j)
//     dl/dx_j = (1 - e) w_k (p_j - [j = k]) + (e / C) (p_j sum w - w_j)
// Ops: CE_FORWARD (loss per position, or loss and weight per position into scratch
// for a reduction), CE_TOTAL (one workgroup: the sum or weighted mean), CE_WEIGHTS
// (one workgroup: the mean's denominator and the sum of the class weights),
// CE_BACKWARD. f32 runs in float; f64 (the f64 variant) in double with fdlibm's exp
// and log, as the host's libm. A target out of range counts as ignored here and is
// reported through the launch's error slot (errors.glsl): the lowest such position,
// which the host names at its next wait for the device.
#version 450
#include "common.glsl"
#include "misc_math.glsl"
#include "errors.glsl"

layout(constant_id = 3) const int OP = 0;
layout(constant_id = 4) const int DT_X = 0;
layout(constant_id = 5) const uint T = 1;

#define CE_FORWARD 0
#define CE_TOTAL 1
#define CE_WEIGHTS 2
#define CE_BACKWARD 3

#define F_WEIGHT 1u     // a weight tensor is bound
#define F_NONE 2u       // reduction "none": the loss per position goes to o
#define F_MEAN 4u       // reduction "mean"

VIEWS(0, o)
VIEWS(1, x)
VIEWS(2, t)
VIEWS(3, w)
VIEWS(4, s)
VIEWS(5, g)
ACCESSORS(o, DT_X)
ACCESSORS(x, DT_X)
ACCESSORS(t, DT_I64)
ACCESSORS(w, DT_X)
ACCESSORS(s, DT_X)
ACCESSORS(g, DT_X)

layout(push_constant) uniform Push {
  uint P, C, S;          // positions, classes, the classes' stride
  int base;              // index base of the target values
  uint ignore_lo, ignore_hi;
  uint flags;
  uint pad;
  uint e_lo, e_hi;       // label smoothing (float, or double bits)
  int off_o, off_x, off_t, off_w, off_g;
} p;

shared WIDE red[256];

WIDE smoothing() {
#ifdef HAS_F64
  return packDouble2x32(uvec2(p.e_lo, p.e_hi));
#else
  return uintBitsToFloat(p.e_lo);
#endif
}

WIDE exp_w(WIDE v) {
#ifdef HAS_F64
  return misc_exp(v);
#else
  return exp(v);
#endif
}

WIDE log_w(WIDE v) {
#ifdef HAS_F64
  return misc_log(v);
#else
  return misc_logf(v);
#endif
}

WIDE inf_w() { return WIDE(1.0 / 0.0); }

// v summed (or maxed: never NaN here) over `width` neighbouring invocations; every
// invocation of the workgroup calls it, in uniform control flow
WIDE reduce(WIDE v, uint width, bool is_max) {
  uint l = gl_LocalInvocationID.x, lane = l % width;
  red[l] = v;
  barrier();
  for (uint h = width / 2u; h > 0u; h >>= 1) {
    if (lane < h) {
      WIDE a = red[l], b = red[l + h];
      red[l] = is_max ? (b > a ? b : a) : a + b;
    }
    barrier();
  }
  WIDE r = red[l - lane];
  barrier();
  return r;
}

// the class of target value raw: -1 ignored, -2 out of range
int64_t target_class(int64_t raw) {
  int64_t ignore = int64_t(uint64_t(p.ignore_lo) | (uint64_t(p.ignore_hi) << 32));
  if (raw == ignore) return -1l;
  int64_t k = raw - int64_t(p.base);
  return k >= 0l && k < int64_t(p.C) ? k : -2l;
}

WIDE weight(uint j) { return (p.flags & F_WEIGHT) != 0u ? w_load_fl(uint(p.off_w) + j) : WIDE(1); }

// the row's log-sum-exp (every invocation calls it; `use` says whether this row counts)
WIDE row_lse(bool use, uint row, uint lane) {
  WIDE m = -inf_w();
  if (use)
    for (uint j = lane; j < p.C; j += T) {
      WIDE v = x_load_fl(row + j * p.S);
      if (v > m) m = v;
    }
  m = reduce(m, T, true);
  bool finite = !isinf(m);
  WIDE acc = WIDE(0);
  if (use && finite)
    for (uint j = lane; j < p.C; j += T) acc += exp_w(x_load_fl(row + j * p.S) - m);
  acc = reduce(acc, T, false);
  return finite ? m + log_w(acc) : m;
}

void forward() {
  uint id = flat_id(), pos = id / T, lane = id % T;
  bool live = pos < p.P;
  uint row = uint(p.off_x) + (pos / p.S) * p.C * p.S + pos % p.S;
  int64_t k = live ? target_class(t_load_in(uint(p.off_t) + pos)) : -1l;
  bool use = live && k >= 0l;
  WIDE lse = row_lse(use, row, lane);
  WIDE e = smoothing();
  WIDE sm = WIDE(0);
  if (e != WIDE(0)) {
    if (use)
      for (uint j = lane; j < p.C; j += T) sm += weight(j) * (lse - x_load_fl(row + j * p.S));
    sm = reduce(sm, T, false);
  }
  if (!live || lane != 0u) return;
  if (k == -2l) ember_report(pos);
  WIDE li = WIDE(0), wt = WIDE(0);
  if (use) {
    wt = weight(uint(k));
    precise WIDE l = (WIDE(1) - e) * wt * (lse - x_load_fl(row + uint(k) * p.S));
    if (e != WIDE(0)) l += e / WIDE(p.C) * sm;
    li = l;
  }
  if ((p.flags & F_NONE) != 0u) {
    o_store_f(uint(p.off_o) + pos, li);
  } else {
    s_store_f(pos, li);
    s_store_f(p.P + pos, wt);
  }
}

// one workgroup: the loss from the per-position values in scratch
void total() {
  uint l = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
  WIDE sum = WIDE(0), wsum = WIDE(0);
  for (uint i = l; i < p.P; i += n) {
    sum += s_load_fl(i);
    wsum += s_load_fl(p.P + i);
  }
  sum = reduce(sum, n, false);
  wsum = reduce(wsum, n, false);
  if (l != 0u) return;
  WIDE r = sum;
  if ((p.flags & F_MEAN) != 0u) r = wsum == WIDE(0) ? WIDE(0.0 / 0.0) : sum / wsum;   // all ignored: NaN
  o_store_f(uint(p.off_o), r);
}

// one workgroup: s[0] = sum of w_k over the counted positions, s[1] = sum of all w
void weights() {
  uint l = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
  WIDE wt = WIDE(0), wall = WIDE(0);
  for (uint i = l; i < p.P; i += n) {
    int64_t k = target_class(t_load_in(uint(p.off_t) + i));
    if (k >= 0l) wt += weight(uint(k));
  }
  for (uint j = l; j < p.C; j += n) wall += weight(j);
  wt = reduce(wt, n, false);
  wall = reduce(wall, n, false);
  if (l != 0u) return;
  s_store_f(0u, wt);
  s_store_f(1u, wall);
}

void backward() {
  uint id = flat_id(), pos = id / T, lane = id % T;
  bool live = pos < p.P;
  uint rel = (pos / p.S) * p.C * p.S + pos % p.S;
  uint row = uint(p.off_x) + rel;
  int64_t k = live ? target_class(t_load_in(uint(p.off_t) + pos)) : -1l;
  bool use = live && k >= 0l;
  WIDE lse = row_lse(use, row, lane);
  if (!live) return;
  WIDE e = smoothing();
  WIDE scale = (p.flags & F_MEAN) != 0u ? WIDE(1) / s_load_fl(0u) : WIDE(1);
  precise WIDE gi = g_load_fl(uint(p.off_g) + ((p.flags & F_NONE) != 0u ? pos : 0u)) * scale;
  WIDE wt = use ? weight(uint(k)) : WIDE(0);
  WIDE wall = e == WIDE(0) ? WIDE(0) : (p.flags & F_WEIGHT) != 0u ? s_load_fl(1u) : WIDE(p.C);
  for (uint j = lane; j < p.C; j += T) {
    precise WIDE d = WIDE(0);
    if (use) {
      WIDE pj = exp_w(x_load_fl(row + j * p.S) - lse);
      d = (WIDE(1) - e) * wt * (pj - (int64_t(j) == k ? WIDE(1) : WIDE(0)));
      if (e != WIDE(0)) d += e / WIDE(p.C) * (pj * wall - weight(j));
      d *= gi;
    }
    o_store_f(uint(p.off_o) + rel + j * p.S, d);
  }
}

void main() {
  switch (OP) {
  case CE_FORWARD: forward(); break;
  case CE_TOTAL: total(); break;
  case CE_WEIGHTS: weights(); break;
  case CE_BACKWARD: backward(); break;
  }
}
