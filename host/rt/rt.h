/*
** rt.h — internals of the runtime (host/rt): the loaded program, shared by the loader
** (load.c), the executor (exec.c), the C API (api.c) and the Vulkan executor
** (rt_vulkan.c). The public API is host/include/ember_rt.h.
*/
#ifndef EMBER_RT_INTERNAL_H
#define EMBER_RT_INTERNAL_H

#include "ember_rt.h"
#include "ops.h"

#define RT_MAX_SYMS 8
#define RT_ALIGN 64

/* an integer that follows the dynamic dims: add + sum(mul[s] * size[s]) */
typedef struct rt_expr {
  int64_t add;
  int64_t mul[RT_MAX_SYMS];
} rt_expr;

typedef enum rt_kind { RT_INPUT, RT_CONST, RT_NODE } rt_kind;

typedef struct rt_value {
  rt_kind kind;
  ember_dtype dtype;
  int ndim;
  rt_expr dim[EMBER_MAX_DIMS];
  int64_t max_shape[EMBER_MAX_DIMS];   /* at the bounds */
  int64_t at, bytes;                   /* NODE in the arena: byte offset and size at the bounds */
  int alias;                           /* NODE: the value whose bytes it uses; -1 */
  int root;                            /* NODE: the value that owns the bytes (itself if none) */
  int is_view, is_index;
  int input;                           /* INPUT: position */
  int producer;                        /* NODE: node index */
  const char *name;                    /* points into the program's string storage */
  ember_tensor t;                      /* the header kernels see; refcount pinned high */
  ember_tensor *konst;                 /* CONST: the tensor read from the file */
} rt_value;

typedef struct rt_symattr { int k, j; rt_expr e; } rt_symattr;

typedef struct rt_node {
  const ember_op *op;
  ember_call call;                     /* prepared once: op, attrs, inputs and outputs */
  int nin, nout;
  int *in;                             /* value ids, -1 absent */
  int out[EMBER_MAX_OUTPUTS];
  ember_tensor **in_list;              /* inputs past EMBER_INLINE_INPUTS (cat, stack) */
  int inplace;
  int nsym;
  rt_symattr *sym;
  double seconds;                      /* profiling */
  int64_t calls;
} rt_node;

typedef struct rt_io {
  int value;                           /* value id */
  const char *name;
  int64_t shape[EMBER_MAX_DIMS];       /* current */
  const char *dim_names[EMBER_MAX_DIMS];
  void *data;                          /* INPUT: the caller's bytes (index values 0-based) */
  size_t capacity;                     /* bytes at the bounds */
} rt_io;

/* The Vulkan executor (rt_vulkan.c), present when the runtime is built with Vulkan. */
typedef struct rt_device_ops {
  ember_rt_status (*load)(ember_rt_program *p);
  ember_rt_status (*execute)(ember_rt_program *p);
  void (*free)(ember_rt_program *p);
} rt_device_ops;

struct ember_rt_program {
  ember_safetensors *file;
  void *json_doc;                      /* the parsed program (ember_json_doc) */
  int version, index_base;
  int nsyms;
  char *sym_name[RT_MAX_SYMS];
  int64_t sym_max[RT_MAX_SYMS];
  int64_t sym_size[RT_MAX_SYMS];       /* current sizes */
  int nvalues;
  rt_value *values;
  int nnodes;
  rt_node *nodes;
  int ninputs, noutputs;
  rt_io *inputs, *outputs;
  int64_t arena_bytes, workspace_bytes, naive_bytes;
  int workspace_threads;
  size_t total_arena;                  /* arena + scaled workspace, what the caller sees */
  void *arena;                         /* 64-byte aligned */
  void *arena_owned;                   /* what load allocated (NULL when the caller's) */
  ember_storage arena_storage;         /* wraps the arena; never freed through refcounts */
  void *io_block;                      /* input buffers and index shadows */
  size_t weights_bytes;
  int shapes_dirty;                    /* inputs changed shape since the last execute */
  int profiling;
  int64_t scratch_overflows;           /* kernel scratch that did not fit the workspace */
  ember_rt_device device;
  const rt_device_ops *dev;
  void *dev_state;
};

/* load.c */
ember_rt_status rt_fail(ember_rt_status st, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;
int64_t rt_eval(const ember_rt_program *p, const rt_expr *e);

/* exec.c: shapes of every value at the current sizes (after an input's shape changed);
** the CPU executor. */
ember_rt_status rt_update_shapes(ember_rt_program *p);
ember_rt_status rt_execute_cpu(ember_rt_program *p);
/* Points every arena value's header at the arena (after load or set_arena). */
void rt_bind_arena(ember_rt_program *p);
/* One execute at the current shapes with zeroed inputs, its kernels' scratch served
** from the heap and measured: *peak gets the most bytes live at once. For export. */
ember_rt_status rt_measure_workspace(ember_rt_program *p, int64_t *peak);

ember_rt_status rt_last_status(void);
/* n integer elements of dt from src to dst (may be the same) with `by` added, wrapping
** at the dtype's width as a store of the sum would. */
void rt_shift_index(ember_dtype dt, void *dst, const void *src, int64_t n, int64_t by);
/* Index inputs into the graph's base (shadow copies); index outputs back to 0-based. */
void rt_index_inputs(ember_rt_program *p);
void rt_index_outputs(ember_rt_program *p);

/* The Vulkan executor, or NULL when this build has none. */
const rt_device_ops *rt_vulkan_ops(void);
/* How often the Vulkan executor recorded p's graph (once, and again per change of the
** dynamic dims); 0 on the cpu. For tests. */
int64_t rt_vulkan_records(const ember_rt_program *p);

#endif
