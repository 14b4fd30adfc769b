// matmul_tile.glsl — the tiled GEMM that matmul.comp (float: f32, f16/bf16 read as
// f32, f64) and matmul_i64.comp (wrapping int64) share:
//
//   out[z][m][n] = act(alpha * sum_k A[z][m][k] B[z][k][n]  (+ beta * C0[z][m][n]))
//
// act is the identity but for export's fused_linear, whose activation is applied to
// each result as it is stored.
// Every operand has its own element offset, row and column strides and strides over
// two batch dims (0 where it is broadcast), so transposed and expanded views are read
// in place. A workgroup computes a BM x BN tile of out, each of its (BM/TM)(BN/TN)
// invocations a TM x TN micro tile held in registers. The K loop goes BK at a time
// through two shared-memory buffers: while the tile in one is multiplied, the next is
// fetched from global memory into registers and then stored into the other, so there
// is one barrier per step. Tiles hang over the edges of M, N and K: loads past them
// read 0, stores past them are skipped.
//
// Loads move units of 4 elements along an operand's contiguous dim: one vec4 load
// where the host found the operand aligned for it (A_VEC / B_VEC), else 4 scalar loads.
// Shared memory holds A as [k][m] and B as [k][n], vec4-wide, so the inner loop reads
// TM/4 + TN/4 vec4s per k for TM*TN multiply-adds; a micro tile's rows are spread as
// TM/4 groups of 4, BM/(TM/4) apart, so neighbouring invocations read neighbouring
// vec4s (no bank conflicts).
//
// The includer defines T, T4 (the accumulator type and its vec4) and T4_ZERO before
// including this file, and after it
//   T load_a(int i), T4 load_a4(int i)  (and _b): element i, or 4 from i (i % 4 == 0)
//   T load_c0(int i), void store_o(int i, T v), T ALPHA(), T BETA(), T activate(T v)

layout(constant_id = 3) const int BM = 64;
layout(constant_id = 4) const int BN = 64;
layout(constant_id = 5) const int BK = 16;
layout(constant_id = 6) const int TMN = 4 | (4 << 8);     // TM | TN << 8
layout(constant_id = 7) const int CODE = 0;               // dtypes and flags, below

const int TM = TMN & 255;
const int TN = TMN >> 8;
const int DT_AB = CODE & 15;                 // A and B
const int DT_C0 = (CODE >> 4) & 15;
const int DT_O = (CODE >> 8) & 15;
const bool A_VEC = (CODE & 0x1000) != 0;     // vec4 loads of A along its contiguous dim
const bool A_MMAJOR = (CODE & 0x2000) != 0;  // A is contiguous along m (a transposed view)
const bool B_VEC = (CODE & 0x4000) != 0;
const bool B_KMAJOR = (CODE & 0x8000) != 0;  // B is contiguous along k (weight^T)
const bool HAS_C0 = (CODE & 0x10000) != 0;   // beta != 0
const int ACT = (CODE >> 17) & 127;          // fused_linear's activation, a pointwise_ops.h
                                             // code applied to each result (0: none)

const int NT = (BM / TM) * (BN / TN);        // invocations; the host sets local_size_x
const int AU = BM * BK / 4;                  // 4-element units in a tile of A
const int BU = BK * BN / 4;
const int APT = (AU + NT - 1) / NT;          // units each invocation moves
const int BPT = (BU + NT - 1) / NT;
const int BM4 = BM / 4;
const int BN4 = BN / 4;

// tensors: 0 out, 1 A, 2 B, 3 C0
layout(push_constant) uniform Push {
  int M, N, K;
  int zbase;            // batch index of this dispatch's first z
  int bs1;              // size of the inner batch dim (z = z0 * bs1 + z1)
  int off[4];
  int rs[4];            // stride along m (B: along k)
  int cs[4];            // stride along n (A: along k)
  int b0[4], b1[4];     // strides along the two batch dims
  uint sc[4];           // alpha, beta: float, double or int64 (see vk_linalg.c)
} p;

// defined by the includer, after this file
T load_a(int i);
T load_b(int i);
T4 load_a4(int i);
T4 load_b4(int i);
T load_c0(int i);
void store_o(int i, T v);
T ALPHA();
T BETA();
T activate(T v);

shared T4 As[2 * BK * BM4];   // [buffer][k][m / 4]
shared T4 Bs[2 * BK * BN4];   // [buffer][k][n / 4]

int base_a, base_b;

// unit u of the A tile at (m0, k0): 4 elements along A's contiguous dim
T4 fetch_a(int u, int m0, int k0) {
  T4 v = T4_ZERO;
  int m, k, step;
  if (A_MMAJOR) { m = m0 + 4 * (u % BM4); k = k0 + u / BM4; step = p.rs[1]; }
  else { m = m0 + u / (BK / 4); k = k0 + 4 * (u % (BK / 4)); step = p.cs[1]; }
  int lim = A_MMAJOR ? p.M - m : p.K - k;     // elements of the unit inside the matrix
  if ((A_MMAJOR ? k >= p.K : m >= p.M) || lim <= 0) return v;
  int i = base_a + m * p.rs[1] + k * p.cs[1];
  if (A_VEC && lim >= 4) return load_a4(i);
  [[unroll]] for (int j = 0; j < 4; j++)
    if (j < lim) v[j] = load_a(i + j * step);
  return v;
}

