// variants: x16
// resize_pad.comp — pad, one output element per invocation (host/vk/vk_resize.c):
// each padded dim maps the output index o to the source index o - before, or where
// that falls outside the input: constant mode the fill value, reflect -i or
// 2*(size-1) - i (one bounce: the padding is less than the size), replicate the
// nearest edge. pad moves elements and never computes, so it copies raw elements of
// ES bytes (16-bit ones in the x16 variant) whatever their dtype. Up to 6 dims, each
// with its output size, input size, padding in front and input stride (dims the host
// merged or split to fit); the output is contiguous.
#version 450
#include "common.glsl"

#define PAD_CONSTANT 0
#define PAD_REFLECT 1
#define PAD_REPLICATE 2
layout(constant_id = 3) const int ES = 4;     // element size in bytes
layout(constant_id = 4) const int MODE = 0;

VIEWS(0, o)
VIEWS(1, x)

layout(push_constant) uniform Push {
  int ndim;
  uint total;
  int xoff, ooff;
  uint fill[2];            // the fill element's bits
  int oshape[6], isize[6], before[6], xs[6];
} p;

void main() {
  uint i = flat_id();
  if (i >= p.total) return;
  uint r = i;
  int src = p.xoff;
  bool fill = false;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.oshape[k]);
    int s = int(r % n) - p.before[k];
    r /= n;
    int size = p.isize[k];
    if (s < 0 || s >= size) {
      if (MODE == PAD_CONSTANT) fill = true;
      else if (MODE == PAD_REFLECT) s = s < 0 ? -s : 2 * (size - 1) - s;
      else s = s < 0 ? 0 : size - 1;
    }
    src += s * p.xs[k];
  }
  uint d = uint(p.ooff) + i, si = uint(src);
  if (ES == 1) o_u8[d] = fill ? uint8_t(p.fill[0] & 0xffu) : x_u8[si];
#ifdef HAS_16
  else if (ES == 2) o_u16[d] = fill ? uint16_t(p.fill[0] & 0xffffu) : x_u16[si];
#endif
  else if (ES == 4) o_i32[d] = fill ? int(p.fill[0]) : x_i32[si];
  else o_i64[d] = fill ? int64_t(uint64_t(p.fill[0]) | (uint64_t(p.fill[1]) << 32)) : x_i64[si];
}
