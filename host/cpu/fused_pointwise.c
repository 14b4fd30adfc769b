/*
** fused_pointwise.c — the CPU kernel of export's fused_pointwise: a chain of elementwise
** ops, written as a program over the inputs (parsed by host/ops/ops_fused.c), run as
** one pass over the output.
**
** The output is cut into blocks of BLOCK elements, spread over threads by
** ember_parallel_for. Within a block the program runs a step at a time over the whole
** block: a load puts input k's values for the block on the stack, an op replaces the
** top one or two values by its result. Stack levels are BLOCK-element buffers on the
** thread's own stack, small enough to stay in L1: the chain reads each input once and
** writes the output once, and each step is one loop the compiler vectorises, the very
** loop the eager op runs (elementwise.h), so the values are the eager chain's.
**
** A value on the stack is an address and a byte stride. Dims are merged as far as
** every operand allows; a block that lies within one run of the innermost dim reads in
** place the inputs that are contiguous or broadcast along that run (stride 0: one
** number for the block); other inputs, and every input of a block that crosses runs,
** are gathered into a buffer by walking their strides, so inputs of any layout work
** and each step's loop still sees contiguous operands or one number. A value that
** is one number stays one number through unary ops and ops between two such values,
** and is spread into a buffer when it meets a whole block as the left operand (the
** loops' fast paths take a broadcast right operand only). The last step writes
** straight into the output when the output is contiguous.
**
** The output may share its bytes with an input of its own shape (the memory plan's
** in-place reuse): a block reads each element of such an input only at the element's
** own position, and the output is written by the last step alone.
**
** Nothing here allocates: the buffers are on the thread's stack (80 KiB).
*/
#include <string.h>

#include "elementwise.h"
#include "fused.h"
#include "pointwise.h"

#define BLOCK 256
#define NOPS (1 + EMBER_FUSED_INPUTS)     /* operand 0 is the output */

/* {====== the plan: layout and resolved steps */

typedef struct step {
  ember_loop_fn loop;
  double alpha;                /* the loop's parameter (add's loop runs sub with -1) */
  short load;                  /* input k + 1 for a load, else 0 */
  char arity;                  /* 1: the loop reads a (square: its binary loop on (a, a)) */
} step;

typedef struct plan {
  ember_dtype dt;
  int64_t es;                  /* bytes per element */
  int nd;                      /* merged dims (at least 1) */
  int64_t shape[EMBER_MAX_DIMS];
  int64_t st[NOPS][EMBER_MAX_DIMS];   /* byte strides, 0 where broadcast */
  char *base[NOPS];
  int out_dense;               /* the output is contiguous: element i at base[0] + i * es */
  int64_t numel;
  int nstep;
  step steps[EMBER_FUSED_STEPS];
} plan;

/* Merge the dims of out and the inputs broadcast to it: size-1 dims drop out, and a
** dim joins the one before it when every operand steps over both as one run. */
static void make_layout(plan *pl, const ember_tensor *out, ember_tensor *const *in, int nin) {
  int64_t st[NOPS][EMBER_MAX_DIMS];
  int nops = 1 + nin;
  for (int k = 0; k < nops; k++) {
    const ember_tensor *t = k == 0 ? out : in[k - 1];
    if (k == 0) memcpy(st[0], out->stride, sizeof st[0]);
    else ember_broadcast_strides(t, out->ndim, out->shape, st[k]);
    pl->base[k] = ember_tensor_data(t);
  }
  int nd = 0;
  for (int d = 0; d < out->ndim; d++) {
    if (out->shape[d] == 1) continue;
    int merge = nd > 0;
    for (int k = 0; k < nops && merge; k++)
      merge = pl->st[k][nd - 1] == st[k][d] * out->shape[d] * pl->es;
    if (merge) {
      pl->shape[nd - 1] *= out->shape[d];
      for (int k = 0; k < nops; k++) pl->st[k][nd - 1] = st[k][d] * pl->es;
    } else {
      pl->shape[nd] = out->shape[d];
      for (int k = 0; k < nops; k++) pl->st[k][nd] = st[k][d] * pl->es;
      nd++;
    }
  }
  if (nd == 0) {                         /* one element */
    pl->shape[0] = 1;
    for (int k = 0; k < nops; k++) pl->st[k][0] = 0;
    nd = 1;
  }
  pl->nd = nd;
}

/* reciprocal: 1 / x, the formula of the eager 1 / x (div with a number on the left) */
static float recip_f(float a, const double *p) { (void)p; return 1.0f / a; }
static double recip_d(double a, const double *p) { (void)p; return 1.0 / a; }
static void recip_f32(char **d, const int64_t *s, int64_t n, void *x) { unary_f32(d, s, n, recip_f, x); }
static void recip_f64(char **d, const int64_t *s, int64_t n, void *x) { unary_f64(d, s, n, recip_d, x); }
static const ember_pw_loops recip_loops = { recip_f32, recip_f64, NULL, NULL };

