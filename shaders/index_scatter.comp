// variants: x16 f64
// index_scatter.comp — scatter, scatter_add and one_hot, deterministic, in passes over
// the index positions q (row-major over the index's shape, the order the cpu writes in).
// dst is contiguous from off_d; its flat element t is the target of q.
//   MODE 0 TARGET  K[q] = t (dst's contiguous strides b[], b[d] times the index value),
//                  P[q] = q. A value out of [0, size) (size in val[0]) gets K[q] = -1,
//                  which the later passes skip, and q goes to the launch's error slot
//                  (errors.glsl): the host names the lowest such q's value at its next
//                  wait for the device. So an in-place scatter_ with a bad index may
//                  have written its good ones when the error surfaces.
//   MODE 1 WIN     win[t] = max over the q aiming at t of q + 1 (integer atomics: the
//                  result does not depend on the order they run in)
//   MODE 2 WRITE   the winner writes: dst[t] = src[q] (strides a[]) or one value; with
//                  repeated indices the last q wins, as on the cpu. FLAGS: 1 one value,
//                  2 check win (off when targets cannot repeat: one_hot)
//   MODE 3 SEGSUM  after K, P were sorted by (t, q): the first q of each run of equal t
//                  adds the run's src values into dst[t] one by one in q order, in DT
//                  (f32, f64 or i64): the cpu's sums, bit for bit, with no float atomics
#version 450
#include "common.glsl"
#include "index_raw.glsl"
#include "errors.glsl"

layout(constant_id = 3) const int MODE = 0;
layout(constant_id = 4) const int ES = 4;
layout(constant_id = 5) const int DT_I = DT_I64;
layout(constant_id = 6) const int DT = DT_F32;

VIEWS(0, ix)
ACCESSORS(ix, DT_I)
layout(std430, binding = 1) buffer Kb { int64_t K[]; };
layout(std430, binding = 2) buffer Pb { uint P[]; };
layout(std430, binding = 3) buffer Wb { uint win[]; };
VIEWS(4, s)
VIEWS(5, d)
RAW_MOVER(move, d, s)
RAW_SETTER(set, d)

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int off;         // TARGET: the index's offset; WRITE, SEGSUM: src's
  int dim;
  int base;
  int flags;
  uint val[2];     // WRITE with one value: its bits in dst's dtype; TARGET: val[0] the
                   // size of dst's dim d (the index values' range)
  int shape[8];    // the index's shape
  int a[8];        // TARGET: the index's strides; WRITE, SEGSUM: src's
  int b[8];        // TARGET: dst's contiguous strides; WRITE, SEGSUM: b[0] = dst's offset
} p;

// src's element for index position q
uint src_at(uint q) {
  int o = p.off;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    o += int(q % n) * p.a[k];
    q /= n;
  }
  return uint(o);
}

void target(uint q) {
  int oi = p.off;
  uint t = 0u, r = q;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    uint c = r % n;
    r /= n;
    oi += int(c) * p.a[k];
    if (k != p.dim) t += c * uint(p.b[k]);
  }
  int64_t v = ix_load_in(uint(oi));
  P[q] = q;
  // compare before subtracting: v - base must not overflow for INT64_MIN
  if (v < int64_t(p.base) || v - int64_t(p.base) >= int64_t(p.val[0])) {
    K[q] = -1l;
    ember_report(q);
    return;
  }
  t += uint(v - int64_t(p.base)) * uint(p.b[p.dim]);
  K[q] = int64_t(t);
}

void segsum(uint s) {
  int64_t t = K[s];
  if (t < 0l || (s > 0u && K[s - 1u] == t)) return;   // a bad index (sorted last), or not a run's first
  uint dt = uint(p.b[0]) + uint(t);
  if (DT == DT_F32) {
    float acc = d_f32[dt];
    for (uint j = s; j < p.numel && K[j] == t; j++) acc += s_f32[src_at(P[j])];
    d_f32[dt] = acc;
#ifdef HAS_F64
  } else if (DT == DT_F64) {
    double acc = d_f64[dt];
    for (uint j = s; j < p.numel && K[j] == t; j++) acc += s_f64[src_at(P[j])];
    d_f64[dt] = acc;
#endif
  } else {
    int64_t acc = d_i64[dt];
    for (uint j = s; j < p.numel && K[j] == t; j++) acc += s_i64[src_at(P[j])];
    d_i64[dt] = acc;
  }
}

void main() {
  uint q = flat_id();
  if (q >= p.numel) return;
  if (MODE == 0) {
    target(q);
  } else if (MODE == 1) {
    if (K[q] >= 0l) atomicMax(win[uint(K[q])], q + 1u);
  } else if (MODE == 2) {
    if (K[q] < 0l) return;
    uint t = uint(K[q]);
    if ((p.flags & 2) != 0 && win[t] != q + 1u) return;
    uint dt = uint(p.b[0]) + t;
    if ((p.flags & 1) != 0) set(dt, uint64_t(p.val[0]) | (uint64_t(p.val[1]) << 32));
    else move(dt, src_at(q));
  } else {
    segsum(q);
  }
}
