// variants: f64
// conv_transpose.comp — conv_transpose2d, and conv2d's input gradient (the same
// computation: host/vk/vk_conv.c), gathered: each invocation computes OB output
// channels (of one group) at one output position, out[n, o, oy, ox] = bias[o] + the
// sum over the taps (ki, kj) whose window position (iy, ix) put them there,
// iy*s - p + ki*d = oy, and the group's input channels ci, of x[n, ci, iy, ix] *
// w[ci, o % (oc/groups), ki, kj]: each input value loaded serves OB channels. Every
// output sums its own terms: no atomics, the same result on every run. x, w and bias
// are read through their strides; the output is contiguous. f32, or f64 in the f64
// variant.
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
VIEWS(1, x)
VIEWS(2, w)
VIEWS(3, b)

layout(push_constant) uniform Push {
  int n, c, h, w;          // input image (the window positions)
  int oc, oh, ow, groups;  // output image
  int kh, kw, sh, sw;
  int ph, pw, dh, dw;
  int xs[4];               // input strides n, c, h, w (n: 0 for one image)
  int ws[4];               // weight strides (c x oc/groups x kh x kw)
  int xoff, woff, boff, bstride;
  uint total;              // invocations: n x groups x channel blocks x oh x ow
  int has_bias, ooff;
} p;

#define OB 4                       // output channels per invocation

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  int cg = p.c / p.groups, og = p.oc / p.groups;
  uint nob = uint((og + OB - 1) / OB);
  int ox = int(i % uint(p.ow));
  uint r = i / uint(p.ow);
  int oy = int(r % uint(p.oh));
  r /= uint(p.oh);
  int ol = int(r % nob) * OB;
  r /= nob;
  int gi = int(r % uint(p.groups));
  int nb = int(r / uint(p.groups));
  int no = min(OB, og - ol), c0 = gi * cg;
  VAL acc[OB];
  int wcol[OB];                             // each channel's weights (past the last: the last's)
  for (int q = 0; q < OB; q++) {
    acc[q] = VAL(0);
    wcol[q] = p.woff + c0 * p.ws[0] + (ol + min(q, no - 1)) * p.ws[1];
  }
  int xb = p.xoff + nb * p.xs[0] + c0 * p.xs[1];
  for (int ki = 0; ki < p.kh; ki++) {
    int ty = oy + p.ph - ki * p.dh;
    if (ty < 0) break;                      // ki only grows: no later tap lands
    if (ty % p.sh != 0 || ty / p.sh >= p.h) continue;
    int xr = xb + (ty / p.sh) * p.xs[2];
    for (int kj = 0; kj < p.kw; kj++) {
      int tx = ox + p.pw - kj * p.dw;
      if (tx < 0) break;
      if (tx % p.sw != 0 || tx / p.sw >= p.w) continue;
      int xi = xr + (tx / p.sw) * p.xs[3];
      int wk = ki * p.ws[2] + kj * p.ws[3];
      for (int ci = 0; ci < cg; ci++) {
        VAL xv = LD(x, uint(xi + ci * p.xs[1]));
        for (int q = 0; q < OB; q++) acc[q] += xv * LD(w, uint(wcol[q] + ci * p.ws[0] + wk));
      }
    }
  }
  int plane = p.oh * p.ow;
  uint ob0 = uint(p.ooff + ((nb * p.oc + gi * og + ol) * p.oh + oy) * p.ow + ox);
  for (int q = 0; q < no; q++) {
    VAL bias = p.has_bias != 0 ? LD(b, uint(p.boff + (gi * og + ol + q) * p.bstride)) : VAL(0);
    ST(o, ob0 + uint(q * plane), acc[q] + bias);
  }
}
