/*
** test_scratch.c — kernel scratch (host/core/scratch.c) and allocation-free kernels:
** each op's cpu kernel is called as the runtime calls it (ember_call prepared and
** inferred once, outputs made beforehand and given in c->out, view ops given a header
** to fill) inside a scratch region, with malloc and friends interposed and counted,
** and must allocate nothing and give the values eager dispatch gives.
**
** OpenMP and OpenBLAS set up their thread pools and buffers on their first call, so
** each kernel runs once under the region before the counted call; everything ember
** does must be allocation-free from the first counted call on. Prints TAP lines;
** exits non-zero if any check fails.
*/
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"
#include "core.h"
#include "ops.h"

#include "alloc_count.h"

static int ntest, nfail;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - %s\n", ok ? "" : "not ", ntest, what);
}

static ember_tensor *randn(int nd, const int64_t *shape, unsigned seed) {
  ember_tensor *t = ember_tensor_empty(EMBER_F32, nd, shape);
  float *d = ember_tensor_data(t);
  srand(seed);
  for (int64_t i = 0; i < ember_tensor_numel(t); i++) d[i] = (float)rand() / RAND_MAX * 2 - 1;
  return t;
}

static ember_tensor *indices(int nd, const int64_t *shape, int64_t below, unsigned seed) {
  ember_tensor *t = ember_tensor_empty(EMBER_I64, nd, shape);
  int64_t *d = ember_tensor_data(t);
  srand(seed);
  for (int64_t i = 0; i < ember_tensor_numel(t); i++) d[i] = rand() % below;
  return t;
}

/* A call prepared as the runtime prepares it: attributes parsed, infer run, no input
** cast needed, each output made beforehand in the dtype the kernel writes. */
typedef struct prepared {
  ember_call c;
  ember_tensor *in[EMBER_INLINE_INPUTS];
  char buf[256];
} prepared;

static int prepare(prepared *p, const char *name, int nin, ember_tensor **in, const char *attrs) {
  const ember_op *op = ember_op_find(name);
  if (op == NULL) return 0;
  memcpy(p->in, in, (size_t)nin * sizeof *in);
  ember_call *c = &p->c;
  ember_call_init(c, op, nin, p->in);
  if (ember_call_parse_attrs(c, attrs, p->buf, sizeof p->buf) != EMBER_OK) return 0;
  for (int i = 0; i < nin; i++) {
    c->in_cast[i] = EMBER_DTYPE_NONE;
    c->in_owned[i] = NULL;
    c->in_user[i] = c->in[i];
  }
  for (int k = 0; k < EMBER_MAX_OUTPUTS; k++) {
    c->out[k] = NULL;
    c->out_kernel[k] = EMBER_DTYPE_NONE;
  }
  if (op->infer(c) != EMBER_OK) return 0;
  for (int i = 0; i < nin; i++)
    if (c->in_cast[i] != EMBER_DTYPE_NONE && c->in_cast[i] != c->in[i]->dtype) return 0;
  if (op->flags & EMBER_OP_VIEW) return 1;   /* the caller gives the header or output */
  for (int k = 0; k < c->nout; k++) {
    if (c->out_kernel[k] != EMBER_DTYPE_NONE && c->out_kernel[k] != c->out_dtype[k]) return 0;
    c->out[k] = ember_tensor_empty(c->out_dtype[k], c->out_ndim[k], c->out_shape[k]);
  }
  return 1;
}

static void unprepare(prepared *p) {
  if (p->c.op->flags & EMBER_OP_VIEW) return;
  for (int k = 0; k < p->c.nout; k++) ember_tensor_release(p->c.out[k]);
}

/* The kernel inside region r; how many heap calls it made while counted. */
static ember_status run_in(prepared *p, ember_scratch_region *r, int counted, long *calls) {
  nallocs = nfrees = 0;
  counting = counted;
  ember_scratch_begin(r);
  ember_status st = p->c.op->cpu(&p->c);
  ember_scratch_end();
  counting = 0;
  if (calls) *calls = nallocs + nfrees;
  return st;
}

static int same_values(const ember_tensor *a, const ember_tensor *b) {
  if (a->dtype != b->dtype || a->ndim != b->ndim ||
      memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) != 0)
    return 0;
  ember_tensor *ca = ember_contiguous((ember_tensor *)a), *cb = ember_contiguous((ember_tensor *)b);
  int ok = memcmp(ember_tensor_data(ca), ember_tensor_data(cb), ember_tensor_nbytes(ca)) == 0;
  ember_tensor_release(ca);
  ember_tensor_release(cb);
  return ok;
}

