/*
** vk_reduce.c — the reduce family on Vulkan: sum mean prod max min argmax argmin var
** std norm logsumexp all any (shaders/reduce.comp) and cumsum (shaders/reduce_scan.comp).
**
** A reduction is planned by host/cpu/reduce.c's ember_reduce_plan, the CPU driver's own
** plan: the reduced dims are moved last (by decreasing stride when the result names no
** positions), and dims that lie one after another in memory are merged, so each output
** element owns a "run" of a few strided rows. The plan goes to the shader in push
** constants (up to 4 kept and 4 reduced dims); a layout with more, or with offsets past
** 32 bits, is first copied to a contiguous permuted tensor on the device. The shape
** picks how the work is spread:
** a workgroup per output (long runs), a thread per output (short runs, or strided runs
** whose outputs lie side by side, so neighbouring threads read neighbouring elements),
** or, for a few very long runs, chunks of each run over many workgroups whose partial
** accumulators a last dispatch merges. The dispatcher has cast the input to the
** kernel's dtype (f32, f64, i64; u8 and bool too for all/any) as for the CPU kernels,
** and allocated the outputs fresh and contiguous: output o is element o.
*/
#include <math.h>
#include <string.h>

#include "vk.h"
#include "vk_kernels.h"
#include "../cpu/reduce.h"

/* op codes, modes and norm kinds of shaders/reduce.comp */
enum { R_SUM, R_MEAN, R_PROD, R_MAX, R_MIN, R_ARGMAX, R_ARGMIN, R_VAR, R_STD, R_NORM, R_LSE,
       R_ALL, R_ANY };
enum { M_ROW, M_THREAD, M_PART1, M_PART2, M_FINAL };
enum { N_2, N_1, N_INF, N_NINF, N_0, N_P };

#define WG 256
#define SPLIT_MAX_OUT 128         /* at most this many outputs ... */
#define SPLIT_MIN_LEN 32768       /* ... with runs this long: split the runs */
#define SPLIT_CHUNK 8192          /* positions per chunk, at least */
#define SPLIT_MAX_CHUNKS 1024
#define SHORT_RUN 16              /* runs this short: a thread per output */
#define SIDE_BY_SIDE_OUT 512      /* strided runs of this many outputs side by side */

typedef struct red_push {
  uint32_t nout;
  int32_t len, nk, nr, off_x, chunk, nchunk, index_base, flags;
  int32_t kshape[4], kstride[4], rshape[4], rstride[4];
  uint32_t sc[3];
} red_push;

/* {====== plans (ember_reduce_plan, host/cpu/reduce.c's, strides in elements) */

static int64_t absv(int64_t v) { return v < 0 ? -v : v; }

/* The plan, from x's element offset off, fits the push constants: 4 dims a side, every
** index within 32 bits. */
static int plan_fits(const ember_rplan *pl, int64_t off) {
  if (pl->nk > 4 || pl->nr > 4) return 0;
  int64_t lo = off, hi = off;
  for (int d = 0; d < pl->nk; d++) {
    int64_t span = (pl->kshape[d] - 1) * pl->kstride[d];
    if (span < 0) lo += span; else hi += span;
  }
  for (int d = 0; d < pl->nr; d++) {
    int64_t span = (pl->rshape[d] - 1) * pl->rstride[d];
    if (span < 0) lo += span; else hi += span;
  }
  return lo >= 0 && hi <= VK_INDEX_LIMIT;
}

/* }====== */

/* {====== launching */

typedef struct rcall {
  int op, nkind, npass;
  ember_tensor *x, *out, *idx;
  red_push p;
  char shader[32];
} rcall;

static ember_status launch(rcall *r, int mode, uint32_t wg, int64_t groups, ember_tensor *sa,
                           ember_tensor *sb) {
  vk_launch_args a = { .shader = r->shader, .nbind = 5, .push = &r->p, .push_bytes = sizeof r->p };
  a.bind[0] = r->x;
  a.bind[1] = r->out;
  a.bind[2] = r->idx;
  a.bind[3] = sa;
  a.bind[4] = sb;
  a.write[1] = a.write[2] = mode == M_ROW || mode == M_THREAD || mode == M_FINAL;
  a.write[3] = mode == M_PART1;
  a.write[4] = mode == M_PART2;
  if (!a.write[1]) a.bind[1] = a.bind[2] = NULL;     /* the partial passes write no output */
  a.spec[0] = wg; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = (uint32_t)r->op;
  a.spec[4] = (uint32_t)vk_dtype_code(r->x->dtype);
  a.spec[5] = (uint32_t)vk_dtype_code(r->out->dtype);
  a.spec[6] = (uint32_t)mode;
  a.spec[7] = (uint32_t)r->nkind;
  vk_groups_1d(groups * wg, wg, a.groups);
  return vk_launch(&a);
}

