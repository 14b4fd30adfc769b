// matmul_coopmat.glsl — the body of matmul_coopmat.comp (f16 x f16 + f32 on NV
// cooperative matrices) and of matmul_coopmat_emu.comp, the same kernel with the
// cooperative-matrix operations done by plain code, so that its indexing (the shared
// layouts, fragment offsets and strides, the epilogue) is tested on devices without
// them (EMBER_VK_COOPMAT_EMULATE=1, lavapipe in the specs). The includer defines
// FRAG_A, FRAG_B, FRAG_C, FRAG_C_ZERO, LOAD_A, LOAD_B (fragment, element, stride,
// column major; element and stride in uvec4s of the shared arrays), MULADD, STORE_C
// (fragment, element of Csh; row major, CN wide), WARP_ID, LANE_ID, WARP_BARRIER() and
// FRAGMENT_OPS (its functions, placed after the shared arrays). See matmul_coopmat.comp
// for the kernel.

layout(constant_id = 3) const int BM = 128;
layout(constant_id = 4) const int BN = 128;
layout(constant_id = 5) const int BK = 32;
layout(constant_id = 6) const int SHAPE = 16 | (2 << 8) | (4 << 16);   // CN | WM << 8 | WN << 16
layout(constant_id = 7) const int CODE = 0;                           // as matmul_tile.glsl

const int CN = SHAPE & 255;
const int WM = (SHAPE >> 8) & 255;
const int WN = SHAPE >> 16;
const int DT_C0 = (CODE >> 4) & 15;
const int DT_O = (CODE >> 8) & 15;
const bool A_VEC = (CODE & 0x1000) != 0;
const bool A_MMAJOR = (CODE & 0x2000) != 0;
const bool B_VEC = (CODE & 0x4000) != 0;
const bool B_KMAJOR = (CODE & 0x8000) != 0;
const bool HAS_C0 = (CODE & 0x10000) != 0;
const int ACT = (CODE >> 17) & 127;           // fused_linear's activation (0: none)

const int NT = 32 * WM * WN;
const int FR = BM / WM / 16;          // fragments of a subgroup along m
const int FC = BN / WN / CN;          // ... along n
const int AU = BM * BK / 8;           // 8-half units in a tile of A
const int BU = BK * BN / 8;
const int APT = (AU + NT - 1) / NT;
const int BPT = (BU + NT - 1) / NT;
// shared rows in uvec4s (8 halves), padded by one
const int AW = A_MMAJOR ? BM / 8 + 1 : BK / 8 + 1;
const int AR = A_MMAJOR ? BK : BM;
const int BW = B_KMAJOR ? BK / 8 + 1 : BN / 8 + 1;
const int BR = B_KMAJOR ? BN : BK;

layout(push_constant) uniform Push {
  int M, N, K;
  int zbase;
  int bs1;
  int off[4];           // 0 out, 1 A, 2 B, 3 C0
  int rs[4];
  int cs[4];
  int b0[4], b1[4];
  uint sc[4];           // alpha, beta as floats
} p;

#include "pointwise_math.glsl"     // fused_linear's activation

VIEWS(0, o)
VIEWS(3, c)
ACCESSORS(o, DT_O)
ACCESSORS(c, DT_C0)
layout(std430, binding = 1) buffer a_h_b { uint16_t a_h[]; };
layout(std430, binding = 1) buffer a_q_b { uvec4 a_q[]; };
layout(std430, binding = 2) buffer b_h_b { uint16_t b_h[]; };
layout(std430, binding = 2) buffer b_q_b { uvec4 b_q[]; };

shared uvec4 Ash[AR * AW];
shared uvec4 Bsh[BR * BW];
shared float Csh[WM * WN * 16 * CN];

int base_a, base_b;

// 8 halves from i on, `step` apart, the first lim of them (the rest 0)
uvec4 gather_a(int i, int step, int lim) {
  uint h[8];
  [[unroll]] for (int j = 0; j < 8; j++) h[j] = j < lim ? uint(a_h[i + j * step]) : 0u;
  return uvec4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16));
}

uvec4 gather_b(int i, int step, int lim) {
  uint h[8];
  [[unroll]] for (int j = 0; j < 8; j++) h[j] = j < lim ? uint(b_h[i + j * step]) : 0u;
  return uvec4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16));
}

uvec4 fetch_a(int u, int m0, int k0) {
  int m, k, step;
  if (A_MMAJOR) { m = m0 + 8 * (u % (BM / 8)); k = k0 + u / (BM / 8); step = p.rs[1]; }
  else { m = m0 + u / (BK / 8); k = k0 + 8 * (u % (BK / 8)); step = p.cs[1]; }
  int lim = A_MMAJOR ? p.M - m : p.K - k;
  if ((A_MMAJOR ? k >= p.K : m >= p.M) || lim <= 0) return uvec4(0);
  int i = base_a + m * p.rs[1] + k * p.cs[1];
  if (A_VEC && lim >= 8) return a_q[i >> 3];
  return gather_a(i, step, lim);
}