static char workspace[4 << 20] __attribute__((aligned(64)));

/* op on in with attrs, run as the runtime would: zero heap calls from the first counted
** call, every scratch block given back, the values eager dispatch gives. */
static void kernel_case(const char *what, const char *name, int nin, ember_tensor **in,
                        const char *attrs, int wants_scratch) {
  char msg[200];
  prepared p;
  if (!prepare(&p, name, nin, in, attrs)) {
    snprintf(msg, sizeof msg, "%s: prepared as the runtime would (%s)", what, ember_last_error());
    check(0, msg);
    return;
  }
  ember_scratch_region r;
  ember_scratch_init(&r, workspace, sizeof workspace);
  ember_status warm = run_in(&p, &r, 0, NULL);   /* thread pools, BLAS buffers */
  ember_scratch_init(&r, workspace, sizeof workspace);
  long calls = -1;
  ember_status st = warm == EMBER_OK ? run_in(&p, &r, 1, &calls) : EMBER_ERROR;
  snprintf(msg, sizeof msg, "%s: no heap allocation inside a region (%ld calls)%s", what, calls, ALLOC_NOTE);
  check(st == EMBER_OK && no_allocs(calls), msg);
  if (st != EMBER_OK) printf("# %s\n", ember_last_error());
  snprintf(msg, sizeof msg, "%s: every scratch block given back, none overflowed (peak %zu)", what, r.peak);
  check(r.top == NULL && r.overflows == 0 && (!wants_scratch || r.peak > 0), msg);

  ember_tensor *eager[EMBER_MAX_OUTPUTS] = {0};
  int n = ember_op_run(name, nin, in, attrs, eager, EMBER_MAX_OUTPUTS);
  int ok = n == p.c.nout;
  for (int k = 0; ok && k < n; k++) ok = same_values(p.c.out[k], eager[k]);
  snprintf(msg, sizeof msg, "%s: the same values as eager dispatch", what);
  check(ok, msg);
  for (int k = 0; k < n; k++) ember_tensor_release(eager[k]);
  unprepare(&p);
}

/* A view op given a header to fill: no heap call, no reference taken on the storage,
** the header the eager view gets. */
static void view_case(const char *what, const char *name, ember_tensor *x, const char *attrs) {
  char msg[200];
  prepared p;
  if (!prepare(&p, name, 1, &x, attrs)) {
    snprintf(msg, sizeof msg, "%s: prepared (%s)", what, ember_last_error());
    check(0, msg);
    return;
  }
  ember_tensor h;
  memset(&h, 0, sizeof h);
  h.refcount = 1;
  p.c.out[0] = &h;
  int refs = x->storage->refcount;
  ember_scratch_region r;
  ember_scratch_init(&r, workspace, sizeof workspace);
  long calls = -1;
  ember_status st = run_in(&p, &r, 1, &calls);
  int kept = x->storage->refcount == refs;
  ember_tensor *eager = NULL;
  int n = ember_op_run(name, 1, &x, attrs, &eager, 1);
  int ok = st == EMBER_OK && no_allocs(calls) && p.c.out[0] == &h && h.storage == x->storage &&
           kept && n == 1 && eager->storage == x->storage &&
           h.dtype == eager->dtype && h.ndim == eager->ndim && h.offset == eager->offset &&
           memcmp(h.shape, eager->shape, (size_t)h.ndim * sizeof h.shape[0]) == 0 &&
           memcmp(h.stride, eager->stride, (size_t)h.ndim * sizeof h.stride[0]) == 0;
  snprintf(msg, sizeof msg, "%s: fills the header it is given, no allocation, no reference (%ld calls)%s",
           what, calls, ALLOC_NOTE);
  check(ok, msg);
  ember_tensor_release(eager);
}

