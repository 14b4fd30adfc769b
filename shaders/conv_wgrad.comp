// variants: f64
// conv_wgrad.comp — conv2d's weight gradient (host/vk/vk_conv.c): each weight element
// dw[o, ci, ki, kj] is the sum over images and output positions (oy, ox) of
// g[n, o, oy, ox] * x[n, group's ci, oy*s - p + ki*d, ox*s - p + kj*d], the positions
// whose tap falls in the padding left out. The positions are split into CHUNKS
// fixed-size chunks (the host picks them from the sizes alone, so the result is the
// same on every device and run):
//   PASS 0: one invocation per block of OB output channels of one group at one
//           (ci, ki, kj), and per chunk: it sums its chunk's terms in order into
//           part[chunk][weight element] (into the output itself when there is one
//           chunk); each x it loads serves OB channels
//   PASS 1: one invocation per weight element adds up its chunks' parts in order.
// No atomics. g and x are read through their strides; the output (O x C/groups x
// kh x kw) is contiguous. f32, or f64 in the f64 variant.
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

#define OB 4                       // output channels per invocation (PASS 0)
layout(constant_id = 3) const int PASS = 0;

VIEWS(0, o)
VIEWS(1, g)                        // PASS 1: the parts
VIEWS(2, x)

layout(push_constant) uniform Push {
  int n, c, h, w;          // input image
  int oc, oh, ow, groups;  // output positions taken (may be fewer than the image holds)
  int kh, kw, sh, sw;
  int ph, pw, dh, dw;
  int gs[4];               // grad_output strides n, c, h, w (n: 0 for one image)
  int xs[4];               // input strides
  int goff, xoff;
  uint total;              // invocations
  int ooff;
  int chunks, chunk;       // chunks, positions per chunk
  uint welems;             // weight elements
} p;

// The positions o in [0, nout) whose tap o*s + q lands inside [0, nin): [lo, hi).
ivec2 tap_range(int nin, int nout, int s, int q) {
  int a = q >= 0 ? 0 : (-q + s - 1) / s;
  int b = nin - 1 - q < 0 ? 0 : (nin - 1 - q) / s + 1;
  a = min(a, nout);
  b = max(min(b, nout), a);
  return ivec2(a, b);
}

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  if (PASS == 1) {
    VAL s = VAL(0);
    for (int k = 0; k < p.chunks; k++) s += LD(g, uint(k) * p.welems + i);
    ST(o, uint(p.ooff) + i, s);
    return;
  }
  int cg = p.c / p.groups, og = p.oc / p.groups;
  int nob = (og + OB - 1) / OB;
  // neighbouring invocations: neighbouring taps (nearby x, the same g)
  int kj = int(i % uint(p.kw));
  uint r = i / uint(p.kw);
  int ki = int(r % uint(p.kh));
  r /= uint(p.kh);
  int ci = int(r % uint(cg));
  r /= uint(cg);
  int ob = int(r % uint(nob)) * OB;
  r /= uint(nob);
  int gi = int(r % uint(p.groups));
  int ck = int(r / uint(p.groups));
  int o0 = gi * og + ob, no = min(OB, og - ob);
  int qy = ki * p.dh - p.ph, qx = kj * p.dw - p.pw;
  ivec2 ry = tap_range(p.h, p.oh, p.sh, qy), rx = tap_range(p.w, p.ow, p.sw, qx);
  int ny = ry.y - ry.x, nx = rx.y - rx.x;
  int k0 = ck * p.chunk, k1 = min(p.n * ny * nx, k0 + p.chunk);
  int gb = p.goff + ry.x * p.gs[2] + rx.x * p.gs[3];
  int xb = p.xoff + (gi * cg + ci) * p.xs[1] + (ry.x * p.sh + qy) * p.xs[2] +
           (rx.x * p.sw + qx) * p.xs[3];
  int xsy = p.sh * p.xs[2], xsx = p.sw * p.xs[3];
  int gch[OB];                              // each channel's plane (past the last: the last's)
  VAL acc[OB];
  for (int q = 0; q < OB; q++) {
    gch[q] = (o0 + min(q, no - 1)) * p.gs[1];
    acc[q] = VAL(0);
  }
  for (int k = k0; k < k1; k++) {
    int jx = k % nx, rr = k / nx;
    int jy = rr % ny, nb = rr / ny;
    VAL xv = LD(x, uint(xb + nb * p.xs[0] + jy * xsy + jx * xsx));
    int gp = gb + nb * p.gs[0] + jy * p.gs[2] + jx * p.gs[3];
    for (int q = 0; q < OB; q++) acc[q] += LD(g, uint(gp + gch[q])) * xv;
  }
  // element (o, ci, ki, kj) of the weight, in its chunk's slice of the parts
  uint e = uint(((o0 * cg + ci) * p.kh + ki) * p.kw + kj), step = uint(cg * p.kh * p.kw);
  uint base = p.chunks == 1 ? uint(p.ooff) : uint(ck) * p.welems;
  for (int q = 0; q < no; q++) ST(o, base + e + uint(q) * step, acc[q]);
}
