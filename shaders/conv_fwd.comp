// variants: f64
// conv_fwd.comp — conv2d (host/vk/vk_conv.c), direct: each invocation computes a block
// of OB output channels (of one group) x PB neighbouring output columns of one output
// row, so that each input value it loads serves OB channels and each weight PB
// columns. out[n, o, oy, ox] = bias[o] + sum over the group's input channels ci and
// the taps (ki, kj) of x[n, ci, oy*s - p + ki*d, ox*s - p + kj*d] * w[o, ci, ki, kj],
// taps in the padding left out, in the order ci, ki, kj. x, w and bias are read
// through their strides; the output is contiguous. Data is f32, or f64 in the f64
// variant (the host picks it for f64 calls), and so is the sum. Export's fused_conv2d
// runs it with an activation (ACT) applied to each result as it is stored, in
// pointwise_math.glsl's math, the eager ops' own.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int ACT = 0;  // a pointwise_ops.h code; 0: none

#ifdef HAS_F64
#define F64_VALUES true
#endif
#include "pointwise_math.glsl"

#ifdef HAS_F64
#define VAL double
#define LD(N, i) N##_f64[i]
#define ST(N, i, v) N##_f64[i] = (v)
#else
#define VAL float
#define LD(N, i) N##_f32[i]
#define ST(N, i, v) N##_f32[i] = (v)
#endif

#define OB 4                       // output channels per invocation
#define PB 4                       // output columns per invocation

VIEWS(0, o)
VIEWS(1, x)
VIEWS(2, w)
VIEWS(3, b)

layout(push_constant) uniform Push {
  int n, c, h, w;          // input image
  int oc, oh, ow, groups;  // output
  int kh, kw, sh, sw;
  int ph, pw, dh, dw;
  int xs[4];               // input strides n, c, h, w (n: 0 for one image)
  int ws[4];               // weight strides
  int xoff, woff, boff, bstride;
  uint total;              // invocations: n x groups x channel blocks x oh x column blocks
  int has_bias, ooff;
} p;

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  int cg = p.c / p.groups, og = p.oc / p.groups;
  uint ncb = uint((p.ow + PB - 1) / PB), nob = uint((og + OB - 1) / OB);
  int ox0 = int(i % ncb) * PB;
  uint r = i / ncb;
  int oy = int(r % uint(p.oh));
  r /= uint(p.oh);
  int ob = int(r % nob) * OB;
  r /= nob;
  int gi = int(r % uint(p.groups));
  int nb = int(r / uint(p.groups));
  int o0 = gi * og + ob, no = min(OB, og - ob), nx = min(PB, p.ow - ox0);
  int y0 = oy * p.sh - p.ph;
  // the rows of taps inside the image: [ky0, ky1)
  int ky0 = y0 >= 0 ? 0 : (-y0 + p.dh - 1) / p.dh;
  int ky1 = p.h - 1 - y0 < 0 ? 0 : min(p.kh, (p.h - 1 - y0) / p.dh + 1);
  VAL acc[OB][PB];
  for (int q = 0; q < OB; q++)
    for (int j = 0; j < PB; j++) acc[q][j] = VAL(0);
  int wrow[OB];                             // each channel's weights (past the last: the last's)
  for (int q = 0; q < OB; q++) wrow[q] = p.woff + (o0 + min(q, no - 1)) * p.ws[0];
  int xb = p.xoff + nb * p.xs[0] + gi * cg * p.xs[1];
  for (int ci = 0; ci < cg; ci++) {
    for (int ki = ky0; ki < ky1; ki++) {
      int xr = xb + (y0 + ki * p.dh) * p.xs[2];
      int wk = ci * p.ws[1] + ki * p.ws[2];
      for (int kj = 0; kj < p.kw; kj++) {
        VAL xv[PB];
        bool any = false;
        for (int j = 0; j < PB; j++) {
          int ix = (ox0 + j) * p.sw - p.pw + kj * p.dw;
          bool in_ = j < nx && ix >= 0 && ix < p.w;
          xv[j] = in_ ? LD(x, uint(xr + ix * p.xs[3])) : VAL(0);
          any = any || in_;
        }
        if (!any) continue;
        for (int q = 0; q < OB; q++) {
          VAL wv = LD(w, uint(wrow[q] + wk + kj * p.ws[3]));
          for (int j = 0; j < PB; j++) acc[q][j] += wv * xv[j];
        }
      }
    }
    xb += p.xs[1];
  }
  int plane = p.oh * p.ow;
  uint ob0 = uint(p.ooff + ((nb * p.oc + o0) * p.oh + oy) * p.ow + ox0);
  for (int q = 0; q < no; q++) {
    VAL bias = p.has_bias != 0 ? LD(b, uint(p.boff + (o0 + q) * p.bstride)) : VAL(0);
    for (int j = 0; j < nx; j++) {
      VAL v = acc[q][j] + bias;
      if (ACT != 0) v = pw_float_op(ACT, v, VAL(0), VAL(0), VAL(0), VAL(0), 0);
      ST(o, ob0 + uint(q * plane + j), v);
    }
  }
}
