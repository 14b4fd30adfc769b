// variants: x16
// index_check.comp — the range check of index values, which only the device can see:
// over an index tensor of any strides (up to 8 dims, row-major walk order), each
// workgroup reduces its share to four int64 values: the first walk position whose
// value v is out of range (v < base or v - base >= size; INT64_MAX if none), that
// value, and the smallest and largest values met. The host reads the few partials
// back and finishes. Only one_hot without num_classes runs it now: the size of its
// result is the largest value, which the host must see (as PyTorch on CUDA); the other
// index ops check in their own kernels and report through an error slot (errors.glsl).
// FLAGS bit 0: no upper bound (one_hot infers its class count from the largest value).
#version 450
#include "common.glsl"
#include "index_raw.glsl"

layout(constant_id = 3) const int DT_I = DT_I64;

VIEWS(0, ix)
ACCESSORS(ix, DT_I)
layout(std430, binding = 1) buffer Res { int64_t res[]; };

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int off;
  int base;
  uint size_lo, size_hi;
  int flags;
  int pad;
  int shape[8];
  int st[8];
} p;

const uint WG = 256;
shared uint s_first[WG];
shared int64_t s_val[WG], s_min[WG], s_max[WG];

void main() {
  uint lid = gl_LocalInvocationID.x;
  uint stride = gl_NumWorkGroups.x * WG;
  int64_t size = int64_t(uint64_t(p.size_lo) | (uint64_t(p.size_hi) << 32));
  bool bounded = (p.flags & 1) == 0;
  uint first = 0xffffffffu;
  int64_t val = 0l, mn = 0x7fffffffffffffffl, mx = -0x7fffffffffffffffl - 1l;
  for (uint i = gl_GlobalInvocationID.x; i < p.numel; i += stride) {
    int o = p.off;
    uint r = i;
    for (int k = p.ndim - 1; k >= 0; k--) {
      uint n = uint(p.shape[k]);
      o += int(r % n) * p.st[k];
      r /= n;
    }
    int64_t v = ix_load_in(uint(o));
    mn = min(mn, v);
    mx = max(mx, v);
    // compare before subtracting: v - base must not overflow for INT64_MIN
    bool bad = v < int64_t(p.base) || (bounded && v - int64_t(p.base) >= size);
    if (bad && first == 0xffffffffu) {
      first = i;
      val = v;
    }
  }
  s_first[lid] = first;
  s_val[lid] = val;
  s_min[lid] = mn;
  s_max[lid] = mx;
  barrier();
  for (uint h = WG / 2; h > 0; h >>= 1) {
    if (lid < h) {
      if (s_first[lid + h] < s_first[lid]) {
        s_first[lid] = s_first[lid + h];
        s_val[lid] = s_val[lid + h];
      }
      s_min[lid] = min(s_min[lid], s_min[lid + h]);
      s_max[lid] = max(s_max[lid], s_max[lid + h]);
    }
    barrier();
  }
  if (lid == 0) {
    uint g = gl_WorkGroupID.x * 4;
    res[g] = s_first[0] == 0xffffffffu ? 0x7fffffffffffffffl : int64_t(s_first[0]);
    res[g + 1] = s_val[0];
    res[g + 2] = s_min[0];
    res[g + 3] = s_max[0];
  }
}
