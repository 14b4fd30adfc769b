/*
** graph.h — the graph IR that export builds: values, nodes, constants, inputs and
** outputs; the tracer that records it from eager op calls; the passes that rewrite
** it; and the writer that turns it into a program file (docs/export.md).
**
** A graph is a list of values and a list of nodes in execution order. A value is a
** graph input, a constant (a tensor the graph holds: parameters become constants),
** or output k of a node. A node is one op-table entry with its attributes, as the
** dispatcher would run it, with index_base 0 semantics unless the program says
** otherwise. Nothing here runs while a program executes: host/rt reads the file the
** writer makes and never links this folder.
**
** Passes edit a graph in place. Removing a node only marks it dead (op = NULL);
** ember_graph_compact() renumbers once a pass is done, so value and node ids stay
** valid while a pass walks the lists.
*/
#ifndef EMBER_GRAPH_H
#define EMBER_GRAPH_H

#include "ops.h"

#define EMBER_GRAPH_MAX_SYMS 8

/* {====== dynamic dims: an int that is a + sum(mul[s] * sym[s]) */

typedef struct ember_gsym {
  char *name;         /* "batch" */
  int64_t max;        /* upper bound; plans are made at the bound */
  int64_t traced;     /* the size the example input had */
} ember_gsym;

typedef struct ember_gexpr {
  int64_t add;
  int64_t mul[EMBER_GRAPH_MAX_SYMS];   /* all 0: a plain constant */
} ember_gexpr;

static inline int ember_gexpr_is_const(const ember_gexpr *e) {
  for (int s = 0; s < EMBER_GRAPH_MAX_SYMS; s++) if (e->mul[s]) return 0;
  return 1;
}

/* The value of e with symbol s at sym_sizes[s]. */
int64_t ember_gexpr_eval(const ember_gexpr *e, const int64_t *sym_sizes, int nsyms);

/* }====== */

/* {====== values and nodes */

typedef enum ember_gvalue_kind { EMBER_GV_INPUT, EMBER_GV_CONST, EMBER_GV_NODE } ember_gvalue_kind;

typedef struct ember_gvalue {
  ember_gvalue_kind kind;
  ember_dtype dtype;
  int ndim;
  int64_t shape[EMBER_MAX_DIMS];       /* at the traced sizes */
  ember_gexpr dim[EMBER_MAX_DIMS];     /* each dim as an expression of the symbols */
  int node, out;                       /* NODE: producer and which of its outputs */
  int input;                           /* INPUT: position among the graph inputs */
  ember_tensor *tensor;                /* CONST: its value (a reference); NODE/INPUT: the
                                          traced value while tracing, NULL after */
  char *name;                          /* CONST: tensor name in the file (parameter name
                                          when known); INPUT / outputs: the user's name */
  int is_index;                        /* holds index values (token ids, argmax results) */
  int is_view;                         /* NODE: shares its first input's storage */
} ember_gvalue;

/* An int attribute entry that depends on dynamic dims: attribute k, list entry j
** (j = -1 for a single int), equals expr. */
typedef struct ember_gsymattr {
  int k, j;
  ember_gexpr expr;
} ember_gsymattr;

typedef struct ember_gnode {
  const ember_op *op;                  /* NULL: dead (removed by a pass) */
  int nin;
  int *in;                             /* value ids; -1 for an absent optional input */
  int nout;
  int out[EMBER_MAX_OUTPUTS];          /* value ids */
  ember_attr attr[EMBER_MAX_ATTRS];    /* in op->attrs order; STR attrs owned (strdup) */
  int inplace;                         /* an op that exists only in place (copy_, fill_):
                                          run with c->inplace, writing its own output */
  int nsym;
  ember_gsymattr *sym;                 /* attribute entries that follow dynamic dims */
} ember_gnode;

typedef struct ember_graph {
  int nvalues, cap_values;
  ember_gvalue *values;
  int nnodes, cap_nodes;
  ember_gnode *nodes;
  int ninputs;
  int *inputs;                         /* value ids, in the user's order */
  int noutputs;
  int *outputs;                        /* value ids (may repeat, may be inputs or constants) */
  int nsyms;
  ember_gsym syms[EMBER_GRAPH_MAX_SYMS];
  int index_base;                      /* base of index values inside the graph (1: traced
                                          from Lua); the runtime converts at its edges */
} ember_graph;

ember_graph *ember_graph_new(void);
void ember_graph_free(ember_graph *g);

/* New values. A constant takes a reference to t (NULL name: "const.N"). */
int ember_graph_add_input(ember_graph *g, const char *name, ember_dtype dt, int ndim,
                          const int64_t *shape);
int ember_graph_add_const(ember_graph *g, const char *name, ember_tensor *t);
/* A node with its attributes copied from attr (strings duplicated); its outputs get
** the given dtypes and shapes (dim expressions constant). Returns the node id, -1 on
** error. */
int ember_graph_add_node(ember_graph *g, const ember_op *op, int nin, const int *in,
                         const ember_attr *attr, int nout, const ember_dtype *dt,
                         const int *ndim, const int64_t (*shape)[EMBER_MAX_DIMS]);
