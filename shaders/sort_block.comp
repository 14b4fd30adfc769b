// variants: x16
// sort_block.comp — sort and topk within workgroups: a bitonic sort in shared memory of
// CAP (key, position) pairs (sort_common.glsl). Lines of n <= CAP are padded to SEG, the
// power of two >= n, and CAP / SEG of them sort side by side; longer lines are cut into
// chunks of CAP (SEG = CAP) that sort_merge.comp then merges. Pads sort last.
//   SRC 0: keys made from the values (strided lines); 1: read from K, P (line r at r*n)
//   DST 0: the first k of each line go to the outputs (values raw, positions + base);
//          1: K, P written back
#version 450
#include "common.glsl"
#include "index_raw.glsl"

layout(constant_id = 3) const int CAP = 2048;
layout(constant_id = 4) const int DT = DT_F32;
layout(constant_id = 5) const int SRC = 0;
layout(constant_id = 6) const int DST = 0;
layout(constant_id = 7) const int ES = 4;

VIEWS(0, s)
ACCESSORS(s, DT)
layout(std430, binding = 1) buffer Kb { uint64_t K[]; };
layout(std430, binding = 2) buffer Pb { uint P[]; };
VIEWS(3, ov)
VIEWS(4, oi)
RAW_MOVER(move, ov, s)

layout(push_constant) uniform Push {
  int ndim;            // of oshape, ostr
  uint n, k, rows;
  uint seg;            // SEG
  uint nchunks;        // chunks per line (1 when lines fit)
  int in_off, sd;
  int inner;
  int base;
  uint flip_lo, flip_hi;
  int oshape[7];
  int ostr[7];
} p;

#include "sort_common.glsl"

shared uint64_t sk[CAP];
shared uint sp[CAP];

// slot e of this workgroup: its line and its place in the line
void slot(uint g, uint e, out uint r, out uint l) {
  if (p.nchunks > 1u) {
    r = g / p.nchunks;
    l = (g % p.nchunks) * uint(CAP) + e;
  } else {
    r = g * (uint(CAP) / p.seg) + e / p.seg;
    l = e % p.seg;
  }
}

void main() {
  uint g = flat_group(), lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
  uint64_t flip = uint64_t(p.flip_lo) | (uint64_t(p.flip_hi) << 32);
  for (uint e = lid; e < uint(CAP); e += wg) {
    uint r, l;
    slot(g, e, r, l);
    uint64_t key = ~0ul;
    uint pos = 0xffffffffu;
    if (r < p.rows && l < p.n) {
      if (SRC == 0) {
        key = value_key(line_at(r) + uint(int(l) * p.sd)) ^ flip;
        pos = l;
      } else {
        key = K[r * p.n + l];
        pos = P[r * p.n + l];
      }
    }
    sk[e] = key;
    sp[e] = pos;
  }
  barrier();
  uint segmask = p.seg - 1u;
  for (uint kk = 2u; kk <= p.seg; kk <<= 1) {
    for (uint j = kk >> 1; j > 0u; j >>= 1) {
      for (uint t = lid; t < uint(CAP) / 2u; t += wg) {
        uint i = 2u * t - (t & (j - 1u)), m = i + j;
        bool up = ((i & segmask) & kk) == 0u;
        bool greater = kv_less(sk[m], sp[m], sk[i], sp[i]);
        if (greater == up) {
          uint64_t tk = sk[i]; sk[i] = sk[m]; sk[m] = tk;
          uint tp = sp[i]; sp[i] = sp[m]; sp[m] = tp;
        }
      }
      barrier();
    }
  }
  for (uint e = lid; e < uint(CAP); e += wg) {
    uint r, l;
    slot(g, e, r, l);
    if (r >= p.rows || l >= p.n) continue;
    if (DST == 0) {
      if (l < p.k) emit(r, l, sp[e]);
    } else {
      K[r * p.n + l] = sk[e];
      P[r * p.n + l] = sp[e];
    }
  }
}
