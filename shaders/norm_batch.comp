// variants: f64
// norm_batch.comp — batch_norm, inference form (host/cpu/nn.c): per channel c (dim 1
// of a contiguous N x C x inner x), k = w / sqrt(running_var + eps), t = b - mean k,
// y = x k + t; one thread per element. The running statistics, weight and bias are
// 1-D with their own offsets and strides.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int DT = 0;
layout(constant_id = 4) const int HAS_W = 0;
layout(constant_id = 5) const int HAS_B = 0;

VIEWS(0, x)
VIEWS(1, y)
VIEWS(2, rm)
VIEWS(3, rv)
VIEWS(4, w)
VIEWS(5, b)
ACCESSORS(x, DT)
ACCESSORS(y, DT)
ACCESSORS(rm, DT)
ACCESSORS(rv, DT)
ACCESSORS(w, DT)
ACCESSORS(b, DT)

layout(push_constant) uniform Push {
  uint numel;
  int channels;
  int inner;
  int off_x;
  int off[4];          // running_mean, running_var, weight, bias
  int st[4];
  uint eps[3];         // float bits, then double bits
} p;

WIDE eps() {
#ifdef HAS_F64
  return packDouble2x32(uvec2(p.eps[1], p.eps[2]));
#else
  return uintBitsToFloat(p.eps[0]);
#endif
}

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  int c = int((i / uint(p.inner)) % uint(p.channels));
  WIDE k = WIDE(1) / sqrt(rv_load_fl(uint(p.off[1] + c * p.st[1])) + eps());
  if (HAS_W != 0) k *= w_load_fl(uint(p.off[2] + c * p.st[2]));
  WIDE t = (HAS_B != 0 ? b_load_fl(uint(p.off[3] + c * p.st[3])) : WIDE(0)) -
           rm_load_fl(uint(p.off[0] + c * p.st[0])) * k;
  y_store_f(i, x_load_fl(uint(p.off_x) + i) * k + t);
}
