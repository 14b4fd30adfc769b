// variants: x16 f64
// random.comp — ember's Philox 4x32-10 stream (host/core/rng.c) on the device: each
// invocation computes one block (four 32-bit draws) at counter first + b and writes
// the elements the CPU kernels (host/cpu/creation.c, nn.c) derive from that block, so
// a seed gives the same tensor on both devices:
//   rand      f32/f16/bf16: element i from draw i; f64: from draws 2i, 2i+1
//   randn     pairs (2j, 2j+1) by Box-Muller from draws 2j, 2j+1 (f64: 4j .. 4j+3)
//   randint   low + (draw * range) >> 32, or (two draws) % range past 2^32
//   dropout   element i kept when draw i >> 8 reaches the threshold (u >= p exactly)
#version 450
#include "common.glsl"
#include "misc_math.glsl"

layout(constant_id = 3) const int OP = 0;
layout(constant_id = 4) const int DT_O = 0;
layout(constant_id = 5) const int DT_A = 0;

#define R_RAND 0
#define R_RANDN 1
#define R_RANDINT 2
#define R_DROPOUT 3

VIEWS(0, o)
VIEWS(1, a)
ACCESSORS(o, DT_O)
ACCESSORS(a, DT_A)

layout(push_constant) uniform Push {
  uint key_lo, key_hi;     // the seed
  uint ctr_lo, ctr_hi;     // the counter of block 0
  uint numel;
  uint blocks;
  int off_o;
  int ndim;                // dropout: the input over the merged shape
  int shape[4];
  int st[4];
  int off_a;
  uint thr;                // dropout: keep when draw >> 8 >= thr
  uint wide;               // randint: two draws per element
  uint pad;
  uint sc[4];              // dropout: the scale (float, or double bits); randint: low, range
} p;

const uint M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

uvec4 philox(uint b) {
  uint c0 = p.ctr_lo + b;
  uint c1 = p.ctr_hi + (c0 < b ? 1u : 0u);       // the carry of the 64-bit add
  uint c2 = 0u, c3 = 0u, k0 = p.key_lo, k1 = p.key_hi;
  for (int round = 0; round < 10; round++) {
    uint hi0, lo0, hi1, lo1;
    umulExtended(M0, c0, hi0, lo0);
    umulExtended(M1, c2, hi1, lo1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += W0;
    k1 += W1;
  }
  return uvec4(c0, c1, c2, c3);
}

// uniform [0, 1) with 24 bits (ember_u32_to_unit_f32), or `bits` bits for f16/bf16
float unit_f32(uint x) { return float(x >> 8) * (1.0 / 16777216.0); }
float unit_bits(uint x, int bits) { return ldexp(float(x >> (32 - bits)), -bits); }

#ifdef HAS_F64
double unit_f64(uint hi, uint lo) {                // ember_u64_to_unit_f64: 53 bits
  uint64_t x = ((uint64_t(hi) << 21) ^ uint64_t(lo >> 11)) & ((1ul << 53) - 1ul);
  return double(x) * (1.0lf / 9007199254740992.0lf);
}
#endif

// the input's element at logical index i (dropout)
uint a_index(uint i) {
  int o = p.off_a;
  uint r = i;
  for (int k = p.ndim - 1; k >= 0; k--) {
    uint n = uint(p.shape[k]);
    o += int(r % n) * p.st[k];
    r /= n;
  }
  return uint(o);
}

void store(uint i, WIDE v) {
  if (i < p.numel) o_store_f(uint(p.off_o) + i, v);
}

void rand_block(uint b, uvec4 r) {
#ifdef HAS_F64
  if (DT_O == DT_F64) {
    store(2u * b, unit_f64(r.x, r.y));
    store(2u * b + 1u, unit_f64(r.z, r.w));
    return;
  }
#endif
  int bits = DT_O == DT_F16 ? 11 : DT_O == DT_BF16 ? 8 : 24;
  for (int k = 0; k < 4; k++) store(4u * b + uint(k), WIDE(unit_bits(r[k], bits)));
}

void randn_block(uint b, uvec4 r) {
#ifdef HAS_F64
  if (DT_O == DT_F64) {
    double u1 = 1.0lf - unit_f64(r.x, r.y), u2 = unit_f64(r.z, r.w);
    precise double radius = sqrt(-2.0lf * log64(u1));
    precise double angle = 6.283185307179586477lf * u2;
    double s, c;
    sincos64(angle, s, c);
    precise double z0 = radius * c, z1 = radius * s;
    store(2u * b, z0);
    store(2u * b + 1u, z1);
    return;
  }
#endif
  for (int k = 0; k < 2; k++) {
    float u1 = 1.0 - unit_f32(r[2 * k]), u2 = unit_f32(r[2 * k + 1]);
    precise float radius = sqrt(-2.0 * misc_logf(u1));
    precise float angle = 6.2831853071795865 * u2;
    float s, c;
    misc_sincosf(angle, s, c);
    precise float z0 = radius * c, z1 = radius * s;
    store(4u * b + 2u * uint(k), WIDE(z0));
    store(4u * b + 2u * uint(k) + 1u, WIDE(z1));
  }
}

void randint_block(uint b, uvec4 r) {
  uint64_t low = uint64_t(p.sc[0]) | (uint64_t(p.sc[1]) << 32);
  uint64_t range = uint64_t(p.sc[2]) | (uint64_t(p.sc[3]) << 32);
  int per = p.wide != 0u ? 2 : 4;
  for (int k = 0; k < per; k++) {
    uint i = uint(per) * b + uint(k);
    if (i >= p.numel) return;
    uint64_t x = p.wide != 0u ? ((uint64_t(r[2 * k]) << 32) | uint64_t(r[2 * k + 1])) % range
                              : (uint64_t(r[k]) * range) >> 32;
    o_store_i(uint(p.off_o) + i, int64_t(low + x));
  }
}

void dropout_block(uint b, uvec4 r) {
  for (int k = 0; k < 4; k++) {
    uint i = 4u * b + uint(k);
    if (i >= p.numel) return;
    bool keep = (r[k] >> 8) >= p.thr;
    WIDE x = a_load_fl(a_index(i));
#ifdef HAS_F64
    if (DT_O == DT_F64) {
      precise double y = x * packDouble2x32(uvec2(p.sc[0], p.sc[1]));
      o_store_f(uint(p.off_o) + i, keep ? y : 0.0lf);
      continue;
    }
#endif
    precise float y = float(x) * uintBitsToFloat(p.sc[0]);
    o_store_f(uint(p.off_o) + i, WIDE(keep ? y : 0.0));
  }
}

void main() {
  uint b = flat_id();
  if (b >= p.blocks) return;
  uvec4 r = philox(b);
  switch (OP) {
  case R_RAND: rand_block(b, r); break;
  case R_RANDN: randn_block(b, r); break;
  case R_RANDINT: randint_block(b, r); break;
  case R_DROPOUT: dropout_block(b, r); break;
  }
}
