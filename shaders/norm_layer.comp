// variants: f64
// norm_layer.comp — layer_norm over rows of n contiguous elements, as host/cpu/nn.c:
// mean, then the biased variance about it (two passes), rstd = 1/sqrt(var + eps),
// y = ((x - mean) * rstd) * w + b (w, b optional, n elements each).
// MODE 0 (THREAD): one thread per row (short rows). MODE 1 (GROUP): one workgroup
// per row, shared-memory trees for the two sums.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int DT = 0;
layout(constant_id = 4) const int MODE = 0;
layout(constant_id = 5) const int HAS_W = 0;
layout(constant_id = 6) const int HAS_B = 0;

VIEWS(0, x)
VIEWS(1, y)
VIEWS(2, w)
VIEWS(3, b)
ACCESSORS(x, DT)
ACCESSORS(y, DT)
ACCESSORS(w, DT)
ACCESSORS(b, DT)

layout(push_constant) uniform Push {
  uint rows;
  int n;
  int off_x, off_w, off_b;
  uint eps[3];         // float bits, then double bits
} p;

const uint WG = gl_WorkGroupSize.x;

WIDE eps() {
#ifdef HAS_F64
  return packDouble2x32(uvec2(p.eps[1], p.eps[2]));
#else
  return uintBitsToFloat(p.eps[0]);
#endif
}

WIDE xv(uint r, int k) { return x_load_fl(uint(p.off_x) + r * uint(p.n) + uint(k)); }

void write(uint r, int k, WIDE m, WIDE rstd) {
  WIDE v = (xv(r, k) - m) * rstd;
  if (HAS_W != 0) v *= w_load_fl(uint(p.off_w + k));
  if (HAS_B != 0) v += b_load_fl(uint(p.off_b + k));
  y_store_f(r * uint(p.n) + uint(k), v);
}

shared WIDE s_v[WG];

WIDE tree_sum(WIDE v) {
  uint t = gl_LocalInvocationID.x;
  s_v[t] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) s_v[t] += s_v[t + s];
    barrier();
  }
  WIDE res = s_v[0];
  barrier();
  return res;
}

void main() {
  WIDE n = WIDE(p.n);
  if (MODE == 0) {
    uint r = flat_id();
    if (r >= p.rows) return;
    WIDE s = WIDE(0), q = WIDE(0);
    for (int k = 0; k < p.n; k++) s += xv(r, k);
    WIDE m = s / n;
    for (int k = 0; k < p.n; k++) { WIDE d = xv(r, k) - m; q += d * d; }
    WIDE rstd = WIDE(1) / sqrt(q / n + eps());
    for (int k = 0; k < p.n; k++) write(r, k, m, rstd);
    return;
  }
  uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (r >= p.rows) return;
  int t = int(gl_LocalInvocationID.x);
  WIDE s = WIDE(0);
  for (int k = t; k < p.n; k += int(WG)) s += xv(r, k);
  WIDE m = tree_sum(s) / n;
  WIDE q = WIDE(0);
  for (int k = t; k < p.n; k += int(WG)) { WIDE d = xv(r, k) - m; q += d * d; }
  WIDE rstd = WIDE(1) / sqrt(tree_sum(q) / n + eps());
  for (int k = t; k < p.n; k += int(WG)) write(r, k, m, rstd);
}
