// variants: f64
// norm_batch_train.comp — batch_norm_train, as host/cpu/norm_batch.c: one workgroup
// per channel c of a contiguous N x C x inner x. Its count = N inner values are
// visited at a stride of the workgroup; two passes, each a compensated sum per thread
// and a shared-memory tree: mean = sum(x) / count, var = sum((x - mean)^2) / count
// (biased). Then k = w / sqrt(var + eps), t = b - mean k and y = x k + t, the CPU's
// form. w and b are optional, 1-D with their own offsets and strides.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int DT = 0;
layout(constant_id = 4) const int HAS_W = 0;
layout(constant_id = 5) const int HAS_B = 0;

VIEWS(0, x)
VIEWS(1, y)
VIEWS(2, mean)
VIEWS(3, var)
VIEWS(4, w)
VIEWS(5, b)
ACCESSORS(x, DT)
ACCESSORS(y, DT)
ACCESSORS(mean, DT)
ACCESSORS(var, DT)
ACCESSORS(w, DT)
ACCESSORS(b, DT)

layout(push_constant) uniform Push {
  uint channels;
  uint n;
  uint inner;
  uint off_x;
  int off_w, st_w, off_b, st_b;
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

// the element of x (from its offset) that is value j of channel c
uint at(uint c, uint j) {
  uint n = j / p.inner;
  return (n * p.channels + c) * p.inner + (j - n * p.inner);
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

// this thread's share of sum(x - m) (sq 0) or sum((x - m)^2) (sq 1), Kahan-compensated:
// f32 sums of a long channel keep their digits
WIDE part_sum(uint c, uint count, WIDE m, bool sq) {
  precise WIDE s = WIDE(0), comp = WIDE(0);
  for (uint j = gl_LocalInvocationID.x; j < count; j += WG) {
    WIDE d = x_load_fl(p.off_x + at(c, j)) - m;
    precise WIDE v = (sq ? d * d : d) - comp;
    precise WIDE t = s + v;
    comp = (t - s) - v;
    s = t;
  }
  return s - comp;
}

void main() {
  uint c = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (c >= p.channels) return;
  uint count = p.n * p.inner;
  WIDE m = tree_sum(part_sum(c, count, WIDE(0), false)) / WIDE(count);
  WIDE v = tree_sum(part_sum(c, count, m, true)) / WIDE(count);
  WIDE k = WIDE(1) / sqrt(v + eps());
  if (HAS_W != 0) k *= w_load_fl(uint(p.off_w + int(c) * p.st_w));
  WIDE t = (HAS_B != 0 ? b_load_fl(uint(p.off_b + int(c) * p.st_b)) : WIDE(0)) - m * k;
  if (gl_LocalInvocationID.x == 0) {
    mean_store_f(c, m);
    var_store_f(c, v);
  }
  for (uint j = gl_LocalInvocationID.x; j < count; j += WG) {
    uint e = at(c, j);
    y_store_f(e, x_load_fl(p.off_x + e) * k + t);
  }
}
