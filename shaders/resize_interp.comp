// variants: f64
// resize_interp.comp — interpolate, one output element per invocation
// (host/vk/vk_resize.c). The taps come from the host, computed by host/cpu/resize.c's
// own code (PyTorch's source-index formulas, in f32 for f32 data): binding 2 holds
// the int32 source indices i0 of the rows (oh), i1 of the rows, i0 of the columns
// (ow), i1 of the columns; binding 3 their weights l0, l1 in the same order, in the
// data's dtype. Nearest reads i0 alone. The input is read through its strides; the
// output is contiguous.
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

layout(constant_id = 3) const int BILINEAR = 0;

VIEWS(0, o)
VIEWS(1, x)
VIEWS(2, t)
VIEWS(3, l)

layout(push_constant) uniform Push {
  int c, h, w, oh, ow;
  int xs[4];               // input strides n, c, h, w
  int xoff;
  uint total;              // output elements
  int ooff;
} p;

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  int ox = int(i % uint(p.ow));
  uint r = i / uint(p.ow);
  int oy = int(r % uint(p.oh));
  int plane = int(r / uint(p.oh));
  int base = p.xoff + (plane / p.c) * p.xs[0] + (plane % p.c) * p.xs[1];
  uint cx = uint(2 * p.oh);                 // the columns' taps follow the rows'
  int y0 = t_i32[oy], x0 = t_i32[cx + ox];
  if (BILINEAR == 0) {
    ST(o, uint(p.ooff) + i, LD(x, uint(base + y0 * p.xs[2] + x0 * p.xs[3])));
    return;
  }
  int y1 = t_i32[p.oh + oy], x1 = t_i32[cx + p.ow + ox];
  VAL wy0 = LD(l, oy), wy1 = LD(l, p.oh + oy), wx0 = LD(l, cx + ox), wx1 = LD(l, cx + p.ow + ox);
  int r0 = base + y0 * p.xs[2], r1 = base + y1 * p.xs[2];
  int c0 = x0 * p.xs[3], c1 = x1 * p.xs[3];
  VAL v = wy0 * (wx0 * LD(x, uint(r0 + c0)) + wx1 * LD(x, uint(r0 + c1))) +
          wy1 * (wx0 * LD(x, uint(r1 + c0)) + wx1 * LD(x, uint(r1 + c1)));
  ST(o, uint(p.ooff) + i, v);
}
