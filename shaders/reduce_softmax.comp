// variants: f64
// reduce_softmax.comp — softmax and log_softmax along one dim of a contiguous x
// (outer x len x inner): each line (outer, inner index) is max-subtracted as
// host/cpu/nn.c does: m = max (NaN skipped, as the CPU's comparison does; a NaN still
// turns the line to NaN through the sums), s = sum exp(x - m), then
// softmax = exp(x - m) * (1/s), log_softmax = (x - m) - log(s).
//
// MODE 0 (THREAD): one thread per line, three serial passes (short lines).
// MODE 1 (GROUP): one workgroup per line, three passes, shared-memory trees.
// GLSL has no double exp/log: the f64 variant computes those in float.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int DT = 0;
layout(constant_id = 4) const int LOG = 0;
layout(constant_id = 5) const int MODE = 0;

VIEWS(0, x)
VIEWS(1, y)
ACCESSORS(x, DT)
ACCESSORS(y, DT)

layout(push_constant) uniform Push {
  uint nlines;
  int len;
  int inner;
  int off_x;
} p;

const uint WG = gl_WorkGroupSize.x;

// Vulkan leaves exp(+-inf) and log of 0 or NaN undefined: the edges come first
WIDE exp_w(WIDE d) {
  if (isnan(d)) return d;
  if (d < WIDE(-104)) return WIDE(0);
  if (d > WIDE(89)) return WIDE(uintBitsToFloat(0x7f800000u));
  return WIDE(exp(float(d)));
}

WIDE log_w(WIDE v) { return isnan(v) || isinf(v) ? v : WIDE(log(float(v))); }

// element k of line l: its index in y (x adds off_x)
int at(uint l, int k) {
  uint outer = l / uint(p.inner), j = l % uint(p.inner);
  return int(outer) * p.len * p.inner + int(j) + k * p.inner;
}

void write(uint l, int k, WIDE m, WIDE scale) {
  int i = at(l, k);
  WIDE d = x_load_fl(uint(p.off_x + i)) - m;
  if (LOG != 0) y_store_f(uint(i), d - scale);
  else y_store_f(uint(i), exp_w(d) * scale);
}

WIDE finish_scale(WIDE s) { return LOG != 0 ? log_w(s) : WIDE(1) / s; }

shared WIDE s_v[WG];

WIDE tree(WIDE v, bool is_max) {
  uint t = gl_LocalInvocationID.x;
  s_v[t] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) {
      WIDE r = s_v[t + s];
      s_v[t] = is_max ? (r > s_v[t] ? r : s_v[t]) : s_v[t] + r;
    }
    barrier();
  }
  WIDE res = s_v[0];
  barrier();
  return res;
}

void main() {
  const WIDE NEG_INF = -WIDE(uintBitsToFloat(0x7f800000u));
  if (MODE == 0) {
    uint l = flat_id();
    if (l >= p.nlines) return;
    WIDE m = NEG_INF, s = WIDE(0);
    for (int k = 0; k < p.len; k++) {
      WIDE v = x_load_fl(uint(p.off_x + at(l, k)));
      m = v > m ? v : m;
    }
    for (int c = 0; c < p.len; c += 64) {     // chunks of 64: most of a pairwise sum's accuracy
      WIDE part = WIDE(0);
      for (int k = c; k < min(c + 64, p.len); k++) part += exp_w(x_load_fl(uint(p.off_x + at(l, k))) - m);
      s += part;
    }
    WIDE scale = finish_scale(s);
    for (int k = 0; k < p.len; k++) write(l, k, m, scale);
    return;
  }
  uint l = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (l >= p.nlines) return;
  int t = int(gl_LocalInvocationID.x);
  WIDE m = NEG_INF;
  for (int k = t; k < p.len; k += int(WG)) {
    WIDE v = x_load_fl(uint(p.off_x + at(l, k)));
    m = v > m ? v : m;
  }
  m = tree(m, true);
  WIDE s = WIDE(0);
  for (int k = t; k < p.len; k += int(WG)) s += exp_w(x_load_fl(uint(p.off_x + at(l, k))) - m);
  WIDE scale = finish_scale(tree(s, false));
  for (int k = t; k < p.len; k += int(WG)) write(l, k, m, scale);
}
