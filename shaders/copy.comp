// variants: x16 f64
// copy.comp — dst[...] = src[...]: any strides (up to 8 dims), src broadcast (stride 0),
// converted between dtypes as ember's host converts; or, with FILL, one value (bits
// already in dst's dtype) written everywhere. Copies that convert nothing come here
// as raw integers of the element's size.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int DT_D = 0;
layout(constant_id = 4) const int DT_S = 0;
layout(constant_id = 5) const int FILL = 0;

VIEWS(0, d)
VIEWS(1, s)
ACCESSORS(d, DT_D)
ACCESSORS(s, DT_S)

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int off_d, off_s;
  int shape[8], sd[8], ss[8];
  uint fill[2];
} p;

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  int od = p.off_d, os = p.off_s;
  uint r = i;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    int c = int(r % n);
    r /= n;
    od += c * p.sd[k];
    os += c * p.ss[k];
  }
  uint di = uint(od), si = uint(os);
  if (FILL != 0) {
    int64_t bits = int64_t(uint64_t(p.fill[0]) | (uint64_t(p.fill[1]) << 32));
    d_store_i(di, bits);            // raw: DT_D is the integer dtype of the element's size
  } else if (DT_S <= DT_BF16) {
    d_store_f(di, s_load_fl(si));
  } else {
    d_store_i(di, s_load_in(si));
  }
}
