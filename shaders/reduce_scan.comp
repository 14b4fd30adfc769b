// variants: f64
// reduce_scan.comp — cumsum: running sums along one dim, for each "line" (the other
// dims, merged by the host: lshape with strides lsx / lsy), x strided, y any layout.
// Semantics of host/cpu/reduce_scan.c: integer sums wrap in int64; floats sum in
// WIDE (float for f32 data, double in the f64 variant).
//
// MODE 0 (THREAD): one thread per line, a plain running sum (short lines, or many
//   lines whose elements lie side by side in memory).
// MODE 1 (GROUP): one workgroup per (line, chunk): thread t takes a contiguous piece
//   of the chunk, the pieces' sums are scanned in shared memory, then each thread
//   writes its piece from its prefix. A line cut into several chunks adds the totals
//   of the chunks before it (from MODE 2).
// MODE 2 (TOTALS): one workgroup per (line, chunk): the chunk's sum -> tot.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int DT = 0;
layout(constant_id = 4) const int MODE = 0;

VIEWS(0, x)
VIEWS(1, y)
ACCESSORS(x, DT)
ACCESSORS(y, DT)
layout(std430, binding = 2) buffer TOT { int64_t tot[]; };    // chunk totals (float bits for floats)

layout(push_constant) uniform Push {
  uint nlines;
  int len;
  int nl;
  int off_x, off_y;
  int sx, sy;          // strides along the summed dim
  int chunk, nchunk;   // GROUP / TOTALS: positions per chunk, chunks per line
  int lshape[4];
  int lsx[4];
  int lsy[4];
} p;

const bool INT = DT == DT_I64;
const uint WG = gl_WorkGroupSize.x;

// a running value: float or int64 by DT (the other field stays 0)
struct Val { WIDE f; int64_t i; };

Val vzero() { Val v; v.f = WIDE(0); v.i = 0l; return v; }
Val vadd(Val a, Val b) { a.f += b.f; a.i += b.i; return a; }

Val load(int k) {
  Val v = vzero();
  if (INT) v.i = x_load_in(uint(k));
  else v.f = x_load_fl(uint(k));
  return v;
}

void store(int k, Val v) {
  if (INT) y_store_i(uint(k), v.i);
  else y_store_f(uint(k), v.f);
}

int64_t vbits(Val v) {
  if (INT) return v.i;
#ifdef HAS_F64
  return doubleBitsToInt64(v.f);
#else
  return int64_t(floatBitsToInt(v.f));
#endif
}

Val vfrom(int64_t b) {
  Val v = vzero();
  if (INT) v.i = b;
#ifdef HAS_F64
  else v.f = int64BitsToDouble(b);
#else
  else v.f = intBitsToFloat(int(b));
#endif
  return v;
}

// storage indices of position 0 of line l in x and y
void line_base(uint l, out int bx, out int by) {
  bx = p.off_x;
  by = p.off_y;
  for (int d = p.nl - 1; d >= 0; d--) {
    uint s = uint(p.lshape[d]);
    int k = int(l % s);
    bx += k * p.lsx[d];
    by += k * p.lsy[d];
    l /= s;
  }
}

shared WIDE s_f[WG];
shared int64_t s_i[WG];

void main() {
  if (MODE == 0) {
    uint l = flat_id();
    if (l >= p.nlines) return;
    int bx, by;
    line_base(l, bx, by);
    // floats: a compensated (Kahan) running sum, as the line may be long
    Val acc = vzero();
    precise WIDE comp = WIDE(0);
    for (int k = 0; k < p.len; k++) {
      Val v = load(bx + k * p.sx);
      if (!INT) {
        precise WIDE yv = v.f - comp;
        precise WIDE t = acc.f + yv;
        comp = (t - acc.f) - yv;
        acc.f = t;
      } else {
        acc.i += v.i;
      }
      store(by + k * p.sy, acc);
    }
    return;
  }
  uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  uint l = g / uint(p.nchunk);
  if (l >= p.nlines) return;
  int c = int(g % uint(p.nchunk));
  int lo = c * p.chunk, hi = min(lo + p.chunk, p.len);
  int bx, by;
  line_base(l, bx, by);
  uint t = gl_LocalInvocationID.x;
  int per = (hi - lo + int(WG) - 1) / int(WG);
  int a = min(lo + int(t) * per, hi), b = min(a + per, hi);
  Val mine = vzero();
  for (int k = a; k < b; k++) mine = vadd(mine, load(bx + k * p.sx));
  s_f[t] = mine.f;
  s_i[t] = mine.i;
  barrier();
  if (MODE == 2) {                            // the chunk's total, by a tree
    for (uint s = WG / 2; s > 0; s >>= 1) {
      if (t < s) { s_f[t] += s_f[t + s]; s_i[t] += s_i[t + s]; }
      barrier();
    }
    if (t == 0) { Val v; v.f = s_f[0]; v.i = s_i[0]; tot[g] = vbits(v); }
    return;
  }
  // inclusive scan of the pieces' sums (Hillis-Steele)
  for (uint s = 1; s < WG; s <<= 1) {
    WIDE f = t >= s ? s_f[t - s] : WIDE(0);
    int64_t i = t >= s ? s_i[t - s] : 0l;
    barrier();
    s_f[t] += f;
    s_i[t] += i;
    barrier();
  }
  Val acc = vzero();
  for (int k = 0; k < c; k++) acc = vadd(acc, vfrom(tot[l * uint(p.nchunk) + uint(k)]));
  if (t > 0) { Val v; v.f = s_f[t - 1]; v.i = s_i[t - 1]; acc = vadd(acc, v); }
  for (int k = a; k < b; k++) {
    acc = vadd(acc, load(bx + k * p.sx));
    store(by + k * p.sy, acc);
  }
}
