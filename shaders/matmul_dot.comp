// variants: x16 f64
// matmul_dot.comp — dot(a, b) of two strided vectors in two passes: MODE 0, each of
// ngroups workgroups sums the products of its share (a grid-stride loop, then a tree
// in shared memory) into partial q[group]; MODE 1, one workgroup sums the partials into
// out[off_o]. Floats are summed in WIDE: the host picks the f64 variant for f32
// operands where the device has f64, so f32 products are summed in double, as the
// cpu's dsdot does; integers in wrapping int64.
#version 450
#include "common.glsl"

layout(constant_id = 3) const int MODE = 0;
layout(constant_id = 4) const int DT_O = 0;
layout(constant_id = 5) const int DT_AB = 0;
layout(constant_id = 6) const int DT_Q = 0;     // partials: f64 or f32, or i64

const bool INT = DT_AB > DT_BF16;
const int NT = 256;                              // the host's local_size_x

VIEWS(0, o)
VIEWS(1, a)
VIEWS(2, b)
VIEWS(3, q)
ACCESSORS(o, DT_O)
ACCESSORS(a, DT_AB)
ACCESSORS(b, DT_AB)
ACCESSORS(q, DT_Q)

layout(push_constant) uniform Push {
  int n;
  int off_a, st_a, off_b, st_b;
  int off_o;
  int ngroups;
} p;

shared WIDE sf[NT];
shared int64_t si[NT];

void main() {
  int tid = int(gl_LocalInvocationID.x), g = int(gl_WorkGroupID.x);
  WIDE f = WIDE(0);
  int64_t s = 0l;
  if (MODE == 0) {
    for (int i = g * NT + tid; i < p.n; i += p.ngroups * NT) {
      if (INT) s += a_load_in(uint(p.off_a + i * p.st_a)) * b_load_in(uint(p.off_b + i * p.st_b));
      else f += a_load_fl(uint(p.off_a + i * p.st_a)) * b_load_fl(uint(p.off_b + i * p.st_b));
    }
  } else {
    for (int i = tid; i < p.ngroups; i += NT) {
      if (INT) s += q_load_in(uint(i));
      else f += q_load_fl(uint(i));
    }
  }
  if (INT) si[tid] = s; else sf[tid] = f;
  barrier();
  for (int h = NT / 2; h > 0; h >>= 1) {
    if (tid < h) {
      if (INT) si[tid] += si[tid + h]; else sf[tid] += sf[tid + h];
    }
    barrier();
  }
  if (tid != 0) return;
  if (MODE == 0) {
    if (INT) q_store_i(uint(g), si[0]); else q_store_f(uint(g), sf[0]);
  } else {
    if (INT) o_store_i(uint(p.off_o), si[0]); else o_store_f(uint(p.off_o), sf[0]);
  }
}
