/*
** ops.h — THE op table: what an op is, and the dispatcher that runs one.
**
** An op is defined once, as one ember_op entry in a host/ops/ops_<family>.c file:
** its name (the name the Lua API uses and export records), its tensor inputs, its
** attributes, its shape and dtype rule (infer), its CPU kernel, a slot for its Vulkan
** kernel, a slot for its backward rule, and flags. Eager dispatch (ember_dispatch),
** the Lua functions and methods (bindings/), autograd, export and the runtime all read
** the same entry; adding an op means adding an entry, its kernel and its tests, and
** touching nothing in bindings/.
**
** A call goes:  attrs filled from defaults -> infer -> outputs allocated -> inputs
** cast as infer asked -> kernel -> outputs converted back if the kernel computed in a
** wider dtype -> backward recorded (autograd hook).
*/
#ifndef EMBER_OPS_H
#define EMBER_OPS_H

#include "core.h"

#define EMBER_MAX_ATTRS 10
#define EMBER_MAX_INTS 16          /* longest int list attribute (pad: 2 per dim) */
#define EMBER_MAX_OUTPUTS 4
#define EMBER_INLINE_INPUTS 8      /* more (cat, stack) are held by pointer */

/* {====== attributes */

typedef enum ember_attr_kind {
  EMBER_ATTR_INT,     /* int64 */
  EMBER_ATTR_FLOAT,   /* double (also holds integer values exactly up to 2^53) */
  EMBER_ATTR_BOOL,
  EMBER_ATTR_DIM,     /* one dim, 0-based, may be negative; Lua passes it 1-based */
  EMBER_ATTR_DIMS,    /* list of dims (or a single dim); "none" means all dims */
  EMBER_ATTR_DIMS_VA, /* list of dims; from Lua also as trailing integers (permute) */
  EMBER_ATTR_INTS,    /* list of ints: sizes, strides, paddings */
  EMBER_ATTR_SIZE,    /* a shape; from Lua: a table or the trailing integers, Torch7 style */
  EMBER_ATTR_INDEX,   /* an index value, 0-based; Lua passes it 1-based */
  EMBER_ATTR_STR,     /* a word from a fixed set ("tanh", "nearest") */
  EMBER_ATTR_DTYPE,
} ember_attr_kind;

typedef struct ember_attr_def {
  const char *name;
  ember_attr_kind kind;
  const char *dflt;   /* default in the same text form ember_op_run takes; NULL = required;
                         "none" = absent (the kernel sees present == 0) */
} ember_attr_def;

typedef struct ember_attr {
  int present;        /* 0 when absent ("none") */
  int n;              /* list length for DIMS / INTS / SIZE */
  int64_t i;          /* INT, DIM, INDEX, BOOL, DTYPE */
  double f;           /* FLOAT (and INT as a double) */
  const char *s;      /* STR: points at a static string or the caller's */
  int64_t v[EMBER_MAX_INTS];
} ember_attr;

/* }====== */

/* {====== the call */

typedef struct ember_op ember_op;

typedef struct ember_call {
  const ember_op *op;
  int nin;
  ember_tensor **in;                       /* NULL entries for absent optional inputs */
  ember_tensor *in_inline[EMBER_INLINE_INPUTS];
  ember_dtype in_cast[EMBER_INLINE_INPUTS];/* set by infer: cast input i before the kernel */
  ember_tensor *in_owned[EMBER_INLINE_INPUTS]; /* casts made by the dispatcher, freed after */
  ember_attr attr[EMBER_MAX_ATTRS];        /* in the order of op->attrs */
  int nout;                                /* set by infer (defaults to op->nout) */
  ember_tensor *out[EMBER_MAX_OUTPUTS];
  /* filled by infer: each output's dtype and shape */
  ember_dtype out_dtype[EMBER_MAX_OUTPUTS];
  int out_ndim[EMBER_MAX_OUTPUTS];
  int64_t out_shape[EMBER_MAX_OUTPUTS][EMBER_MAX_DIMS];
  ember_dtype out_kernel[EMBER_MAX_OUTPUTS];/* dtype the kernel writes output k in, when it
                                              differs from out_dtype (NONE: the same) */
  ember_dtype compute;                     /* set by infer: dtype the kernel works in */
  ember_tensor *in_user[EMBER_INLINE_INPUTS]; /* the caller's inputs, before casts */
  int inplace;                             /* out[0] is in[0] (op_ variants) */
  int index_base;                          /* 1 from Lua, 0 from C: base of index values */
  ember_tensor **list_out;                 /* EMBER_OP_LIST_OUT ops: a malloc'ed array */
  int nlist;
  /* autograd: which inputs the backward rule must give a gradient for (bit i, inputs
  ** past 31 share bit 31), and for in-place calls the value in[0] had before */
  unsigned grad_mask;
  ember_tensor *saved_self;
  /* the device the kernel runs on: that of the inputs, or for creation ops the one
  ** the caller asked for (ember_call_init: the cpu) */
  ember_device device;
} ember_call;

typedef ember_status (*ember_infer_fn)(ember_call *c);
typedef ember_status (*ember_kernel_fn)(ember_call *c);

