// variants: x16
// shape_remap.comp — roll and repeat as one copy with a remapped index: out (contiguous
// from off_o, shape up to 8 dims) element i at coordinates c takes src's element at
// coordinates c' (src strides ss), moved as raw bits.
//   MODE 0 ROLL      c'[k] = (c[k] + a[k]) mod shape[k] (a[k] = size - shift, in [0, size))
//   MODE 1 ROLLFLAT  the flattened tensor rolls: flat i' = (i + a[0]) mod numel
//   MODE 2 REPEAT    c'[k] = c[k] mod a[k] (a[k] the source's size; leading dims 1)
#version 450
#include "common.glsl"
#include "index_raw.glsl"

layout(constant_id = 3) const int MODE = 0;
layout(constant_id = 4) const int ES = 4;

VIEWS(0, o)
VIEWS(1, s)
RAW_MOVER(move, o, s)

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int off_o, off_s;
  int shape[8];
  int ss[8];
  int a[8];
} p;

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  uint r = i;
  if (MODE == 1) {
    r += uint(p.a[0]);
    if (r >= p.numel) r -= p.numel;
  }
  int os = p.off_s;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    uint c = r % n;
    r /= n;
    if (MODE == 0) {
      c += uint(p.a[k]);
      if (c >= n) c -= n;
    } else if (MODE == 2) {
      c %= uint(p.a[k]);
    }
    os += int(c) * p.ss[k];
  }
  move(uint(p.off_o) + i, uint(os));
}
