// variants: f64
// pool_fwd.comp — max_pool2d, avg_pool2d and adaptive_avg_pool2d (KIND), one output
// element per invocation (host/vk/vk_pool.c), window bounds as host/cpu/pool.c has
// them. Max picks as PyTorch: the first max in window order, except that a NaN
// replaces whatever came before it (the last NaN wins); a window of -inf picks its
// first tap, one with no tap inside the image gives -inf. KIND_PICKS writes the pick
// (y * w + x in its plane, -1 for none) as an int32 instead: max_pool2d's gradient
// reads it. The input is read through its strides; the output is contiguous.
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

#define KIND_MAX 0
#define KIND_AVG 1
#define KIND_ADAPTIVE 2
#define KIND_PICKS 3
layout(constant_id = 3) const int KIND = 0;

VIEWS(0, o)
VIEWS(1, x)

layout(push_constant) uniform Push {
  int c, h, w, oh, ow;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  int xs[4];               // input strides n, c, h, w (n: 0 for one image)
  int xoff;
  uint total;              // output elements
  int count_include_pad, divisor, ooff;
} p;

// The taps [lo, hi) of a window starting at o0 (k taps, dilation d) inside [0, n).
ivec2 inside(int o0, int k, int d, int n) {
  int a = o0 < 0 ? (-o0 + d - 1) / d : 0;
  int b = n - 1 - o0 < 0 ? 0 : min(k, (n - 1 - o0) / d + 1);
  return ivec2(a, max(a, b));
}

// avg_pool2d's window along one axis: taps clipped to the image, and the span clipped
// to the padded image (what count_include_pad divides by) in z.
ivec3 avg_span(int o, int n, int k, int s, int pad) {
  int a = o * s - pad;
  int b = min(a + k, n + pad);
  return ivec3(max(a, 0), min(b, n), b - a);
}

// adaptive_avg_pool2d's window of output o: [floor(o*n/no), ceil((o+1)*n/no))
ivec2 adaptive_span(int o, int n, int no) {
  return ivec2(int(int64_t(o) * n / no), int((int64_t(o + 1) * n + no - 1) / no));
}

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  int ox = int(i % uint(p.ow));
  uint r = i / uint(p.ow);
  int oy = int(r % uint(p.oh));
  int plane = int(r / uint(p.oh));
  int base = p.xoff + (plane / p.c) * p.xs[0] + (plane % p.c) * p.xs[1];
  if (KIND == KIND_MAX || KIND == KIND_PICKS) {
    int y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
    ivec2 ky = inside(y0, p.kh, p.dh, p.h), kx = inside(x0, p.kw, p.dw, p.w);
    int pick = -1;
    VAL m = VAL(uintBitsToFloat(0xff800000u));   // -inf
    if (ky.x < ky.y && kx.x < kx.y) {
      int nan_at = -1;
      pick = (y0 + ky.x * p.dh) * p.w + x0 + kx.x * p.dw;
      for (int ki = ky.x; ki < ky.y; ki++) {
        int y = y0 + ki * p.dh;
        for (int kj = kx.x; kj < kx.y; kj++) {
          int xx = x0 + kj * p.dw;
          VAL v = LD(x, uint(base + y * p.xs[2] + xx * p.xs[3]));
          if (isnan(v)) nan_at = y * p.w + xx;
          else if (v > m) { m = v; pick = y * p.w + xx; }
        }
      }
      if (nan_at >= 0) pick = nan_at;
    }
    if (KIND == KIND_PICKS) {
      o_i32[uint(p.ooff) + i] = pick;
    } else {
      VAL v = pick < 0 ? m : LD(x, uint(base + (pick / p.w) * p.xs[2] + (pick % p.w) * p.xs[3]));
      ST(o, uint(p.ooff) + i, v);
    }
    return;
  }
  ivec2 sy, sx;
  int div;
  if (KIND == KIND_AVG) {
    ivec3 ay = avg_span(oy, p.h, p.kh, p.sh, p.ph), ax = avg_span(ox, p.w, p.kw, p.sw, p.pw);
    sy = ay.xy;
    sx = ax.xy;
    div = p.divisor != 0 ? p.divisor
        : p.count_include_pad != 0 ? ay.z * ax.z : (sy.y - sy.x) * (sx.y - sx.x);
    if (sy.x >= sy.y || sx.x >= sx.y) {
      ST(o, uint(p.ooff) + i, VAL(0));
      return;
    }
  } else {
    sy = adaptive_span(oy, p.h, p.oh);
    sx = adaptive_span(ox, p.w, p.ow);
    div = (sy.y - sy.x) * (sx.y - sx.x);
  }
  VAL s = VAL(0);
  for (int y = sy.x; y < sy.y; y++)
    for (int xx = sx.x; xx < sx.y; xx++) s += LD(x, uint(base + y * p.xs[2] + xx * p.xs[3]));
  ST(o, uint(p.ooff) + i, s / VAL(div));
}
