// variants: x16
// index_gather.comp — out[i] = src[at(i)] where one dim of src is addressed by an index
// value: index_select, gather and embedding are all this walk. Over out's shape (up to 8
// dims, out contiguous from off_o), src has strides ss (0 along the addressed dim) and
// the index strides is (0 along the dims it does not vary in); the index value v (less
// base) adds v * ds. A value out of [0, size) moves nothing: its walk position i goes
// to the launch's error slot (errors.glsl), the lowest one kept, and the host names the
// value at its next wait for the device (the cpu's error). Elements move as raw bits.
// CHECK (spec constant 5): only the check, the walk over the index itself (an empty
// output whose index is not: the cpu still checks every value).
#version 450
#include "common.glsl"
#include "index_raw.glsl"
#include "errors.glsl"

layout(constant_id = 3) const int ES = 4;
layout(constant_id = 4) const int DT_I = DT_I64;
layout(constant_id = 5) const bool CHECK = false;

VIEWS(0, o)
VIEWS(1, s)
VIEWS(2, ix)
ACCESSORS(ix, DT_I)
RAW_MOVER(move, o, s)

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int off_o, off_s, off_i;
  int ds, size, base;
  int shape[8];
  int ss[8];
  int is[8];
} p;

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  int os = p.off_s, oi = p.off_i;
  uint r = i;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    int c = int(r % n);
    r /= n;
    os += c * p.ss[k];
    oi += c * p.is[k];
  }
  int64_t v = ix_load_in(uint(oi));
  // compare before subtracting: v - base must not overflow for INT64_MIN
  if (v < int64_t(p.base) || v - int64_t(p.base) >= int64_t(p.size)) {
    ember_report(i);
    return;
  }
  if (!CHECK) move(uint(p.off_o) + i, uint(os + int(v - int64_t(p.base)) * p.ds));
}