/* Scratch for n partial accumulators (4 words each). */
static ember_tensor *scratch(int64_t n) {
  int64_t words = 4 * n;
  return ember_tensor_empty_on(EMBER_VULKAN, EMBER_I64, 1, &words);
}

/* A few very long runs: chunks over many workgroups, then one merge per output. */
static ember_status run_split(rcall *r, const ember_rplan *pl) {
  int64_t nchunk = (pl->len + SPLIT_CHUNK - 1) / SPLIT_CHUNK;
  if (nchunk > SPLIT_MAX_CHUNKS) nchunk = SPLIT_MAX_CHUNKS;
  r->p.nchunk = (int32_t)nchunk;
  r->p.chunk = (int32_t)((pl->len + nchunk - 1) / nchunk);
  int64_t parts = pl->nout * nchunk;
  ember_tensor *sa = scratch(parts), *sb = r->npass == 2 ? scratch(parts) : NULL;
  ember_status st = sa && (r->npass == 1 || sb) ? EMBER_OK : EMBER_ERROR;
  if (st == EMBER_OK) st = launch(r, M_PART1, WG, parts, sa, sb);
  if (st == EMBER_OK && r->npass == 2) st = launch(r, M_PART2, WG, parts, sa, sb);
  if (st == EMBER_OK) st = launch(r, M_FINAL, WG, pl->nout, sa, sb);
  ember_tensor_release(sa);
  ember_tensor_release(sb);
  return st;
}

uint32_t vk_reduce_group(int64_t n) {
  uint32_t g = 32;
  while (g < WG && g < n) g <<= 1;
  return g;
}

static ember_status run_plan(rcall *r, const ember_rplan *pl, int64_t off) {
  red_push *p = &r->p;
  p->nout = (uint32_t)pl->nout;
  p->len = (int32_t)pl->len;
  p->nk = pl->nk;
  p->nr = pl->nr;
  p->off_x = (int32_t)off;
  p->nchunk = 1;
  for (int d = 0; d < pl->nk; d++) {
    p->kshape[d] = (int32_t)pl->kshape[d];
    p->kstride[d] = (int32_t)pl->kstride[d];
  }
  for (int d = 0; d < pl->nr; d++) {
    p->rshape[d] = (int32_t)pl->rshape[d];
    p->rstride[d] = (int32_t)pl->rstride[d];
  }
  int64_t rs = pl->rstride[pl->nr - 1], ks = pl->nk ? pl->kstride[pl->nk - 1] : 0;
  if (pl->len <= SHORT_RUN || (absv(rs) != 1 && ks == 1 && pl->nout >= SIDE_BY_SIDE_OUT))
    return launch(r, M_THREAD, 64, (pl->nout + 63) / 64, NULL, NULL);
  if (pl->nout <= SPLIT_MAX_OUT && pl->len >= SPLIT_MIN_LEN) return run_split(r, pl);
  return launch(r, M_ROW, vk_reduce_group(pl->len), pl->nout, NULL, NULL);
}

/* Reduce c->in[0] over the dims of attribute dims_attr into c->out[0] (and the
** indices into c->out[1] for max and min with a dim). */
static ember_status reduce(ember_call *c, int op, int dims_attr, double param, int nkind) {
  ember_tensor *x = c->in[0];
  if (ember_tensor_numel(x) > VK_INDEX_LIMIT)
    return ember_op_error(c, "%lld elements are beyond the Vulkan kernels' 32-bit indexing",
                          (long long)ember_tensor_numel(x));
  uint32_t mask;
  if (ember_reduce_mask(c, dims_attr, x->ndim, &mask) != EMBER_OK) return EMBER_ERROR;
  int with_index = (op == R_MAX || op == R_MIN) && c->nout > 1;
  int positional = with_index || op == R_ARGMAX || op == R_ARGMIN;
  ember_rplan pl;
  ember_reduce_plan(&pl, x, mask, positional, 1);
  if (pl.nout == 0) return EMBER_OK;
  rcall r;
  memset(&r, 0, sizeof r);
  r.op = op;
  r.nkind = nkind;
  r.npass = op == R_VAR || op == R_STD || op == R_LSE ? 2 : 1;
  r.x = x;
  r.out = c->out[0];
  r.idx = with_index ? c->out[1] : NULL;
  r.p.index_base = c->index_base;
  r.p.flags = with_index;
  float pf = (float)param;
  memcpy(&r.p.sc[0], &pf, 4);
  memcpy(&r.p.sc[1], &param, 8);
  ember_dtype dts[2] = { x->dtype, r.out->dtype };
  if (vk_shader_variant(r.shader, sizeof r.shader, "reduce", 2, dts) != EMBER_OK) return EMBER_ERROR;
  if (plan_fits(&pl, x->offset)) return run_plan(&r, &pl, x->offset);
  /* too many dims or offsets past 32 bits: the permuted view made contiguous, whose
  ** kept and reduced dims each merge into one */
  ember_tensor *v = ember_permute(x, x->ndim, pl.perm);
  ember_tensor *d = v ? vk_dense(v, EMBER_DTYPE_NONE, 0, NULL) : NULL;
  ember_tensor_release(v);
  if (d == NULL) return EMBER_ERROR;
  r.x = d;
  ember_reduce_plan_packed(&pl);
  ember_status st = run_plan(&r, &pl, d->offset);
  ember_tensor_release(d);
  return st;
}