void ember_graph_set_outputs(ember_graph *g, int n, const int *values);

/* Uses: how many node inputs and graph outputs read value v. */
int ember_graph_uses(const ember_graph *g, int v);
/* The same for every value at once: a malloc'ed array of nvalues counts (NULL when out
** of memory). */
int *ember_graph_use_counts(const ember_graph *g);
/* Point every reader of value `from` (node inputs, graph outputs) at value `to`. */
void ember_graph_replace_uses(ember_graph *g, int from, int to);
/* Mark node n dead (its outputs must have no uses left). */
void ember_graph_kill_node(ember_graph *g, int n);
/* Drop dead nodes and values nothing refers to; renumber. */
void ember_graph_compact(ember_graph *g);
/* Checks ids, topological order and that every value has one producer. */
ember_status ember_graph_validate(const ember_graph *g);

/* Text form for specs and --dump: one line per node, "%3 = linear(%0, w1, b1)". */
char *ember_graph_dump(const ember_graph *g);   /* malloc'ed */
/* A growing string for the dump and the program JSON; failed is set when memory ran out. */
typedef struct ember_strbuf { char *p; size_t n, cap; int failed; } ember_strbuf;
void ember_strbuf_put(ember_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;

/* Node count of op name (NULL: every live node). */
int ember_graph_count(const ember_graph *g, const char *op);

/* }====== */

/* {====== tracing (trace.c): records eager op calls on this thread */

typedef struct ember_tracer ember_tracer;

/* Starts recording into a new graph; inputs are added with ember_trace_input. While a
** tracer is active, every dispatched op that reads a traced value is recorded; a tensor
** it has not seen becomes a constant. */
ember_tracer *ember_trace_begin(void);
int ember_trace_input(ember_tracer *tr, const char *name, ember_tensor *t);
/* Names a constant the tracer will meet (parameters: their state_dict names). */
void ember_trace_name(ember_tracer *tr, ember_tensor *t, const char *name);
/* Stops recording; outputs are the given tensors. Returns the graph, or NULL with the
** first error met while recording (an op export cannot take, a write to a parameter). */
ember_graph *ember_trace_end(ember_tracer *tr, int nout, ember_tensor *const *outputs,
                             const char *const *names);
void ember_trace_abort(ember_tracer *tr);

/* }====== */

/* {====== dynamic dims (dynamic.c) */

/* h is the same function traced with only symbol sym changed, from s1 (g's size) to s2:
** every integer that moved between g and h becomes an expression of sym in g. Anything
** else that moved is an error naming it. g->syms[sym] must be set. */
ember_status ember_graph_unify(ember_graph *g, const ember_graph *h, int sym, int64_t s1, int64_t s2);

/* }====== */

/* {====== passes (pass_*.c): each returns what it changed, or -1 with an error */

int ember_pass_dce(ember_graph *g);          /* nodes whose outputs nothing reads */
int ember_pass_fold(ember_graph *g);         /* nodes whose inputs are all constants */
int ember_pass_cse(ember_graph *g);          /* same op, same inputs, same attributes */
int ember_pass_fold_bn(ember_graph *g);      /* batch_norm into the conv2d / linear before it */
int ember_pass_fuse(ember_graph *g);         /* activations into GEMM/conv epilogues;
                                                elementwise chains into fused_pointwise */
/* The default pipeline, in order: dce, fold, cse, fold_bn, fuse, dce. `disable` is a
** comma list of pass names to skip ("fuse,cse"); an unknown name is an error. */
ember_status ember_graph_optimize(ember_graph *g, const char *disable);

/* }====== */

/* {====== memory plan (plan.c) */

typedef struct ember_plan_slot {
  int64_t offset;     /* bytes from the arena's start, 64-byte aligned; -1: not in the arena */
  int64_t bytes;      /* at the symbols' upper bounds */
  int alias;          /* a view or an in-place result: the value whose bytes it uses; -1 */
} ember_plan_slot;

typedef struct ember_plan {
  int nvalues;
  ember_plan_slot *slot;     /* per value */
  int64_t arena_bytes;       /* what the plan needs */
  int64_t naive_bytes;       /* sum of every intermediate, for comparison */
  int64_t workspace_bytes;   /* kernel scratch, measured at the bounds */
  int workspace_threads;     /* threads the measurement ran with */
} ember_plan;

/* Lifetimes in node order, then greedy best-fit by size, 64-byte aligned; a result
** takes its input's bytes in place when the op allows it and the input dies there. */
ember_plan *ember_plan_make(const ember_graph *g);
void ember_plan_free(ember_plan *p);

/* }====== */

/* {====== the program file (write.c) */

/* The program JSON (docs/export.md) of g and plan, malloc'ed. */
char *ember_program_json(const ember_graph *g, const ember_plan *p);
/* Writes path: a safetensors file whose tensors are g's constants (deduplicated by
** content) and whose __metadata__["ember.program"] is the program JSON. Through a
** temporary file renamed into place. */
ember_status ember_program_save(const char *path, const ember_graph *g, const ember_plan *p,
                                int nmeta, const char *const *keys, const char *const *values);

/* }====== */

#endif
