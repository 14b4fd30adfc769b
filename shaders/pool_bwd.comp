// variants: f64
// pool_bwd.comp — the gradients of max_pool2d, avg_pool2d and adaptive_avg_pool2d
// (KIND), gathered (host/vk/vk_pool.c): one invocation per input element sums the
// output gradients of the windows that read it, in window order (oy, then ox), with
// the weight the forward read it with. No atomics: the same result on every run.
// max: a window passes its gradient on only to the element it picked (the picks
// pool_fwd.comp wrote, binding 2); avg: divided by the forward's divisor; adaptive: by
// the window's area. The output's gradient is read through its strides; the input's
// gradient is contiguous.
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
layout(constant_id = 3) const int KIND = 0;

VIEWS(0, o)
VIEWS(1, g)
VIEWS(2, k)

layout(push_constant) uniform Push {
  int c, h, w, oh, ow;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  int gs[4];               // grad_output strides n, c, h, w (n: 0 for one image)
  int goff;
  uint total;              // input elements
  int count_include_pad, divisor, ooff;
} p;

ivec3 avg_span(int o, int n, int k, int s, int pad) {
  int a = o * s - pad;
  int b = min(a + k, n + pad);
  return ivec3(max(a, 0), min(b, n), b - a);
}

ivec2 adaptive_span(int o, int n, int no) {
  return ivec2(int(int64_t(o) * n / no), int((int64_t(o + 1) * n + no - 1) / no));
}

// The windows o of an avg pool (kernel k, stride s, padding pad) that may hold
// element y: o*s - pad <= y < o*s - pad + k.
ivec2 avg_windows(int y, int k, int s, int pad, int no) {
  int lo = y + pad - k + 1;
  lo = lo <= 0 ? 0 : (lo + s - 1) / s;
  return ivec2(lo, min((y + pad) / s + 1, no));
}

// The windows of an adaptive pool that may hold element y: [floor(y*no/n),
// ceil((y+1)*no/n)), checked one by one against adaptive_span.
ivec2 adaptive_windows(int y, int n, int no) {
  return ivec2(int(int64_t(y) * no / n), min(no, int((int64_t(y + 1) * no + n - 1) / n)));
}

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  int x = int(i % uint(p.w));
  uint r = i / uint(p.w);
  int y = int(r % uint(p.h));
  int plane = int(r / uint(p.h));
  int gb = p.goff + (plane / p.c) * p.gs[0] + (plane % p.c) * p.gs[1];
  VAL acc = VAL(0);
  if (KIND == KIND_MAX) {
    int me = y * p.w + x;
    int kb = plane * p.oh * p.ow;
    // tap ki of window oy reads y when oy*s - p + ki*d = y: ki downwards gives oy upwards
    for (int ki = p.kh - 1; ki >= 0; ki--) {
      int ty = y + p.ph - ki * p.dh;
      if (ty < 0 || ty % p.sh != 0 || ty / p.sh >= p.oh) continue;
      int oy = ty / p.sh;
      for (int kj = p.kw - 1; kj >= 0; kj--) {
        int tx = x + p.pw - kj * p.dw;
        if (tx < 0 || tx % p.sw != 0 || tx / p.sw >= p.ow) continue;
        int ox = tx / p.sw;
        if (k_i32[uint(kb + oy * p.ow + ox)] == me)
          acc += LD(g, uint(gb + oy * p.gs[2] + ox * p.gs[3]));
      }
    }
  } else if (KIND == KIND_AVG) {
    ivec2 wy = avg_windows(y, p.kh, p.sh, p.ph, p.oh), wx = avg_windows(x, p.kw, p.sw, p.pw, p.ow);
    for (int oy = wy.x; oy < wy.y; oy++) {
      ivec3 ay = avg_span(oy, p.h, p.kh, p.sh, p.ph);
      if (y < ay.x || y >= ay.y) continue;
      for (int ox = wx.x; ox < wx.y; ox++) {
        ivec3 ax = avg_span(ox, p.w, p.kw, p.sw, p.pw);
        if (x < ax.x || x >= ax.y) continue;
        int div = p.divisor != 0 ? p.divisor
                : p.count_include_pad != 0 ? ay.z * ax.z : (ay.y - ay.x) * (ax.y - ax.x);
        acc += LD(g, uint(gb + oy * p.gs[2] + ox * p.gs[3])) / VAL(div);
      }
    }
  } else {
    ivec2 wy = adaptive_windows(y, p.h, p.oh), wx = adaptive_windows(x, p.w, p.ow);
    for (int oy = wy.x; oy < wy.y; oy++) {
      ivec2 sy = adaptive_span(oy, p.h, p.oh);
      if (y < sy.x || y >= sy.y) continue;
      for (int ox = wx.x; ox < wx.y; ox++) {
        ivec2 sx = adaptive_span(ox, p.w, p.ow);
        if (x < sx.x || x >= sx.y) continue;
        acc += LD(g, uint(gb + oy * p.gs[2] + ox * p.gs[3])) / VAL((sy.y - sy.x) * (sx.y - sx.x));
      }
    }
  }
  ST(o, uint(p.ooff) + i, acc);
}
