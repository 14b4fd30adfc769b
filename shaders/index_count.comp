// variants: x16
// index_count.comp — masked_select and nonzero, whose output length depends on the
// data: count, scan, fill. Elements are taken in blocks of BLK = 4 * 256, in row-major
// order over shape (up to 8 dims; operand 0 the values with strides s0, operand 1 the
// mask with strides s1).
//   MODE 0 COUNT  cnt[b] = the selected elements of block b
//   MODE 1 SCAN   one workgroup: cnt[0..nblocks) becomes its exclusive prefix sum and
//                 cnt[nblocks] the total (the host reads that one back to allocate)
//   MODE 2 FILL   each block writes its selected elements, in order, from cnt[b]:
//                 KIND 0 masked_select the values (raw, ES bytes), KIND 1 nonzero the
//                 row of nd int64 coordinates (+ base)
// nonzero tests bits: with FLOATBITS the sign bit is ignored (-0 is zero, NaN is not).
#version 450
#include "common.glsl"
#include "index_raw.glsl"

layout(constant_id = 3) const int MODE = 0;
layout(constant_id = 4) const int KIND = 0;
layout(constant_id = 5) const int ES = 4;
layout(constant_id = 6) const int FLOATBITS = 0;

VIEWS(0, a)
layout(std430, binding = 1) buffer Mb { uint8_t m[]; };
layout(std430, binding = 2) buffer Cb { uint cnt[]; };
VIEWS(3, o)
RAW_MOVER(move, o, a)

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int off0, off1;
  uint nblocks;
  int base;
  int shape[8];
  int s0[8];
  int s1[8];
} p;

const uint WG = 256;
const uint PER = 4;
shared uint sh[WG];

bool nonzero_at(uint i) {
  switch (ES) {
  case 1: return a_u8[i] != uint8_t(0);
#ifdef HAS_16
  case 2: return (uint(a_u16[i]) & (FLOATBITS != 0 ? 0x7fffu : 0xffffu)) != 0u;
#endif
  case 4: return (uint(a_i32[i]) & (FLOATBITS != 0 ? 0x7fffffffu : 0xffffffffu)) != 0u;
  default: return (uint64_t(a_i64[i]) & (FLOATBITS != 0 ? 0x7ffffffffffffffful : ~0ul)) != 0ul;
  }
}

// whether element e is selected; its value's offset in o0
bool selected(uint e, out uint o0) {
  int x = p.off0, y = p.off1;
  uint r = e;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    int c = int(r % n);
    r /= n;
    x += c * p.s0[k];
    y += c * p.s1[k];
  }
  o0 = uint(x);
  return KIND == 0 ? m[uint(y)] != uint8_t(0) : nonzero_at(uint(x));
}

// exclusive scan of v over the workgroup (Hillis-Steele in shared memory); total too
uint scan_excl(uint v, out uint total) {
  uint lid = gl_LocalInvocationID.x;
  sh[lid] = v;
  barrier();
  for (uint h = 1u; h < WG; h <<= 1) {
    uint add = lid >= h ? sh[lid - h] : 0u;
    barrier();
    sh[lid] += add;
    barrier();
  }
  total = sh[WG - 1u];
  uint incl = sh[lid];
  barrier();
  return incl - v;
}

void main() {
  uint lid = gl_LocalInvocationID.x;
  if (MODE == 1) {
    uint carry = 0u;
    for (uint at = 0u; at < p.nblocks; at += WG) {
      uint i = at + lid;
      uint v = i < p.nblocks ? cnt[i] : 0u;
      uint total;
      uint ex = scan_excl(v, total);
      if (i < p.nblocks) cnt[i] = carry + ex;
      carry += total;
    }
    if (lid == 0u) cnt[p.nblocks] = carry;
    return;
  }
  uint b = flat_group();
  if (b >= p.nblocks) return;          // the whole workgroup: barriers stay uniform
  uint first = b * WG * PER + lid * PER;
  bool sel[PER];
  uint where[PER];
  uint mine = 0u;
  for (uint j = 0u; j < PER; j++) {
    uint e = first + j;
    sel[j] = e < p.numel && selected(e, where[j]);
    mine += sel[j] ? 1u : 0u;
  }
  uint total;
  uint at = scan_excl(mine, total);
  if (MODE == 0) {
    if (lid == 0u) cnt[b] = total;
    return;
  }
  at += cnt[b];
  for (uint j = 0u; j < PER; j++) {
    if (!sel[j]) continue;
    if (KIND == 0) {
      move(at, where[j]);
    } else {
      uint r = first + j;
      for (int k = p.ndim - 1; k >= 0; k--) {
        uint n = uint(p.shape[k]);
        o_i64[at * uint(p.ndim) + uint(k)] = int64_t(r % n) + int64_t(p.base);
        r /= n;
      }
    }
    at++;
  }
}