/* }====== */

/* {====== the kernels of the op table (attribute positions: host/ops/ops_reduce.c) */

static int norm_kind(double p) {
  return p == 2 ? N_2 : p == 1 ? N_1 : p == INFINITY ? N_INF : p == -INFINITY ? N_NINF
       : p == 0 ? N_0 : N_P;
}

ember_status vk_sum(ember_call *c) { return reduce(c, R_SUM, 0, 0, 0); }
ember_status vk_mean(ember_call *c) { return reduce(c, R_MEAN, 0, 0, 0); }
ember_status vk_prod(ember_call *c) { return reduce(c, R_PROD, 0, 0, 0); }
ember_status vk_max(ember_call *c) { return reduce(c, R_MAX, 0, 0, 0); }
ember_status vk_min(ember_call *c) { return reduce(c, R_MIN, 0, 0, 0); }
ember_status vk_argmax(ember_call *c) { return reduce(c, R_ARGMAX, 0, 0, 0); }
ember_status vk_argmin(ember_call *c) { return reduce(c, R_ARGMIN, 0, 0, 0); }
ember_status vk_var(ember_call *c) { return reduce(c, R_VAR, 0, c->attr[1].f, 0); }
ember_status vk_std(ember_call *c) { return reduce(c, R_STD, 0, c->attr[1].f, 0); }
ember_status vk_logsumexp(ember_call *c) { return reduce(c, R_LSE, 0, 0, 0); }
ember_status vk_all(ember_call *c) { return reduce(c, R_ALL, 0, 0, 0); }
ember_status vk_any(ember_call *c) { return reduce(c, R_ANY, 0, 0, 0); }

ember_status vk_norm(ember_call *c) {
  double p = c->attr[0].f;
  return reduce(c, R_NORM, 1, p, norm_kind(p));
}

/* }====== */

/* {====== cumsum */

typedef struct scan_push {
  uint32_t nlines;
  int32_t len, nl, off_x, off_y, sx, sy, chunk, nchunk;
  int32_t lshape[4], lsx[4], lsy[4];
} scan_push;

#define SCAN_SPLIT_LEN 65536      /* lines this long, when few, are cut into chunks */
#define SCAN_CHUNK 16384

/* The dims of x and y but dim d, merged where both run on: 0 when more than 4 are
** left or an index leaves 32 bits. */
static int scan_layout(const ember_tensor *x, const ember_tensor *y, int d, scan_push *p) {
  int64_t sh[EMBER_MAX_DIMS], sx[EMBER_MAX_DIMS], sy[EMBER_MAX_DIMS];
  int n = 0;
  for (int k = 0; k < x->ndim; k++) {
    if (k == d || x->shape[k] == 1) continue;
    if (n > 0 && sx[n - 1] == x->stride[k] * x->shape[k] && sy[n - 1] == y->stride[k] * x->shape[k]) {
      sh[n - 1] *= x->shape[k];
      sx[n - 1] = x->stride[k];
      sy[n - 1] = y->stride[k];
      continue;
    }
    sh[n] = x->shape[k];
    sx[n] = x->stride[k];
    sy[n] = y->stride[k];
    n++;
  }
  if (n > 4) return 0;
  int64_t len = x->ndim ? x->shape[d] : 1;
  int64_t xs = x->ndim ? x->stride[d] : 1, ys = y->ndim ? y->stride[d] : 1;
  int64_t xlo = x->offset, xhi = x->offset, yhi = y->offset;
  for (int k = 0; k < n; k++) {
    if (sx[k] < 0) xlo += (sh[k] - 1) * sx[k]; else xhi += (sh[k] - 1) * sx[k];
    yhi += (sh[k] - 1) * sy[k];
  }
  if (xs < 0) xlo += (len - 1) * xs; else xhi += (len - 1) * xs;
  yhi += (len - 1) * ys;
  if (xlo < 0 || xhi > VK_INDEX_LIMIT || yhi > VK_INDEX_LIMIT) return 0;
  p->nl = n;
  p->len = (int32_t)len;
  p->off_x = (int32_t)x->offset;
  p->off_y = (int32_t)y->offset;
  p->sx = (int32_t)xs;
  p->sy = (int32_t)ys;
  for (int k = 0; k < n; k++) {
    p->lshape[k] = (int32_t)sh[k];
    p->lsx[k] = (int32_t)sx[k];
    p->lsy[k] = (int32_t)sy[k];
  }
  return 1;
}

