// variants: x16
// shape_tri.comp — tril and triu: over the shape (up to 8 dims, the last two the
// matrix), out keeps src's element where column j is within the band (tril: j <= i +
// diag, triu: j >= i + diag) and is zero elsewhere. Any strides on both sides; in place
// (out is src) each invocation reads its element before it writes it.
#version 450
#include "common.glsl"
#include "index_raw.glsl"

layout(constant_id = 3) const int LOWER = 1;
layout(constant_id = 4) const int ES = 4;

VIEWS(0, o)
VIEWS(1, s)
RAW_MOVER(move, o, s)
RAW_SETTER(set, o)

layout(push_constant) uniform Push {
  int ndim;
  uint numel;
  int off_o, off_s;
  int diag;
  int pad0, pad1, pad2;
  int shape[8];
  int ss[8];
  int os[8];
} p;

void main() {
  uint e = flat_id();
  if (e >= p.numel) return;
  int oo = p.off_o, so = p.off_s, row = 0, col = 0;
  uint r = e;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    int c = int(r % n);
    r /= n;
    if (k == p.ndim - 1) col = c;
    if (k == p.ndim - 2) row = c;
    oo += c * p.os[k];
    so += c * p.ss[k];
  }
  int band = col - row;           // |band| < 2^31: the host clamps diag to the matrix
  bool keep = LOWER != 0 ? band <= p.diag : band >= p.diag;
  if (keep) move(uint(oo), uint(so));
  else set(uint(oo), 0ul);
}