T4 fetch_b(int u, int k0, int n0) {
  T4 v = T4_ZERO;
  int k, n, step;
  if (B_KMAJOR) { n = n0 + u / (BK / 4); k = k0 + 4 * (u % (BK / 4)); step = p.rs[2]; }
  else { k = k0 + u / BN4; n = n0 + 4 * (u % BN4); step = p.cs[2]; }
  int lim = B_KMAJOR ? p.K - k : p.N - n;
  if ((B_KMAJOR ? n >= p.N : k >= p.K) || lim <= 0) return v;
  int i = base_b + k * p.rs[2] + n * p.cs[2];
  if (B_VEC && lim >= 4) return load_b4(i);
  [[unroll]] for (int j = 0; j < 4; j++)
    if (j < lim) v[j] = load_b(i + j * step);
  return v;
}

void stash_a(int buf, int u, T4 v) {
  int o = buf * BK * BM4;
  if (A_MMAJOR) {
    As[o + (u / BM4) * BM4 + u % BM4] = v;
  } else {                       // a unit along k: 4 rows of As, one column
    int m = u / (BK / 4), k = 4 * (u % (BK / 4));
    [[unroll]] for (int j = 0; j < 4; j++) As[o + (k + j) * BM4 + m / 4][m % 4] = v[j];
  }
}

void stash_b(int buf, int u, T4 v) {
  int o = buf * BK * BN4;
  if (B_KMAJOR) {
    int n = u / (BK / 4), k = 4 * (u % (BK / 4));
    [[unroll]] for (int j = 0; j < 4; j++) Bs[o + (k + j) * BN4 + n / 4][n % 4] = v[j];
  } else {
    Bs[o + (u / BN4) * BN4 + u % BN4] = v;
  }
}

void main() {
  int tid = int(gl_LocalInvocationID.x);
  int tx = tid % (BN / TN), ty = tid / (BN / TN);
  int m0 = int(gl_WorkGroupID.y) * BM, n0 = int(gl_WorkGroupID.x) * BN;
  int z = int(gl_WorkGroupID.z) + p.zbase;
  int z0 = z / p.bs1, z1 = z % p.bs1;
  base_a = p.off[1] + z0 * p.b0[1] + z1 * p.b1[1];
  base_b = p.off[2] + z0 * p.b0[2] + z1 * p.b1[2];

  T4 acc[TM][TN / 4];
  [[unroll]] for (int i = 0; i < TM; i++)
    [[unroll]] for (int c = 0; c < TN / 4; c++) acc[i][c] = T4_ZERO;

  T4 ra[APT], rb[BPT];
  int ntiles = (p.K + BK - 1) / BK;
  if (ntiles > 0) {
    [[unroll]] for (int i = 0; i < APT; i++) if (tid + i * NT < AU) stash_a(0, tid + i * NT, fetch_a(tid + i * NT, m0, 0));
    [[unroll]] for (int i = 0; i < BPT; i++) if (tid + i * NT < BU) stash_b(0, tid + i * NT, fetch_b(tid + i * NT, 0, n0));
  }
  barrier();
  for (int t = 0; t < ntiles; t++) {
    int buf = t & 1;
    bool more = t + 1 < ntiles;
    if (more) {                  // the next tile is on its way while this one is used
      int k0 = (t + 1) * BK;
      [[unroll]] for (int i = 0; i < APT; i++) if (tid + i * NT < AU) ra[i] = fetch_a(tid + i * NT, m0, k0);
      [[unroll]] for (int i = 0; i < BPT; i++) if (tid + i * NT < BU) rb[i] = fetch_b(tid + i * NT, k0, n0);
    }
    int oa = buf * BK * BM4, ob = buf * BK * BN4;
    [[unroll]] for (int k = 0; k < BK; k++) {
      T4 av[TM / 4], bv[TN / 4];
      [[unroll]] for (int c = 0; c < TM / 4; c++) av[c] = As[oa + k * BM4 + c * (BM / TM) + ty];
      [[unroll]] for (int c = 0; c < TN / 4; c++) bv[c] = Bs[ob + k * BN4 + c * (BN / TN) + tx];
      [[unroll]] for (int i = 0; i < TM; i++) {
        T x = av[i >> 2][i & 3];
        [[unroll]] for (int c = 0; c < TN / 4; c++) acc[i][c] += x * bv[c];
      }
    }
    if (more) {
      [[unroll]] for (int i = 0; i < APT; i++) if (tid + i * NT < AU) stash_a(buf ^ 1, tid + i * NT, ra[i]);
      [[unroll]] for (int i = 0; i < BPT; i++) if (tid + i * NT < BU) stash_b(buf ^ 1, tid + i * NT, rb[i]);
    }
    barrier();
  }

  int base_o = p.off[0] + z0 * p.b0[0] + z1 * p.b1[0];
  int base_c = p.off[3] + z0 * p.b0[3] + z1 * p.b1[3];
  T alpha = ALPHA(), beta = BETA();
  [[unroll]] for (int i = 0; i < TM; i++) {
    int m = m0 + 4 * ((i >> 2) * (BM / TM) + ty) + (i & 3);
    if (m >= p.M) continue;
    [[unroll]] for (int c = 0; c < TN / 4; c++) {
      int n = n0 + 4 * (c * (BN / TN) + tx);
      for (int j = 0; j < 4; j++) {
        if (n + j >= p.N) break;
        T v = alpha * acc[i][c][j];
        if (HAS_C0) v += beta * load_c0(base_c + m * p.rs[3] + (n + j) * p.cs[3]);
        store_o(base_o + m * p.rs[0] + (n + j) * p.cs[0], ACT != 0 ? activate(v) : v);
      }
    }
  }
}
