// variants: f64
// resize_pad_bwd.comp — pad's gradient along one padded dim, gathered
// (host/vk/vk_resize.c runs one pass per padded dim: pad's maps are independent per
// dim, so its adjoint is theirs one after another). The gradient is seen as outer x
// no x inner and the result as outer x ni x inner, both contiguous; input element i
// of the dim sums the outputs o that pad copied it to, in order: o = i + before, and
// reflect's mirror images before - i and before + 2*(ni-1) - i, or replicate's runs
// [0, before] at the first element and [before + ni - 1, no) at the last. No
// atomics: the same result on every run.
#version 450
#include "common.glsl"

#ifdef HAS_F64
#define VAL double
#define LD(N, i) N##_f64[i]
#define ST(N, i, v) N##_f64[i] = (v)
#else
#define VAL float
#define LD(N, i) N##_f32[i]
#define ST(N, i, v) N##_f32[i] = (v)
#endif

#define PAD_CONSTANT 0
#define PAD_REFLECT 1
#define PAD_REPLICATE 2
layout(constant_id = 3) const int MODE = 0;

VIEWS(0, o)
VIEWS(1, g)

layout(push_constant) uniform Push {
  uint total;              // result elements: outer * ni * inner
  int no, ni, inner, before;
  int goff, ooff;
} p;

void main() {
  uint e = flat_id();
  if (e >= p.total) return;
  int in_ = int(e % uint(p.inner));
  uint r = e / uint(p.inner);
  int i = int(r % uint(p.ni));
  int outer = int(r / uint(p.ni));
  int gb = p.goff + outer * p.no * p.inner + in_;
  VAL acc = VAL(0);
  int o = i + p.before;
  if (MODE == PAD_REPLICATE) {
    int lo = i == 0 ? 0 : o, hi = i == p.ni - 1 ? p.no - 1 : o;
    for (int k = max(lo, 0); k <= min(hi, p.no - 1); k++) acc += LD(g, uint(gb + k * p.inner));
  } else {
    int l = p.before - i, m = p.before + 2 * (p.ni - 1) - i;   // reflect's mirror images
    if (MODE == PAD_REFLECT && i >= 1 && l >= 0) acc += LD(g, uint(gb + l * p.inner));
    if (o >= 0 && o < p.no) acc += LD(g, uint(gb + o * p.inner));
    if (MODE == PAD_REFLECT && m >= p.before + p.ni && m < p.no) acc += LD(g, uint(gb + m * p.inner));
  }
  ST(o, uint(p.ooff) + e, acc);
}