uvec4 fetch_b(int u, int k0, int n0) {
  int k, n, step;
  if (B_KMAJOR) { n = n0 + u / (BK / 8); k = k0 + 8 * (u % (BK / 8)); step = p.rs[2]; }
  else { k = k0 + u / (BN / 8); n = n0 + 8 * (u % (BN / 8)); step = p.cs[2]; }
  int lim = B_KMAJOR ? p.K - k : p.N - n;
  if ((B_KMAJOR ? n >= p.N : k >= p.K) || lim <= 0) return uvec4(0);
  int i = base_b + k * p.rs[2] + n * p.cs[2];
  if (B_VEC && lim >= 8) return b_q[i >> 3];
  return gather_b(i, step, lim);
}

// unit u into its place: a row of the tile in the operand's major order, AW wide
void stash_a(int u, uvec4 v) {
  int per = A_MMAJOR ? BM / 8 : BK / 8;
  Ash[(u / per) * AW + u % per] = v;
}

void stash_b(int u, uvec4 v) {
  int per = B_KMAJOR ? BK / 8 : BN / 8;
  Bsh[(u / per) * BW + u % per] = v;
}

FRAGMENT_OPS

void main() {
  int tid = int(gl_LocalInvocationID.x);
  int w = WARP_ID, lane = LANE_ID;
  int wm = w / WN, wn = w % WN;
  int m0 = int(gl_WorkGroupID.y) * BM, n0 = int(gl_WorkGroupID.x) * BN;
  int z = int(gl_WorkGroupID.z) + p.zbase;
  int z0 = z / p.bs1, z1 = z % p.bs1;
  base_a = p.off[1] + z0 * p.b0[1] + z1 * p.b1[1];
  base_b = p.off[2] + z0 * p.b0[2] + z1 * p.b1[2];

  FRAG_C acc[FR][FC];
  [[unroll]] for (int i = 0; i < FR; i++)
    [[unroll]] for (int j = 0; j < FC; j++) acc[i][j] = FRAG_C_ZERO;

  uvec4 ra[APT], rb[BPT];
  int ntiles = (p.K + BK - 1) / BK;
  if (ntiles > 0) {
    [[unroll]] for (int i = 0; i < APT; i++) if (tid + i * NT < AU) ra[i] = fetch_a(tid + i * NT, m0, 0);
    [[unroll]] for (int i = 0; i < BPT; i++) if (tid + i * NT < BU) rb[i] = fetch_b(tid + i * NT, 0, n0);
  }
  for (int t = 0; t < ntiles; t++) {
    barrier();                   // every subgroup is done with the last tile
    [[unroll]] for (int i = 0; i < APT; i++) if (tid + i * NT < AU) stash_a(tid + i * NT, ra[i]);
    [[unroll]] for (int i = 0; i < BPT; i++) if (tid + i * NT < BU) stash_b(tid + i * NT, rb[i]);
    barrier();
    if (t + 1 < ntiles) {        // the next tile is on its way during the products
      int k0 = (t + 1) * BK;
      [[unroll]] for (int i = 0; i < APT; i++) if (tid + i * NT < AU) ra[i] = fetch_a(tid + i * NT, m0, k0);
      [[unroll]] for (int i = 0; i < BPT; i++) if (tid + i * NT < BU) rb[i] = fetch_b(tid + i * NT, k0, n0);
    }
    [[unroll]] for (int ks = 0; ks < BK / 16; ks++) {
      FRAG_A fa[FR];
      [[unroll]] for (int i = 0; i < FR; i++) {
        int mr = wm * (BM / WM) + i * 16;
        if (A_MMAJOR) LOAD_A(fa[i], ks * 16 * AW + mr / 8, AW, true);
        else LOAD_A(fa[i], mr * AW + ks * 2, AW, false);
      }
      [[unroll]] for (int j = 0; j < FC; j++) {
        int nc = wn * (BN / WN) + j * CN;
        FRAG_B fb;
        if (B_KMAJOR) LOAD_B(fb, nc * BW + ks * 2, BW, true);
        else LOAD_B(fb, ks * 16 * BW + nc / 8, BW, false);
        [[unroll]] for (int i = 0; i < FR; i++) acc[i][j] = MULADD(fa[i], fb, acc[i][j]);
      }
    }
  }

  int base_o = p.off[0] + z0 * p.b0[0] + z1 * p.b1[0];
  int base_c = p.off[3] + z0 * p.b0[3] + z1 * p.b1[3];
  float alpha = uintBitsToFloat(p.sc[0]), beta = uintBitsToFloat(p.sc[1]);
  int stage = w * 16 * CN;
  [[unroll]] for (int i = 0; i < FR; i++)
    [[unroll]] for (int j = 0; j < FC; j++) {
      STORE_C(acc[i][j], stage);
      WARP_BARRIER();
      int mr = m0 + wm * (BM / WM) + i * 16, nc = n0 + wn * (BN / WN) + j * CN;
      for (int e = lane; e < 16 * CN; e += 32) {
        int m = mr + e / CN, n = nc + e % CN;
        if (m >= p.M || n >= p.N) continue;
        float v = alpha * Csh[stage + e];
        if (HAS_C0) v += beta * float(c_load_fl(uint(base_c + m * p.rs[3] + n * p.cs[3])));
        if (ACT != 0) v = pw_float_op(ACT, v, 0.0, 0.0, 0.0, 0.0, 0);
        o_store_f(uint(base_o + m * p.rs[0] + n * p.cs[0]), v);
      }
      WARP_BARRIER();            // the stage is read before the next fragment goes in
    }
}