/* Is t a 0-dim tensor holding 2? pow by it runs pow's x^2 path, as the eager pow does
** for such an exponent. */
static int is_number_two(const ember_tensor *t) {
  return t->ndim == 0 && ember_load_f64(t->dtype, ember_tensor_data(t)) == 2;
}

/* Each step's loop, from the eager op of the same name. */
static ember_status resolve(ember_call *c, const ember_fused_program *prog, plan *pl) {
  int f64 = pl->dt == EMBER_F64;
  pl->nstep = prog->nstep;
  for (int s = 0; s < prog->nstep; s++) {
    step *st = &pl->steps[s];
    const ember_fused_word *w = prog->word[s];
    memset(st, 0, sizeof *st);
    if (w == NULL) {
      st->load = (short)(prog->step[s] - EMBER_FUSED_LOAD + 1);
      continue;
    }
    const ember_pw_loops *l;
    double alpha = 1;
    st->arity = (char)w->arity;
    if (strcmp(w->name, "reciprocal") == 0) {
      l = &recip_loops;
    } else if (strcmp(w->name, "square") == 0) {
      l = ember_cpu_binary_loops("square", &alpha);     /* pow's x^2, on (a, a) */
    } else if (w->arity == 1) {
      l = ember_cpu_unary_loops(w->name);
    } else if (strcmp(w->name, "pow") == 0 && s > 0 && prog->word[s - 1] == NULL &&
               is_number_two(c->in[prog->step[s - 1] - EMBER_FUSED_LOAD])) {
      l = ember_cpu_binary_loops("square", &alpha);      /* x^2 with the 2 ignored */
    } else {
      l = ember_cpu_binary_loops(w->name, &alpha);
    }
    if (l == NULL || (f64 ? l->f64 : l->f32) == NULL)
      return ember_op_error(c, "word \"%s\" has no %s loop", w->name, ember_dtype_name(pl->dt));
    st->loop = f64 ? l->f64 : l->f32;
    st->alpha = alpha;
  }
  return EMBER_OK;
}

/* }====== */

/* {====== moving values */

/* n elements from src, stride bytes apart (0: one value spread), to contiguous dst
** (which may be src itself: an output in an input's bytes) */
static void copy_in(int64_t es, char *dst, const char *src, int64_t n, int64_t stride) {
  if (stride == es) {
    memmove(dst, src, (size_t)(n * es));
  } else if (es == 4) {
    float *o = (float *)dst;
    if (stride == 0) {
      float v = *(const float *)src;
      for (int64_t i = 0; i < n; i++) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; i++) o[i] = *(const float *)(src + i * stride);
    }
  } else {
    double *o = (double *)dst;
    if (stride == 0) {
      double v = *(const double *)src;
      for (int64_t i = 0; i < n; i++) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; i++) o[i] = *(const double *)(src + i * stride);
    }
  }
}

/* n contiguous elements of src to dst, stride bytes apart */
static void copy_out(int64_t es, char *dst, const char *src, int64_t n, int64_t stride) {
  if (stride == es) memmove(dst, src, (size_t)(n * es));
  else for (int64_t i = 0; i < n; i++) memcpy(dst + i * stride, src + i * es, (size_t)es);
}

static int64_t offset_of(const plan *pl, int k, const int64_t *coord) {
  int64_t o = 0;
  for (int d = 0; d < pl->nd; d++) o += coord[d] * pl->st[k][d];
  return o;
}

/* Walks operand k over the n elements from coordinates coord0 on, run by run along the
** innermost dim: gathers them into buf (to_buf), or writes buf's into the operand. */
static void walk(const plan *pl, int k, const int64_t *coord0, int64_t n, char *buf, int to_buf) {
  int nd = pl->nd;
  int64_t c[EMBER_MAX_DIMS], es = pl->es, inner = pl->shape[nd - 1], s = pl->st[k][nd - 1];
  memcpy(c, coord0, (size_t)nd * sizeof c[0]);
  for (int64_t done = 0; done < n;) {
    char *p = pl->base[k] + offset_of(pl, k, c);
    int64_t run = inner - c[nd - 1] < n - done ? inner - c[nd - 1] : n - done;
    if (to_buf) copy_in(es, buf + done * es, p, run, s);
    else copy_out(es, p, buf + done * es, run, s);
    done += run;
    c[nd - 1] += run;
    for (int d = nd - 1; d > 0 && c[d] == pl->shape[d]; d--) {
      c[d] = 0;
      c[d - 1]++;
    }
  }
}

/* }====== */

/* {====== running a block */

typedef struct value { char *p; int64_t st; } value;   /* st: es, or 0 for one number */

typedef struct scratch {
  _Alignas(64) char level[EMBER_FUSED_DEPTH][BLOCK * 8];
  _Alignas(64) char input[EMBER_FUSED_INPUTS][BLOCK * 8];
} scratch;