/* Backward rule: given the call (inputs, attrs, outputs) and the gradients of the
** outputs, write the gradients of the inputs as new references (NULL where not
** needed: see ember_needs_grad). c->in are the caller's inputs (before any cast),
** c->out (or c->list_out) the outputs; grad_out[k] is never NULL for a float output
** (zeros are filled in where no gradient flowed). A rule may return a gradient whose
** shape broadcasts to its input's or whose dtype differs: the engine sums it down
** and converts it. Rules run with grad mode off; helpers are in autograd.h. */
typedef ember_status (*ember_backward_fn)(const ember_call *c, ember_tensor *const *grad_out,
                                          ember_tensor **grad_in);

/* }====== */

/* {====== the op entry */

enum {
  EMBER_OP_METHOD    = 1u << 0,  /* t:name(...) */
  EMBER_OP_FUNCTION  = 1u << 1,  /* ember.name(...) */
  EMBER_OP_INPLACE   = 1u << 2,  /* also t:name_(...), writing into in[0] */
  EMBER_OP_VIEW      = 1u << 3,  /* cpu fn makes out[0] a view of in[0]; no allocation */
  EMBER_OP_ALLOCS    = 1u << 4,  /* kernel allocates its outputs (data-dependent shape) */
  EMBER_OP_LIST_IN   = 1u << 5,  /* inputs come as one list (cat, stack) */
  EMBER_OP_LIST_OUT  = 1u << 6,  /* outputs are a list the kernel makes (split, chunk) */
  EMBER_OP_SCALARS   = 1u << 7,  /* inputs may be Lua numbers (wrapped as 0-dim tensors) */
  EMBER_OP_RANDOM    = 1u << 8,  /* draws from the RNG */
  EMBER_OP_CREATION  = 1u << 9,  /* no tensor inputs; makes a new tensor (zeros, arange) */
  EMBER_OP_INDEX_OUT = 1u << 10, /* some output holds index values (argmax, sort) */
  EMBER_OP_NONDIFF   = 1u << 11, /* outputs never carry a gradient (the *_like ops) */
  EMBER_OP_CROSS_DEVICE = 1u << 12, /* inputs may be on different devices (copy_ moves
                                       values between them); the kernel sees them as they are */
  EMBER_OP_HOST_SCALARS = 1u << 13, /* the device kernel takes 0-dim cpu inputs (numbers) as
                                       they are, in its push constants: no upload */
};

/* What a backward rule reads besides shapes: the values of input i and of output k.
** The engine keeps those alive for backward and refuses to run the rule when one was
** since changed in place. */
#define EMBER_SAVES_IN(i)  (1u << (i))
#define EMBER_SAVES_INPUTS 0xffu
#define EMBER_SAVES_OUT(k) (1u << (8 + (k)))

#define EMBER_OP_BOTH (EMBER_OP_METHOD | EMBER_OP_FUNCTION)

/* Every entry names its backward rule and its Vulkan kernel through these:
** `.backward = EMBER_GRAD(grad_linear), .vulkan = EMBER_VK(vk_linear)`. The runtime
** (built with -DEMBER_RT) links no autograd, and no Vulkan backend unless it is also
** built with -DEMBER_RT_WITH_VULKAN: there the slots are NULL. The name stays in an arm
** the compiler drops, so a static rule counts as used and the build does not warn. */
#if defined(EMBER_RT)
#define EMBER_GRAD(fn) (0 ? (fn) : NULL)
#else
#define EMBER_GRAD(fn) (fn)
#endif
#if defined(EMBER_RT) && !defined(EMBER_RT_WITH_VULKAN)
#define EMBER_VK(fn) (0 ? (fn) : NULL)
#else
#define EMBER_VK(fn) (fn)
#endif

struct ember_op {
  const char *name;            /* Lua name and the name export records */
  int min_inputs, max_inputs;  /* tensor inputs; optional ones come last */
  int nout;                    /* outputs (infer may lower it: max without dim) */
  const ember_attr_def *attrs; /* {NULL}-terminated, or NULL for none */
  ember_infer_fn infer;        /* shape and dtype rule; also validates */
  ember_kernel_fn cpu;         /* CPU kernel (or the view maker for EMBER_OP_VIEW) */
  ember_kernel_fn vulkan;      /* slot for the Vulkan backend; NULL: not on Vulkan */
  ember_backward_fn backward;  /* gradient rule; NULL: backward through it is an error */
  unsigned saves;              /* EMBER_SAVES_*: what the rule reads */
  unsigned saves_for[3];       /* if set: what it reads for the gradient of input i, so
                                  that only what a needed gradient reads is checked
                                  (b = w / 3 lets w change in place: only 3 is read) */
  unsigned flags;
  unsigned nograd_outs;        /* outputs (bit k for output k) that carry no gradient and
                                  record no history though they are float: batch
                                  statistics returned beside a result */
  const char *args;            /* Lua positional order when it is not "inputs, then
                                  attributes": attribute names and #k for input k,
                                  e.g. "#1 normalized_shape #2 #3 eps" */
  const char *doc;             /* one line: shapes, dtypes, broadcasting */
};

