// sort_common.glsl — what sort_block.comp and sort_merge.comp share (after common.glsl,
// index_raw.glsl, the views s (values), ov, oi and the push block p).
//
// Every value becomes an unsigned 64-bit key whose order is the value order, as
// host/cpu/index.c's sort_key: floats by their bits (negatives flipped), -0 as +0,
// every NaN the largest key; integers offset by 2^63. Descending order flips every
// key, so one ascending sort on (key, position) serves both orders and is stable.
// Lines: a line is the values along the sorted dim; line r sits at the multi-index r
// over the other dims (oshape, ostr: the input's strides), its elements sd apart.

uint64_t value_key(uint i) {
  switch (DT) {
  case DT_F32: {
    uint u = uint(s_i32[i]), a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return ~0ul;
    if (a == 0u) u = 0u;
    return uint64_t((u >> 31) != 0u ? ~u : u | 0x80000000u);
  }
  case DT_F64: {
    uint64_t u = uint64_t(s_i64[i]), a = u & 0x7ffffffffffffffful;
    if (a > 0x7ff0000000000000ul) return ~0ul;
    if (a == 0ul) u = 0ul;
    return (u >> 63) != 0ul ? ~u : u | 0x8000000000000000ul;
  }
#ifdef HAS_16
  case DT_F16: case DT_BF16: {
    uint u = uint(s_u16[i]), a = u & 0x7fffu;
    if (a > (DT == DT_F16 ? 0x7c00u : 0x7f80u)) return ~0ul;
    if (a == 0u) u = 0u;
    return uint64_t((u >> 15) != 0u ? ~u & 0xffffu : u | 0x8000u);
  }
#endif
  default:
    return uint64_t(s_load_in(i)) ^ 0x8000000000000000ul;
  }
}

// (ka, pa) < (kb, pb)
bool kv_less(uint64_t ka, uint pa, uint64_t kb, uint pb) {
  return ka < kb || (ka == kb && pa < pb);
}

// element offset of line r's first value
uint line_at(uint r) {
  int o = p.in_off;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.oshape[k]);
    o += int(r % n) * p.ostr[k];
    r /= n;
  }
  return uint(o);
}

// the outputs are contiguous with the sorted dim of size k: line r = (outer, inner)
uint out_at(uint r, uint j) {
  uint inner = uint(p.inner);
  return (r / inner) * uint(p.k) * inner + j * inner + r % inner;
}

// the j-th of line r: the value at position pos, and pos + base
void emit(uint r, uint j, uint pos) {
  uint o = out_at(r, j);
  move(o, line_at(r) + uint(int(pos) * p.sd));
  oi_i64[o] = int64_t(pos) + int64_t(p.base);
}