static ember_status scan_launch(const char *shader, const scan_push *p, ember_tensor *x,
                                ember_tensor *y, ember_tensor *tot, int mode, uint32_t wg,
                                int64_t groups) {
  vk_launch_args a = { .shader = shader, .nbind = 3, .push = p, .push_bytes = sizeof *p };
  a.bind[0] = x;
  a.bind[1] = mode == 2 ? NULL : y;
  a.bind[2] = tot;
  a.write[1] = mode != 2;
  a.write[2] = mode == 2;
  a.spec[0] = wg; a.spec[1] = 1; a.spec[2] = 1;
  a.spec[3] = (uint32_t)vk_dtype_code(x->dtype);
  a.spec[4] = (uint32_t)mode;
  vk_groups_1d(groups * wg, wg, a.groups);
  return vk_launch(&a);
}

static ember_status scan_run(ember_tensor *x, ember_tensor *y, scan_push *p) {
  char name[32];
  ember_dtype dts[1] = { x->dtype };
  if (vk_shader_variant(name, sizeof name, "reduce_scan", 1, dts) != EMBER_OK) return EMBER_ERROR;
  int64_t lines = p->nlines, len = p->len;
  int64_t ls = p->nl ? p->lsx[p->nl - 1] : 0;
  if (len <= SHORT_RUN || (absv(p->sx) != 1 && ls == 1 && lines >= SIDE_BY_SIDE_OUT))
    return scan_launch(name, p, x, y, NULL, 0, 64, (lines + 63) / 64);
  p->nchunk = 1;
  p->chunk = p->len;
  if (lines > SPLIT_MAX_OUT || len < SCAN_SPLIT_LEN)
    return scan_launch(name, p, x, y, NULL, 1, vk_reduce_group(len), lines);
  int64_t nchunk = (len + SCAN_CHUNK - 1) / SCAN_CHUNK;
  if (nchunk > SPLIT_MAX_CHUNKS) nchunk = SPLIT_MAX_CHUNKS;
  p->nchunk = (int32_t)nchunk;
  p->chunk = (int32_t)((len + nchunk - 1) / nchunk);
  int64_t n = lines * nchunk;
  ember_tensor *tot = ember_tensor_empty_on(EMBER_VULKAN, EMBER_I64, 1, &n);
  if (tot == NULL) return EMBER_ERROR;
  ember_status st = scan_launch(name, p, x, y, tot, 2, WG, n);
  if (st == EMBER_OK) st = scan_launch(name, p, x, y, tot, 1, WG, n);
  ember_tensor_release(tot);
  return st;
}

ember_status vk_cumsum(ember_call *c) {
  ember_tensor *x = c->in[0], *y = c->out[0];
  int d;
  if (ember_attr_dim(c, 0, x->ndim, &d) != EMBER_OK) return EMBER_ERROR;
  int64_t numel = ember_tensor_numel(x);
  if (numel == 0) return EMBER_OK;
  if (numel > VK_INDEX_LIMIT)
    return ember_op_error(c, "%lld elements are beyond the Vulkan kernels' 32-bit indexing",
                          (long long)numel);
  scan_push p;
  memset(&p, 0, sizeof p);
  int64_t len = x->ndim ? x->shape[d] : 1;
  p.nlines = (uint32_t)(numel / len);
  if (scan_layout(x, y, d, &p)) return scan_run(x, y, &p);
  /* y is fresh and contiguous: x is the strided one */
  ember_tensor *xd = vk_dense(x, EMBER_DTYPE_NONE, 0, NULL);
  if (xd == NULL) return EMBER_ERROR;
  ember_status st = scan_layout(xd, y, d, &p) ? scan_run(xd, y, &p)
                  : ember_op_error(c, "the layout does not fit the Vulkan kernel's push constants");
  ember_tensor_release(xd);
  return st;
}

/* }====== */