/* One step's loop over n elements into dst: a unary one on a, a binary one on (a, b). */
static void run_loop(const step *st, int64_t es, char *dst, value a, value b, int64_t n) {
  ember_pw_ctx ctx = { { st->alpha, 0, 0, 0 } };
  if (st->arity == 1) b = a;           /* unary loops read one operand; square reads a twice */
  char *d[3] = { dst, a.p, b.p };
  int64_t s[3] = { es, a.st, b.st };
  st->loop(d, s, n, &ctx);
}

static void run_block(const plan *pl, int64_t i0, int64_t n, scratch *sc) {
  int nd = pl->nd;
  int64_t es = pl->es, coord[EMBER_MAX_DIMS], r = i0;
  for (int d = nd - 1; d >= 0; d--) {
    coord[d] = r % pl->shape[d];
    r /= pl->shape[d];
  }
  int in_run = coord[nd - 1] + n <= pl->shape[nd - 1];
  unsigned gathered = 0;
  value stack[EMBER_FUSED_DEPTH];
  int sp = 0;
  stack[0].p = NULL;                     /* (a program starts with a load) */
  stack[0].st = 0;
  char *out = pl->out_dense ? pl->base[0] + i0 * es : NULL;
  for (int s = 0; s < pl->nstep; s++) {
    const step *st = &pl->steps[s];
    int last = s == pl->nstep - 1;
    if (st->load) {
      int k = st->load;                  /* operand k: input k - 1 */
      value v;
      int64_t is = pl->st[k][nd - 1];
      if (in_run && (is == es || is == 0)) {
        v.p = pl->base[k] + offset_of(pl, k, coord);
        v.st = is;
      } else {
        char *buf = sc->input[k - 1];
        if (!(gathered & (1u << k))) {
          walk(pl, k, coord, n, buf, 1);
          gathered |= 1u << k;
        }
        v.p = buf;
        v.st = es;
      }
      stack[sp++] = v;
      continue;
    }
    value b = stack[sp - 1], a = st->arity == 2 ? stack[sp - 2] : b;
    sp -= st->arity - 1;
    char *dst = last && out ? out : sc->level[sp - 1];
    if (a.st == 0 && (st->arity == 1 || b.st == 0) && !last) {
      run_loop(st, es, dst, a, b, 1);   /* one number in, one number out */
      stack[sp - 1].p = dst;
      stack[sp - 1].st = 0;
      continue;
    }
    if (a.st == 0 && st->arity == 2) {  /* spread the left operand over the block */
      char *buf = sc->level[sp - 1];
      char one[8];
      memcpy(one, a.p, (size_t)es);
      copy_in(es, buf, one, n, 0);
      a.p = buf;
      a.st = es;
    }
    run_loop(st, es, dst, a, b, n);
    stack[sp - 1].p = dst;
    stack[sp - 1].st = es;
  }
  value v = stack[0];
  if (out && v.p == out) return;
  if (out) {
    copy_in(es, out, v.p, n, v.st);
    return;
  }
  char *buf = v.p;                       /* a strided output: through a buffer */
  if (v.st != es) {
    buf = sc->level[0];
    char one[8];
    memcpy(one, v.p, (size_t)es);
    copy_in(es, buf, one, n, 0);
  }
  walk(pl, 0, coord, n, buf, 0);
}

static void run_blocks(void *ctx, int64_t lo, int64_t hi) {
  const plan *pl = ctx;
  scratch sc;
  for (int64_t b = lo; b < hi; b++) {
    int64_t i0 = b * BLOCK, n = pl->numel - i0 < BLOCK ? pl->numel - i0 : BLOCK;
    run_block(pl, i0, n, &sc);
  }
}

/* }====== */

ember_status ember_cpu_fused_pointwise(ember_call *c) {
  ember_fused_program prog;
  plan pl;
  ember_tensor *out = c->out[0];
  if (ember_fused_parse(c, c->attr[FUSED_PW_CODE].s, c->nin, &prog) != EMBER_OK) return EMBER_ERROR;
  pl.dt = c->compute;
  pl.es = (int64_t)ember_dtype_size(pl.dt);
  pl.numel = ember_tensor_numel(out);
  if (pl.numel == 0) return EMBER_OK;
  if (pl.dt != EMBER_F32 && pl.dt != EMBER_F64)
    return ember_op_error(c, "computes in f32 or f64, not %s", ember_dtype_name(pl.dt));
  if (resolve(c, &prog, &pl) != EMBER_OK) return EMBER_ERROR;
  make_layout(&pl, out, c->in, c->nin);
  pl.out_dense = ember_tensor_is_contiguous(out);
  int64_t blocks = (pl.numel + BLOCK - 1) / BLOCK;
  ember_parallel_for(blocks, pl.numel * prog.nstep, run_blocks, &pl);
  return EMBER_OK;
}
