// variants: x16
// sort_merge.comp — one merge pass over lines whose runs of w (key, position) pairs are
// sorted (sort_block.comp made runs of CAP): runs 2m and 2m+1 become one. Pair i of a
// run lands at its place in the run plus its rank in the partner run (a binary search:
// pairs are all distinct, positions being unique, so ranks never tie). Deterministic,
// and the same order as the cpu's merge sort. EMIT: the last pass writes the first k of
// each line to the outputs instead of K2, P2.
#version 450
#include "common.glsl"
#include "index_raw.glsl"

layout(constant_id = 3) const int EMIT = 0;
layout(constant_id = 4) const int ES = 4;
layout(constant_id = 5) const int DT = DT_F32;

VIEWS(0, s)
ACCESSORS(s, DT)
layout(std430, binding = 1) buffer K1b { uint64_t K1[]; };
layout(std430, binding = 2) buffer P1b { uint P1[]; };
layout(std430, binding = 3) buffer K2b { uint64_t K2[]; };
layout(std430, binding = 4) buffer P2b { uint P2[]; };
VIEWS(5, ov)
VIEWS(6, oi)
RAW_MOVER(move, ov, s)

layout(push_constant) uniform Push {
  int ndim;
  uint n, k, rows;
  uint w;
  int in_off, sd;
  int inner;
  int base;
  int pad;
  int oshape[7];
  int ostr[7];
} p;

#include "sort_common.glsl"

void main() {
  uint e = flat_id();
  if (e >= p.rows * p.n) return;
  uint r = e / p.n, i = e % p.n, line = r * p.n;
  uint64_t key = K1[e];
  uint pos = P1[e];
  uint run = i / p.w, start = run * p.w, pstart = (run ^ 1u) * p.w;
  uint to = i;
  if (pstart < p.n) {
    uint lo = 0u, hi = min(pstart + p.w, p.n) - pstart;
    while (lo < hi) {
      uint mid = (lo + hi) >> 1;
      if (kv_less(K1[line + pstart + mid], P1[line + pstart + mid], key, pos)) lo = mid + 1u;
      else hi = mid;
    }
    to = min(start, pstart) + (i - start) + lo;
  }
  if (EMIT != 0) {
    if (to < p.k) emit(r, to, pos);
  } else {
    K2[line + to] = key;
    P2[line + to] = pos;
  }
}