/* A copying view op (contiguous of a strided tensor, reshape that cannot view, clone,
** to) given an output: writes the values there. */
static void copy_case(const char *what, const char *name, ember_tensor *x, const char *attrs,
                      ember_dtype dt, int nd, const int64_t *shape) {
  char msg[200];
  prepared p;
  if (!prepare(&p, name, 1, &x, attrs)) {
    snprintf(msg, sizeof msg, "%s: prepared (%s)", what, ember_last_error());
    check(0, msg);
    return;
  }
  ember_tensor *out = ember_tensor_empty(dt, nd, shape);
  p.c.out[0] = out;
  ember_scratch_region r;
  ember_scratch_init(&r, workspace, sizeof workspace);
  long calls = -1;
  ember_status st = run_in(&p, &r, 1, &calls);
  ember_tensor *eager = NULL;
  int n = ember_op_run(name, 1, &x, attrs, &eager, 1);
  int ok = st == EMBER_OK && no_allocs(calls) && p.c.out[0] == out && n == 1 && eager->storage != x->storage &&
           same_values(out, eager);
  snprintf(msg, sizeof msg, "%s: copies into the output it is given, no allocation (%ld calls)%s",
           what, calls, ALLOC_NOTE);
  check(ok, msg);
  if (st != EMBER_OK) printf("# %s\n", ember_last_error());
  ember_tensor_release(eager);
  ember_tensor_release(out);
}

/* {====== the scratch allocator itself */

static void test_allocator(void) {
  ember_scratch_region r;
  ember_scratch_init(&r, workspace + 8, 4096);   /* unaligned memory is aligned inside */
  check(((uintptr_t)r.base & 63) == 0 && r.size == 4096 - 56, "a region aligns its memory to 64 bytes");
  ember_scratch_begin(&r);
  check(ember_scratch_active() == &r, "begin makes the region active on this thread");
  char *a = ember_scratch_alloc(10), *b = ember_scratch_alloc(100);
  check(a && b && ((uintptr_t)a & 63) == 0 && ((uintptr_t)b & 63) == 0 &&
        a >= r.base && b < r.base + r.size && b > a, "blocks come from the region, 64-byte aligned");
  ember_scratch_free(a);                  /* out of order: a waits for b */
  check(r.top != NULL, "a block freed out of order is kept until those above it go");
  ember_scratch_free(b);
  check(r.top == NULL, "then both are given back");
  char *c = ember_scratch_alloc(10);
  check(c == a, "and the next block reuses the same bytes");
  ember_scratch_free(c);
  size_t before = r.overflows;
  char *big = ember_scratch_alloc(8192);
  check(big != NULL && (big < r.base || big >= r.base + r.size) && r.overflows == before + 1,
        "a block that does not fit comes from the heap and is counted as an overflow");
  memset(big, 1, 8192);
  ember_scratch_free(big);
  check(r.top == NULL && r.peak >= 8192, "the peak counts what was asked for, overflow included");
  ember_scratch_end();
  check(ember_scratch_active() == NULL, "end leaves no region active");
  void *plain = ember_scratch_alloc(100);
  check(plain != NULL && ((uintptr_t)plain & 63) == 0, "without a region scratch is heap memory");
  ember_scratch_free(plain);

  /* tensors a kernel makes come from the region, header and bytes */
  ember_scratch_init(&r, workspace, sizeof workspace);
  ember_scratch_begin(&r);
  int64_t shape[2] = { 3, 5 };
  nallocs = nfrees = 0;
  counting = 1;
  ember_tensor *t = ember_tensor_zeros(EMBER_F32, 2, shape);
  ember_tensor *tt = t ? ember_transpose(t, 0, 1) : NULL;
  ember_tensor *ct = tt ? ember_contiguous(tt) : NULL;
  counting = 0;
  int inside = t && ct && (char *)t >= r.base && (char *)t < r.base + r.size &&
               (char *)t->storage->data >= r.base && (char *)ct->storage < r.base + r.size;
  ember_tensor_release(t);
  ember_tensor_release(ct);
  ember_tensor_release(tt);
  check(inside && no_allocs(nallocs) && r.top == NULL,
        "tensors made inside a region are scratch, headers and storage, and go back to it");
  ember_scratch_end();
}

/* }====== */

