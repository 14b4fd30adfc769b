// variants: f64
// optim.comp — the fused optimizer updates (host/cpu/optim.c), one element per
// invocation, statement by statement as the CPU loop (which is PyTorch's
// single-tensor update) in the parameter's dtype; `precise` keeps the compiler from
// fusing multiplies and adds the CPU rounds separately. All tensors are contiguous,
// of one shape and dtype (the op's infer checked); off[] are their element offsets.
//   OPT_SGD   p, grad, momentum buffer
//   OPT_ADAM  p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq
#version 450
#include "common.glsl"

layout(constant_id = 3) const int OP = 0;
layout(constant_id = 4) const int DT = 0;

#define OPT_SGD 0
#define OPT_ADAM 1

// flags: sgd 1 buffer, 2 maximize, 4 weight decay, 8 first, 16 nesterov;
//        adam 1 max_exp_avg_sq, 2 maximize, 4 weight decay, 8 decoupled
#define F_STATE 1u
#define F_MAXIMIZE 2u
#define F_DECAY 4u
#define F_FIRST 8u
#define F_DECOUPLED 8u
#define F_NESTEROV 16u

VIEWS(0, pr)
VIEWS(1, gr)
VIEWS(2, m)
VIEWS(3, v)
VIEWS(4, vm)
ACCESSORS(pr, DT)
ACCESSORS(gr, DT)
ACCESSORS(m, DT)
ACCESSORS(v, DT)
ACCESSORS(vm, DT)

layout(push_constant) uniform Push {
  uint numel;
  uint flags;
  int off[5];
  uint pad;
  uint sc[18];    // sgd: lr, momentum, 1 - dampening, weight_decay; adam: see vk_optim.c
} p;

// parameter k in the tensors' dtype, as the CPU casts it before the loop
WIDE param(int k) {
#ifdef HAS_F64
  if (DT == DT_F64) return packDouble2x32(uvec2(p.sc[2 * k], p.sc[2 * k + 1]));
#endif
  return WIDE(uintBitsToFloat(p.sc[k]));
}

bool flag(uint f) { return (p.flags & f) != 0u; }

void sgd(uint i) {
  WIDE lr = param(0), mom = param(1), keep = param(2), wd = param(3);
  uint ip = uint(p.off[0]) + i;
  WIDE pi = pr_load_fl(ip), g = gr_load_fl(uint(p.off[1]) + i);
  precise WIDE d = flag(F_MAXIMIZE) ? -g : g;
  if (flag(F_DECAY)) d = d + wd * pi;
  if (flag(F_STATE)) {
    uint ib = uint(p.off[2]) + i;
    precise WIDE b = flag(F_FIRST) ? d : m_load_fl(ib) * mom + keep * d;
    m_store_f(ib, b);
    d = flag(F_NESTEROV) ? d + mom * b : b;
  }
  precise WIDE r = pi + (-lr) * d;
  pr_store_f(ip, r);
}

void adam(uint i) {
  WIDE b1 = param(0), b2 = param(1), wd = param(2), one_b1 = param(3), one_b2 = param(4);
  WIDE shrink = param(5), step_size = param(6), bc2_sqrt = param(7), eps = param(8);
  uint ip = uint(p.off[0]) + i, im = uint(p.off[2]) + i, iv = uint(p.off[3]) + i;
  precise WIDE pi = pr_load_fl(ip);
  WIDE g0 = gr_load_fl(uint(p.off[1]) + i);
  precise WIDE g = flag(F_MAXIMIZE) ? -g0 : g0;
  if (flag(F_DECAY)) {
    if (flag(F_DECOUPLED)) pi = pi * shrink;
    else g = g + wd * pi;
  }
  precise WIDE mi = m_load_fl(im) * b1 + one_b1 * g;
  precise WIDE vi = v_load_fl(iv) * b2 + one_b2 * (g * g);
  m_store_f(im, mi);
  v_store_f(iv, vi);
  if (flag(F_STATE)) {
    uint ix = uint(p.off[4]) + i;
    WIDE old = vm_load_fl(ix);
    vi = old > vi ? old : vi;
    vm_store_f(ix, vi);
  }
  precise WIDE denom = sqrt(vi) / bc2_sqrt + eps;
  precise WIDE r = pi + (-step_size) * (mi / denom);
  pr_store_f(ip, r);
}

void main() {
  uint i = flat_id();
  if (i >= p.numel) return;
  if (OP == OPT_SGD) sgd(i);
  else adam(i);
}
