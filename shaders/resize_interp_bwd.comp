// variants: f64
// resize_interp_bwd.comp — interpolate's gradient, gathered (host/vk/vk_resize.c):
// one invocation per input element sums the output gradients that read it, each times
// the weight it was read with. The host inverts interpolate's taps per axis: binding 2
// holds, for the rows, h + 1 offsets into a list of the output rows that read each
// input row (CSR), that list, and then the same for the columns (w + 1 offsets, the
// list); binding 3 the weight of each list entry (rows' entries, then the columns').
// A 2-D tap's weight is its row's times its column's, as the forward's. No atomics:
// the same result on every run. The output's gradient is read through its strides;
// the input's gradient is contiguous.
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

VIEWS(0, o)
VIEWS(1, g)
VIEWS(2, t)
VIEWS(3, l)

layout(push_constant) uniform Push {
  int c, h, w, oh, ow;
  int gs[4];               // grad_output strides n, c, h, w
  int goff;
  uint total;              // input elements
  int ooff;
  int ny;                  // entries in the rows' list
} p;

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  int x = int(i % uint(p.w));
  uint r = i / uint(p.w);
  int y = int(r % uint(p.h));
  int plane = int(r / uint(p.h));
  int gb = p.goff + (plane / p.c) * p.gs[0] + (plane % p.c) * p.gs[1];
  int ey = p.h + 1;                         // the rows' list
  int px = ey + p.ny;                       // the columns' offsets
  int ex = px + p.w + 1;                    // the columns' list
  int ya = t_i32[y], yb = t_i32[y + 1], xa = t_i32[px + x], xb = t_i32[px + x + 1];
  VAL acc = VAL(0);
  for (int a = ya; a < yb; a++) {
    int oy = t_i32[ey + a];
    VAL wy = LD(l, a);
    int gr = gb + oy * p.gs[2];
    for (int b = xa; b < xb; b++)
      acc += wy * LD(l, p.ny + b) * LD(g, uint(gr + t_i32[ex + b] * p.gs[3]));
  }
  ST(o, uint(p.ooff) + i, acc);
}