int main(void) {
  test_allocator();

  int64_t xs[4] = { 2, 3, 8, 8 }, ws3[4] = { 4, 3, 3, 3 }, ws1[4] = { 4, 3, 1, 1 }, bs[1] = { 4 };
  ember_tensor *x = randn(4, xs, 1), *w3 = randn(4, ws3, 2), *w1 = randn(4, ws1, 3), *b = randn(1, bs, 4);
  int64_t x1s[4] = { 1, 3, 8, 8 };
  ember_tensor *x1 = randn(4, x1s, 5);

  ember_tensor *conv3[3] = { x, w3, b }, *conv1[3] = { x1, w1, b };
  kernel_case("conv2d 3x3 (im2col, two images a GEMM)", "conv2d", 3, conv3, "padding=1,1", 1);
  kernel_case("conv2d 1x1 (direct)", "conv2d", 3, conv1, NULL, 0);

  /* measure mode: the peak of what conv2d's im2col asked for */
  {
    prepared p;
    prepare(&p, "conv2d", 3, conv3, "padding=1,1");
    ember_scratch_region r;
    ember_scratch_init(&r, NULL, 0);
    ember_status st = run_in(&p, &r, 0, NULL);
    size_t cols = (size_t)(3 * 9) * 2 * 64 * sizeof(float);   /* krows x images x positions */
    check(st == EMBER_OK && r.base == NULL && r.peak >= cols && r.overflows == 0 && r.top == NULL,
          "measure mode records the peak conv2d's column matrix needs, from the heap");
    /* a region of that size serves it with no overflow, one too small overflows */
    ember_scratch_init(&r, workspace, r.peak);
    st = run_in(&p, &r, 0, NULL);
    check(st == EMBER_OK && r.overflows == 0, "a region of the measured size serves it whole");
    ember_tensor *want = NULL;
    ember_op_run("conv2d", 3, conv3, "padding=1,1", &want, 1);
    ember_scratch_init(&r, workspace, 256);
    st = run_in(&p, &r, 0, NULL);
    check(st == EMBER_OK && r.overflows > 0 && r.top == NULL && same_values(p.c.out[0], want),
          "an undersized region counts overflows and still gives the right values");
    ember_tensor_release(want);
    unprepare(&p);
  }

  int64_t as[2] = { 6, 20 }, lws[2] = { 7, 20 }, lbs[1] = { 7 };
  ember_tensor *a = randn(2, as, 6), *lw = randn(2, lws, 7), *lb = randn(1, lbs, 8);
  ember_tensor *lin[3] = { a, lw, lb };
  kernel_case("linear", "linear", 3, lin, NULL, 0);
  int64_t ms[2] = { 20, 9 };
  ember_tensor *mb = randn(2, ms, 9);
  ember_tensor *mm[2] = { a, mb };
  kernel_case("matmul", "matmul", 2, mm, NULL, 0);
  ember_tensor *at = ember_transpose(lw, 0, 1);   /* 20 x 7, strided */
  ember_tensor *mmt[2] = { a, at };
  kernel_case("matmul of a transposed input", "matmul", 2, mmt, NULL, 0);
  kernel_case("softmax", "softmax", 1, &a, "dim=1", 0);
  kernel_case("log_softmax", "log_softmax", 1, &a, "dim=0", 0);
  int64_t ns[1] = { 20 };
  ember_tensor *nw = randn(1, ns, 10), *nb = randn(1, ns, 11);
  ember_tensor *ln[3] = { a, nw, nb };
  kernel_case("layer_norm", "layer_norm", 3, ln, "normalized_shape=20", 0);

  int64_t cs[1] = { 3 };
  ember_tensor *mean = randn(1, cs, 12), *var = randn(1, cs, 13), *bw = randn(1, cs, 14), *bb = randn(1, cs, 15);
  float *vd = ember_tensor_data(var);
  for (int i = 0; i < 3; i++) vd[i] = vd[i] * vd[i] + 0.5f;
  ember_tensor *bn[5] = { x, mean, var, bw, bb };
  kernel_case("batch_norm", "batch_norm", 5, bn, NULL, 1);

  kernel_case("max_pool2d", "max_pool2d", 1, &x, "kernel_size=2,2", 0);
  kernel_case("avg_pool2d", "avg_pool2d", 1, &x, "kernel_size=3,3,stride=2,2,padding=1,1", 0);
  kernel_case("adaptive_avg_pool2d", "adaptive_avg_pool2d", 1, &x, "output_size=3,3", 0);

  int64_t ids[2] = { 3, 4 }, es[2] = { 10, 6 };
  ember_tensor *idx = indices(2, ids, 10, 16), *ew = randn(2, es, 17);
  ember_tensor *emb[2] = { idx, ew };
  kernel_case("embedding", "embedding", 2, emb, NULL, 0);

  int64_t big[2] = { 256, 512 };
  ember_tensor *r = randn(2, big, 18);
  kernel_case("sum over a dim", "sum", 1, &r, "dim=0", 0);
  kernel_case("argmax over strided rows (a tile per thread)", "argmax", 1, &r, "dim=0", 1);
  kernel_case("mean over a dim", "mean", 1, &r, "dim=1", 0);
  kernel_case("max over a dim (values and indices)", "max", 1, &a, "dim=1", 0);
  kernel_case("argmax", "argmax", 1, &a, "dim=0", 0);
  kernel_case("relu", "relu", 1, &a, NULL, 0);
  kernel_case("relu of a large tensor (split over threads)", "relu", 1, &r, NULL, 0);
  kernel_case("gelu", "gelu", 1, &a, NULL, 0);
  int64_t b1s[3] = { 4, 1, 5 }, b2s[2] = { 3, 5 };
  ember_tensor *ba = randn(3, b1s, 19), *bbb = randn(2, b2s, 20);
  ember_tensor *add[2] = { ba, bbb };
  kernel_case("add with broadcasting", "add", 2, add, NULL, 0);

  /* the other kernels whose temporaries became scratch */
  ember_tensor *sel[2] = { a, NULL };
  int64_t sis[1] = { 5 };
  sel[1] = indices(1, sis, 6, 21);
  kernel_case("index_select", "index_select", 2, sel, "dim=0", 1);
  int64_t ss[2] = { 64, 300 };
  ember_tensor *srt = randn(2, ss, 22);
  kernel_case("sort of long lines (a buffer per thread)", "sort", 1, &srt, "dim=1", 1);
  kernel_case("pad (index maps)", "pad", 1, &x, "pad=1,2,2,1,mode=reflect", 1);
  kernel_case("interpolate bilinear (taps)", "interpolate", 1, &x,
              "size=5,11,mode=bilinear,align_corners=false", 1);

  /* views into headers the runtime owns, and copies into its outputs */
  view_case("transpose", "transpose", x, "dim0=1,dim1=3");
  view_case("narrow", "narrow", x, "dim=2,start=2,length=3");
  view_case("select", "select", x, "dim=1,index=2");
  view_case("view", "view", x, "size=6,-1");
  view_case("permute", "permute", x, "dims=3,0,2,1");
  view_case("unsqueeze", "unsqueeze", x, "dim=1");
  view_case("flatten of a contiguous tensor", "flatten", x, "start_dim=1");
  view_case("expand", "expand", bb, "size=2,3");
  view_case("contiguous of a contiguous tensor", "contiguous", x, NULL);
  ember_tensor *xt = ember_transpose(x, 1, 3);
  int64_t xts[4] = { 2, 8, 8, 3 }, flat[2] = { 2, 192 };
  copy_case("contiguous of a transposed tensor", "contiguous", xt, NULL, EMBER_F32, 4, xts);
  copy_case("reshape that cannot be a view", "reshape", xt, "size=2,-1", EMBER_F32, 2, flat);
  copy_case("flatten that cannot be a view", "flatten", xt, "start_dim=1", EMBER_F32, 2, flat);
  copy_case("clone", "clone", xt, NULL, EMBER_F32, 4, xts);
  copy_case("to f64", "to", xt, "dtype=f64", EMBER_F64, 4, xts);

  /* one thread: libgomp would allocate a team on entering any parallel region, so the
  ** kernels must not enter one */
  omp_set_num_threads(1);
  kernel_case("one thread: relu of a large tensor", "relu", 1, &r, NULL, 0);
  kernel_case("one thread: sort of long lines", "sort", 1, &srt, "dim=1", 1);
  kernel_case("one thread: argmax over strided rows", "argmax", 1, &r, "dim=0", 1);
  kernel_case("one thread: conv2d 3x3", "conv2d", 3, conv3, "padding=1,1", 1);

  ember_tensor *all[] = { x, w3, w1, b, x1, a, lw, lb, mb, at, nw, nb, mean, var, bw, bb, idx, ew,
                          r, ba, bbb, sel[1], srt, xt };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ember_tensor_release(all[i]);
  printf("1..%d\n", ntest);
  return nfail != 0;
}
