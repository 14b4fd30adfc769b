// variants: f64
// norm_batch_train_bwd.comp — batch_norm_train_backward, as host/cpu/norm_batch.c: one
// workgroup per channel c of contiguous N x C x inner g and x. With rstd = 1 /
// sqrt(var + eps) and xhat = (x - mean) rstd, one pass of compensated sums per thread
// and a shared-memory tree of pairs gives sum_g = sum(g) and sum_gx = sum(g xhat);
// then dx = a g + b x + d, the CPU's form of w rstd (g - sum_g / count - xhat sum_gx /
// count). mean, var and the optional w are 1-D with their own offsets and strides.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int DT = 0;
layout(constant_id = 4) const int HAS_W = 0;

VIEWS(0, g)
VIEWS(1, x)
VIEWS(2, mean)
VIEWS(3, var)
VIEWS(4, w)
VIEWS(5, dx)
VIEWS(6, sg)
VIEWS(7, sgx)
ACCESSORS(g, DT)
ACCESSORS(x, DT)
ACCESSORS(mean, DT)
ACCESSORS(var, DT)
ACCESSORS(w, DT)
ACCESSORS(dx, DT)
ACCESSORS(sg, DT)
ACCESSORS(sgx, DT)

layout(push_constant) uniform Push {
  uint channels;
  uint n;
  uint inner;
  uint off_g, off_x;
  int off[3];          // mean, var, weight
  int st[3];
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

// the element of g and x (from their offsets) that is value j of channel c
uint at(uint c, uint j) {
  uint n = j / p.inner;
  return (n * p.channels + c) * p.inner + (j - n * p.inner);
}

WIDE channel(int k, uint c) {
  uint i = uint(p.off[k] + int(c) * p.st[k]);
  return k == 0 ? mean_load_fl(i) : k == 1 ? var_load_fl(i) : w_load_fl(i);
}

shared WIDE s_a[WG];
shared WIDE s_b[WG];

WIDE[2] tree_sum2(WIDE a, WIDE b) {
  uint t = gl_LocalInvocationID.x;
  s_a[t] = a;
  s_b[t] = b;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) {
      s_a[t] += s_a[t + s];
      s_b[t] += s_b[t + s];
    }
    barrier();
  }
  WIDE res[2] = WIDE[2](s_a[0], s_b[0]);
  barrier();
  return res;
}

void main() {
  uint c = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (c >= p.channels) return;
  uint count = p.n * p.inner;
  WIDE m = channel(0, c), rstd = WIDE(1) / sqrt(channel(1, c) + eps());
  // Kahan-compensated per thread: f32 sums of a long channel keep their digits
  precise WIDE a = WIDE(0), ca = WIDE(0), b = WIDE(0), cb = WIDE(0);
  for (uint j = gl_LocalInvocationID.x; j < count; j += WG) {
    uint e = at(c, j);
    WIDE gv = g_load_fl(p.off_g + e);
    precise WIDE va = gv - ca;
    precise WIDE ta = a + va;
    ca = (ta - a) - va;
    a = ta;
    precise WIDE vb = gv * (x_load_fl(p.off_x + e) - m) - cb;
    precise WIDE tb = b + vb;
    cb = (tb - b) - vb;
    b = tb;
  }
  WIDE s[2] = tree_sum2(a - ca, b - cb);
  WIDE sum_g = s[0], sum_gx = s[1] * rstd, cnt = WIDE(count);
  if (gl_LocalInvocationID.x == 0) {
    sg_store_f(c, sum_g);
    sgx_store_f(c, sum_gx);
  }
  WIDE ka = (HAS_W != 0 ? channel(2, c) : WIDE(1)) * rstd;
  WIDE kb = -ka * rstd * sum_gx / cnt, kd = -ka * sum_g / cnt - kb * m;
  for (uint j = gl_LocalInvocationID.x; j < count; j += WG) {
    uint e = at(c, j);
    dx_store_f(e, ka * g_load_fl(p.off_g + e) + kb * x_load_fl(p.off_x + e) + kd);
  }
}