/* }====== */

/* {====== the registry (registry.c) */

/* Every family file exports its entries as an array ending with a {NULL} entry. */
extern const ember_op ember_ops_creation[];
extern const ember_op ember_ops_elementwise[];
extern const ember_op ember_ops_reduce[];
extern const ember_op ember_ops_linalg[];
extern const ember_op ember_ops_nn[];
extern const ember_op ember_ops_shape[];
extern const ember_op ember_ops_index[];
extern const ember_op ember_ops_view[];
extern const ember_op ember_ops_conv[];
extern const ember_op ember_ops_loss[];
extern const ember_op ember_ops_optim[];
extern const ember_op ember_ops_fused[];     /* export's fused ops (ops_fused.c) */

int ember_ops_count(void);
const ember_op *ember_op_at(int i);
const ember_op *ember_op_find(const char *name);
/* The parsed default of attribute k of op (from its dflt text). */
const ember_attr *ember_op_default(const ember_op *op, int k);
const ember_attr *ember_op_defaults(const ember_op *op);   /* all of them, in order */
int ember_op_attr_count(const ember_op *op);
int ember_op_attr_index(const ember_op *op, const char *name);   /* -1 if none */

/* Parse "text" as attribute kind (used for defaults and ember_op_run). */
ember_status ember_attr_parse(const ember_op *op, const ember_attr_def *def, const char *text,
                              ember_attr *out);

/* }====== */

/* {====== the dispatcher (dispatch.c) */

/* Prepare a call: zero it and fill attrs with their defaults; inputs go in c->in. */
void ember_call_init(ember_call *c, const ember_op *op, int nin, ember_tensor **in);
/* Run it. On success the caller owns c->out[0..nout) (or c->list_out). */
ember_status ember_dispatch(ember_call *c);
/* Set attributes from text "dim=0,keepdim=true" (ember_op_run's form); string
** attributes point into buf, which must live until the call is dispatched. */
ember_status ember_call_parse_attrs(ember_call *c, const char *text, char *buf, size_t bufsize);

/* Export (host/graph/trace.c) sets this while it traces on this thread: each call
** the caller made (not those an op makes inside itself) is shown to it after it ran.
** An error from it fails the call. The runtime never sets it. */
extern _Thread_local ember_status (*ember_trace_hook)(ember_call *c);

/* Autograd (host/autograd): before an in-place kernel, checks the write is legal
** and keeps the old value of in[0] when backward needs it; after a successful kernel,
** records the node. */
ember_status ember_autograd_before_inplace(ember_call *c);
ember_status ember_autograd_record(ember_call *c);
/* Free what autograd keeps in a call that failed after ember_autograd_before_inplace. */
void ember_autograd_call_done(ember_call *c);

/* }====== */

/* {====== helpers for infer functions and kernels (infer.c) */

/* An error "op: <message>" with the op's name in front. */
ember_status ember_op_error(const ember_call *c, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;

/* Set output k to dtype and shape. */
void ember_set_out(ember_call *c, int k, ember_dtype dt, int ndim, const int64_t *shape);

/* Pick the dtype the kernel computes in from the result dtype: itself if the kernel
** takes it natively (mask of 1u << dtype), else the closest wider one it takes
** (f16/bf16 -> f32; i8/i16/i32/u8/bool -> i64 ... ). Sets c->compute and marks
** inputs [first, first+n) for casting to it. */
ember_dtype ember_compute_dtype(ember_dtype want, uint32_t native);
void ember_cast_inputs(ember_call *c, int first, int n, ember_dtype dt);

/* The broadcast shape of inputs [0, n) (absent ones skipped) into nd, shape. */
ember_status ember_broadcast_inputs(ember_call *c, int n, int *nd, int64_t *shape);

/* Common rules: broadcast all inputs [0, n) and promote their dtypes; output 0
** gets the broadcast shape and the promoted dtype (or out_dt if not NONE). */
ember_status ember_infer_broadcast(ember_call *c, int n, ember_dtype out_dt, uint32_t native);

/* 1 when an input lives on a device: some device kernels take dtypes the cpu's do not
** (the Vulkan products read f16 and bf16 as stored), and infer may skip casts for them. */
static inline int ember_call_on_device(const ember_call *c) {
  for (int i = 0; i < c->nin; i++)
    if (c->in[i] && c->in[i]->storage->device != EMBER_CPU) return 1;
  return 0;
}

/* Attribute accessors by position. */
static inline int64_t ember_attr_int(const ember_call *c, int k) { return c->attr[k].i; }
static inline double ember_attr_float(const ember_call *c, int k) { return c->attr[k].f; }

/* Normalise attribute dim k against ndim (EMBER_ERROR with a message if out of range). */
ember_status ember_attr_dim(ember_call *c, int k, int ndim, int *dim);

#define EMBER_FLOATS ((1u << EMBER_F32) | (1u << EMBER_F64))
#define EMBER_INTS_NATIVE ((1u << EMBER_I64))
#define EMBER_ALL_DTYPES ((1u << EMBER_DTYPE_COUNT) - 1)

/* }====== */

#endif
