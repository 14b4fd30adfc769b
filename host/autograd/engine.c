/*
** engine.c — reverse-mode autograd over the op table.
**
** The dispatcher calls ember_autograd_record after every op. When grad mode is on and
** an input requires grad, the call becomes a node: a copy of the call (op, attributes,
** aliases of the inputs and outputs its rule reads) and one edge per input to the
** node that made that input. A leaf that requires grad gets an accumulate node, made
** on first use and shared by every edge into that leaf, so all of a leaf's gradient
** is summed before it reaches .grad and its post-accumulate hooks fire once.
**
** ember_backward finds the nodes reachable from the root, counts each node's
** consumers, and runs nodes newest first from a heap once all their consumers have
** given their gradients: a node's rule sees each output's gradient summed. Newest
** first matters to data-parallel training: parameters' accumulate hooks fire in
** reverse order of use, the same order on every process.
**
** Callbacks queued while a backward runs (ember_autograd_queue_callback) run once the
** outermost backward has run every node, in the order queued; data-parallel training
** waits for its gradient reductions there, after every post-accumulate hook.
**
** Ownership: a tensor's meta owns a reference to its grad_fn; a node owns its edges'
** nodes and its saved tensors (aliases without history, so no cycle). An accumulate
** node owns its leaf; the leaf's meta points back at it without owning it.
*/
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"

typedef struct node node;

typedef struct hook {
  int id;
  int post;                      /* 1: post-accumulate (leaf) hook */
  ember_grad_hook grad_fn;
  ember_leaf_hook leaf_fn;
  void *ctx;
  void (*free_ctx)(void *);
  struct hook *next;
} hook;

typedef struct edge { node *to; int nr; } edge;

typedef struct meta {
  int requires_grad;
  ember_tensor *grad;
  node *grad_fn;                 /* owned; NULL for a leaf */
  int nr;                        /* which output of grad_fn */
  node *acc;                     /* a leaf's accumulate node while one lives (not owned) */
  hook *hooks;                   /* a leaf's hooks; a non-leaf's live on its node */
} meta;

enum { NODE_OP, NODE_ACCUMULATE, NODE_CUSTOM };

struct node {
  int refcount;
  int kind;
  unsigned long long seq;        /* creation order: backward runs the newest first */
  const char *name;
  int nin;
  edge *next;                    /* one per input; to == NULL: no gradient wanted */
  int nout;
  ember_tensor **pending;        /* during backward: each output's summed gradient */
  hook **out_hooks;              /* per output: hooks of the (non-leaf) output tensor */
  int deps, reached, freed;       /* backward bookkeeping; freed: saved tensors gone */
  unsigned checks;                /* EMBER_SAVES_* the rule will read: checked at backward */
  /* NODE_OP */
  ember_call call;
  ember_tensor **in;             /* aliases of the caller's inputs */
  unsigned *in_version;
  ember_tensor **outs;           /* aliases of the outputs (list ops: all of them) */
  unsigned *out_version;
  ember_dtype *out_dtype;        /* per output; NONE: not differentiable (indices) */
  char *strs;                    /* the call's string attributes, copied: the caller's
                                    (a Lua string) may be gone by backward */
  /* NODE_ACCUMULATE */
  ember_tensor *leaf;
  /* NODE_CUSTOM */
  ember_custom_backward custom;
  void *ctx;
  void (*free_ctx)(void *);
};

static _Thread_local int grad_mode = 1;
static unsigned long long next_seq = 1;
static int next_hook_id = 1;
static long live_nodes = 0;

int ember_grad_enabled(void) { return grad_mode; }

int ember_set_grad_enabled(int on) {
  int old = grad_mode;
  grad_mode = on != 0;
  return old;
}

long ember_autograd_live_nodes(void) { return live_nodes; }

/* {====== metas */

static meta *meta_of(const ember_tensor *t) { return t ? (meta *)t->autograd : NULL; }

static meta *meta_get(ember_tensor *t) {
  if (t->autograd) return t->autograd;
  meta *m = calloc(1, sizeof *m);
  if (m == NULL) {
    ember_error("autograd: out of memory");
    return NULL;
  }
  ember_autograd_free_hook = ember_autograd_free_meta;
  t->autograd = m;
  return m;
}

static void node_release(node *n);

static void hooks_free(hook *h) {
  while (h) {
    hook *next = h->next;
    if (h->free_ctx) h->free_ctx(h->ctx);
    free(h);
    h = next;
  }
}

void ember_autograd_free_meta(ember_tensor *t) {
  meta *m = t->autograd;
  if (m == NULL) return;
  t->autograd = NULL;
  ember_tensor_release(m->grad);
  node_release(m->grad_fn);
  hooks_free(m->hooks);
  free(m);
}

int ember_requires_grad(const ember_tensor *t) {
  meta *m = meta_of(t);
  return m != NULL && m->requires_grad;
}

int ember_is_leaf(const ember_tensor *t) {
  meta *m = meta_of(t);
  return m == NULL || m->grad_fn == NULL;
}

const char *ember_grad_fn_name(const ember_tensor *t) {
  meta *m = meta_of(t);
  return m && m->grad_fn ? m->grad_fn->name : NULL;
}

ember_status ember_set_requires_grad(ember_tensor *t, int on) {
  meta *m = meta_of(t);
  if (m && m->grad_fn)
    return ember_error("requires_grad: only leaf tensors can change it (this one was made by %s; "
                       "use detach() for a leaf)", m->grad_fn->name);
  if (on && !ember_dtype_is_float(t->dtype))
    return ember_error("requires_grad: only floating point tensors can require grad (got %s)",
                       ember_dtype_name(t->dtype));
  if (on && ember_dtype_is_storage_only(t->dtype))
    return ember_error("requires_grad: %s is a storage-only dtype; convert it with to(\"f32\")",
                       ember_dtype_name(t->dtype));
  if (m == NULL && !on) return EMBER_OK;
  if ((m = meta_get(t)) == NULL) return EMBER_ERROR;
  m->requires_grad = on != 0;
  return EMBER_OK;
}

ember_tensor *ember_grad(const ember_tensor *t) {
  meta *m = meta_of(t);
  return m ? m->grad : NULL;
}

static int same_shape(const ember_tensor *a, const ember_tensor *b) {
  return a->ndim == b->ndim && memcmp(a->shape, b->shape, a->ndim * sizeof a->shape[0]) == 0;
}

ember_status ember_set_grad(ember_tensor *t, ember_tensor *g) {
  if (g && !same_shape(g, t)) {
    char a[96], b[96];
    return ember_error("grad: assigned gradient has shape %s, the tensor has shape %s",
                       ember_shape_str(g, a, sizeof a), ember_shape_str(t, b, sizeof b));
  }
  if (g && g->dtype != t->dtype)
    return ember_error("grad: assigned gradient is %s, the tensor is %s",
                       ember_dtype_name(g->dtype), ember_dtype_name(t->dtype));
  meta *m = meta_of(t);
  if (m == NULL && g == NULL) return EMBER_OK;
  if (m == NULL && (m = meta_get(t)) == NULL) return EMBER_ERROR;
  if (g) ember_tensor_retain(g);
  ember_tensor_release(m->grad);
  m->grad = g;
  return EMBER_OK;
}

/* A header over t's storage with no history: what nodes save, and detach(). */
static ember_tensor *alias(const ember_tensor *t) {
  ember_tensor *a = ember_tensor_view_of(t, t->ndim, t->shape, t->stride, t->offset);
  if (a) a->flags = t->flags;
  return a;
}

ember_tensor *ember_detach(ember_tensor *t) { return alias(t); }

/* }====== */

/* {====== nodes */

/* A node and its per-input and per-output arrays are one allocation: a training step
** records a dozen nodes, and seven mallocs each showed in its profile. */
#define ALIGN_UP(x) (((x) + 15) & ~(size_t)15)

static node *node_new(int kind, const char *name, int nin, int nout) {
  size_t ni = (size_t)(nin ? nin : 1), no = (size_t)(nout ? nout : 1);
  size_t at_next = ALIGN_UP(sizeof(node));
  size_t at_pending = at_next + ni * sizeof(edge);
  size_t at_in = at_pending + no * sizeof(ember_tensor *);
  size_t at_outs = at_in + ni * sizeof(ember_tensor *);
  size_t at_in_version = at_outs + no * sizeof(ember_tensor *);
  size_t at_out_version = at_in_version + ni * sizeof(unsigned);
  size_t at_out_dtype = at_out_version + no * sizeof(unsigned);
  size_t total = at_out_dtype + no * sizeof(ember_dtype);
  char *block = calloc(1, total);
  if (block == NULL) {
    ember_error("autograd: out of memory recording %s", name);
    return NULL;
  }
  node *n = (node *)block;
  n->refcount = 1;
  n->kind = kind;
  n->seq = next_seq++;
  n->name = name;
  n->nin = nin;
  n->nout = nout;
  n->next = (edge *)(block + at_next);
  n->pending = (ember_tensor **)(block + at_pending);
  n->in = (ember_tensor **)(block + at_in);
  n->outs = (ember_tensor **)(block + at_outs);
  n->in_version = (unsigned *)(block + at_in_version);
  n->out_version = (unsigned *)(block + at_out_version);
  n->out_dtype = (ember_dtype *)(block + at_out_dtype);
  live_nodes++;
  return n;
}

/* After backward (without retain_graph) a node keeps its edges but not its tensors. */
static void node_free_saved(node *n) {
  for (int i = 0; i < n->nin; i++) {
    ember_tensor_release(n->in[i]);
    n->in[i] = NULL;
  }
  for (int k = 0; k < n->nout; k++) {
    ember_tensor_release(n->outs[k]);
    n->outs[k] = NULL;
  }
  if (n->kind == NODE_CUSTOM && n->free_ctx) {
    n->free_ctx(n->ctx);
    n->free_ctx = NULL;
  }
  n->freed = 1;
}

static void node_release(node *n) {
  /* edges make chains as long as the graph: release iteratively, not recursively */
  while (n && --n->refcount == 0) {
    node *tail = NULL;
    for (int i = 0; i < n->nin; i++) {
      node *to = n->next[i].to;
      if (to == NULL) continue;
      if (tail == NULL) tail = to;        /* the first continues the loop */
      else node_release(to);              /* (graphs branch rarely; depth stays small) */
    }
    if (!n->freed) node_free_saved(n);
    for (int k = 0; k < n->nout; k++) {
      ember_tensor_release(n->pending[k]);
      if (n->out_hooks) hooks_free(n->out_hooks[k]);
    }
    if (n->kind == NODE_ACCUMULATE) {
      meta *m = meta_of(n->leaf);
      if (m && m->acc == n) m->acc = NULL;
      ember_tensor_release(n->leaf);
    }
    free(n->out_hooks);
    free(n->strs);
    free(n);                                /* the arrays live in the same block */
    live_nodes--;
    n = tail;
  }
}

/* The node a gradient for t flows into, as an edge (to == NULL: none). */
static ember_status edge_of(ember_tensor *t, edge *e) {
  e->to = NULL;
  e->nr = 0;
  meta *m = meta_of(t);
  if (m == NULL || !m->requires_grad) return EMBER_OK;
  if (m->grad_fn) {
    e->to = m->grad_fn;
    e->nr = m->nr;
    e->to->refcount++;
    return EMBER_OK;
  }
  if (m->acc == NULL) {
    node *a = node_new(NODE_ACCUMULATE, "accumulate_grad", 0, 1);
    if (a == NULL) return EMBER_ERROR;
    /* Ready nodes run newest first, but a leaf's accumulation runs as soon as it is
    ** ready: nothing waits on it, and its post-accumulate hooks (DDP's buckets) should
    ** fire while backward goes on. A node kept from an earlier step would otherwise
    ** keep its old, low number and run last. */
    a->seq = ULLONG_MAX;
    a->leaf = t;
    ember_tensor_retain(t);
    m->acc = a;
    e->to = a;
  } else {
    e->to = m->acc;
    e->to->refcount++;
  }
  return EMBER_OK;
}

/* Give output t the history (n, nr): it now requires grad and is no longer a leaf. */
static ember_status set_history(ember_tensor *t, node *n, int nr) {
  meta *m = meta_get(t);
  if (m == NULL) return EMBER_ERROR;
  n->refcount++;
  node_release(m->grad_fn);
  m->grad_fn = n;
  m->nr = nr;
  m->requires_grad = 1;
  return EMBER_OK;
}

/* }====== */

/* {====== recording */

static int any_requires_grad(const ember_call *c) {
  for (int i = 0; i < c->nin; i++)
    if (ember_requires_grad(c->in[i])) return 1;
  return 0;
}

static void drop_saved_self(ember_call *c) {
  ember_tensor_release(c->saved_self);
  c->saved_self = NULL;
}

void ember_autograd_call_done(ember_call *c) { drop_saved_self(c); }

/* An in-place op whose other input is its own target (z:mul_(z)) reads a value it
** overwrites; backward would see the new one. PyTorch refuses it too. */
static ember_status check_inplace_alias(const ember_call *c) {
  if (!c->inplace) return EMBER_OK;
  const ember_storage *target = c->in[0]->storage;
  for (int i = 1; i < c->nin && i < 8; i++)
    if (c->in[i] && c->in[i]->storage == target && (c->op->saves & EMBER_SAVES_IN(i)))
      return ember_error("%s_: input %d shares memory with the tensor written in place, and the "
                         "gradient needs its old value; use the out-of-place %s", c->op->name, i + 1,
                         c->op->name);
  return EMBER_OK;
}

ember_status ember_autograd_before_inplace(ember_call *c) {
  if (!grad_mode || (c->op->flags & (EMBER_OP_CREATION | EMBER_OP_NONDIFF)) ||
      !any_requires_grad(c))
    return EMBER_OK;
  ember_tensor *target = c->in[0];
  meta *m = meta_of(target);
  if (m && m->requires_grad && m->grad_fn == NULL)
    return ember_error("%s_: a leaf tensor that requires grad cannot be changed in place; "
                       "do it inside ember.no_grad, or use the out-of-place %s",
                       c->op->name, c->op->name);
  /* a view shares its base's storage: writing it would change the base behind the
  ** graph's back (views that copied, like reshape of a non-contiguous tensor, are fine) */
  node *made = m ? m->grad_fn : NULL;
  if (made && made->kind == NODE_OP && (made->call.op->flags & EMBER_OP_VIEW) && made->in &&
      made->in[0] && made->in[0]->storage == target->storage)
    return ember_error("%s_: the tensor is a view (made by %s) of a tensor that requires grad; "
                       "in-place changes through views are not recorded; clone() it first",
                       c->op->name, made->name);
  if (check_inplace_alias(c) != EMBER_OK) return EMBER_ERROR;
  if (c->op->backward && (c->op->saves & EMBER_SAVES_IN(0))) {
    int old = ember_set_grad_enabled(0);
    c->saved_self = ember_clone(target);
    ember_set_grad_enabled(old);
    if (c->saved_self == NULL) return EMBER_ERROR;
  }
  return EMBER_OK;
}

static ember_status missing_rule(const ember_call *c, ember_tensor *const *g, ember_tensor **gi) {
  (void)g; (void)gi;
  return ember_error("backward: %s has no backward rule yet", c->op->name);
}

/* The outputs of a call, as one array. */
static ember_tensor **call_outputs(const ember_call *c, int *n) {
  if (c->op->flags & EMBER_OP_LIST_OUT) {
    *n = c->nlist;
    return c->list_out;
  }
  *n = c->nout;
  return (ember_tensor **)c->out;
}

/* Give node n its own copies of the call's string attributes. */
static ember_status copy_strings(node *n) {
  const ember_op *op = n->call.op;
  size_t total = 0;
  for (int k = 0; op->attrs && op->attrs[k].name; k++)
    if (op->attrs[k].kind == EMBER_ATTR_STR && n->call.attr[k].s) total += strlen(n->call.attr[k].s) + 1;
  if (total == 0) return EMBER_OK;
  char *p = n->strs = malloc(total);
  if (p == NULL) return ember_error("autograd: out of memory");
  for (int k = 0; op->attrs && op->attrs[k].name; k++) {
    ember_attr *a = &n->call.attr[k];
    if (op->attrs[k].kind != EMBER_ATTR_STR || a->s == NULL) continue;
    size_t len = strlen(a->s) + 1;
    memcpy(p, a->s, len);
    a->s = p;
    p += len;
  }
  return EMBER_OK;
}

/* What the rule will read, given which inputs need a gradient (op->saves_for), or all
** it may read (op->saves). */
static unsigned reads_needed(const node *n) {
  const ember_op *op = n->call.op;
  if ((op->saves_for[0] | op->saves_for[1] | op->saves_for[2]) == 0) return op->saves;
  unsigned m = 0;
  for (int i = 0; i < n->nin; i++)
    if (n->next[i].to) m |= i < 3 ? op->saves_for[i] : op->saves;
  return m;
}

static ember_status record_op(ember_call *c, ember_tensor **outs, int nout) {
  const ember_op *op = c->op;
  node *n = node_new(NODE_OP, op->name, c->nin, nout);
  if (n == NULL) return EMBER_ERROR;
  n->call = *c;
  n->call.saved_self = NULL;
  if (copy_strings(n) != EMBER_OK) goto fail;
  for (int i = 0; i < c->nin; i++) {
    ember_tensor *t = c->in[i];
    if (t == NULL) continue;
    if (edge_of(t, &n->next[i]) != EMBER_OK) goto fail;
    if (i == 0 && c->inplace && c->saved_self) {
      n->in[0] = c->saved_self;               /* the value before the write */
      c->saved_self = NULL;
    } else if ((n->in[i] = alias(t)) == NULL) {
      goto fail;
    }
    n->in_version[i] = n->in[i]->storage->version;
  }
  for (int k = 0; k < nout; k++) {
    ember_tensor *o = outs[k];
    int grad = ember_dtype_is_float(o->dtype) && !(op->nograd_outs >> k & 1u);
    n->out_dtype[k] = grad ? o->dtype : EMBER_DTYPE_NONE;
    if ((n->outs[k] = alias(o)) == NULL) goto fail;
    n->out_version[k] = o->storage->version;
  }
  n->checks = reads_needed(n);
  n->call.in = n->in;
  n->call.list_out = (op->flags & EMBER_OP_LIST_OUT) ? n->outs : NULL;
  if (!(op->flags & EMBER_OP_LIST_OUT))
    for (int k = 0; k < EMBER_MAX_OUTPUTS; k++) n->call.out[k] = k < nout ? n->outs[k] : NULL;
  for (int i = 0; i < EMBER_INLINE_INPUTS; i++) {
    n->call.in_user[i] = NULL;
    n->call.in_owned[i] = NULL;
  }
  /* outputs take the history last: an in-place output's old history is input 0's edge */
  for (int k = 0; k < nout; k++)
    if (n->out_dtype[k] != EMBER_DTYPE_NONE && set_history(outs[k], n, k) != EMBER_OK) goto fail;
  node_release(n);                            /* the outputs hold it now */
  return EMBER_OK;
fail:
  node_release(n);
  return EMBER_ERROR;
}

ember_status ember_autograd_record(ember_call *c) {
  const ember_op *op = c->op;
  ember_status st = EMBER_OK;
  if (grad_mode && !(op->flags & (EMBER_OP_CREATION | EMBER_OP_NONDIFF)) && any_requires_grad(c)) {
    int nout;
    ember_tensor **outs = call_outputs(c, &nout);
    int differentiable = 0;
    for (int k = 0; k < nout; k++)
      if (outs[k] && ember_dtype_is_float(outs[k]->dtype)) differentiable = 1;
    /* contiguous() and to() of a tensor already so return it: nothing happened */
    int identity = !c->inplace && nout == 1 && outs[0] == c->in[0];
    if (differentiable && !identity) st = record_op(c, outs, nout);
  }
  drop_saved_self(c);
  return st;
}

ember_status ember_autograd_custom(const char *name, int nin, ember_tensor *const *in, int nout,
                                   ember_tensor *const *out, ember_custom_backward fn, void *ctx,
                                   void (*free_ctx)(void *)) {
  int needed = 0;
  for (int i = 0; i < nin; i++) needed |= ember_requires_grad(in[i]);
  if (!grad_mode || !needed) {
    if (free_ctx) free_ctx(ctx);
    return EMBER_OK;
  }
  node *n = node_new(NODE_CUSTOM, name, nin, nout);
  if (n == NULL) {
    if (free_ctx) free_ctx(ctx);
    return EMBER_ERROR;
  }
  n->custom = fn;
  n->ctx = ctx;
  n->free_ctx = free_ctx;
  ember_status st = EMBER_OK;
  for (int i = 0; i < nin && st == EMBER_OK; i++) {
    if (in[i] == NULL) continue;
    st = edge_of(in[i], &n->next[i]);
    if (st == EMBER_OK && (n->in[i] = alias(in[i])) == NULL) st = EMBER_ERROR;
  }
  for (int k = 0; k < nout && st == EMBER_OK; k++) {
    if (out[k] == NULL) continue;
    n->out_dtype[k] = ember_dtype_is_float(out[k]->dtype) ? out[k]->dtype : EMBER_DTYPE_NONE;
    if ((n->outs[k] = alias(out[k])) == NULL) st = EMBER_ERROR;
    else if (n->out_dtype[k] != EMBER_DTYPE_NONE) st = set_history(out[k], n, k);
  }
  node_release(n);
  return st;
}

/* }====== */

/* {====== hooks */

static int add_hook(hook **list, hook *h) {
  h->id = next_hook_id++;
  h->next = NULL;
  while (*list) list = &(*list)->next;        /* hooks run in the order they came */
  *list = h;
  return h->id;
}

static hook *hook_new(void *ctx, void (*free_ctx)(void *)) {
  hook *h = calloc(1, sizeof *h);
  if (h == NULL) {
    if (free_ctx) free_ctx(ctx);
    ember_error("autograd: out of memory");
    return NULL;
  }
  h->ctx = ctx;
  h->free_ctx = free_ctx;
  return h;
}

int ember_register_hook(ember_tensor *t, ember_grad_hook fn, void *ctx, void (*free_ctx)(void *)) {
  meta *m = meta_of(t);
  if (m == NULL || !m->requires_grad) {
    if (free_ctx) free_ctx(ctx);
    ember_error("register_hook: the tensor does not require grad");
    return 0;
  }
  hook *h = hook_new(ctx, free_ctx);
  if (h == NULL) return 0;
  h->grad_fn = fn;
  if (m->grad_fn == NULL) return add_hook(&m->hooks, h);
  node *n = m->grad_fn;
  if (n->out_hooks == NULL && (n->out_hooks = calloc(n->nout, sizeof *n->out_hooks)) == NULL) {
    h->next = NULL;
    hooks_free(h);
    ember_error("autograd: out of memory");
    return 0;
  }
  return add_hook(&n->out_hooks[m->nr], h);
}

int ember_register_post_accumulate_hook(ember_tensor *t, ember_leaf_hook fn, void *ctx,
                                        void (*free_ctx)(void *)) {
  meta *m = meta_of(t);
  if (m == NULL || !m->requires_grad || m->grad_fn) {
    if (free_ctx) free_ctx(ctx);
    ember_error("register_post_accumulate_grad_hook: only leaf tensors that require grad take it");
    return 0;
  }
  hook *h = hook_new(ctx, free_ctx);
  if (h == NULL) return 0;
  h->leaf_fn = fn;
  h->post = 1;
  return add_hook(&m->hooks, h);
}

static int unlink_hook(hook **list, int id) {
  for (; *list; list = &(*list)->next) {
    if ((*list)->id != id) continue;
    hook *h = *list;
    *list = h->next;
    h->next = NULL;
    hooks_free(h);
    return 1;
  }
  return 0;
}

void ember_remove_hook(ember_tensor *t, int handle) {
  meta *m = meta_of(t);
  if (m == NULL) return;
  if (unlink_hook(&m->hooks, handle)) return;
  node *n = m->grad_fn;
  if (n && n->out_hooks) unlink_hook(&n->out_hooks[m->nr], handle);
}

/* Run the gradient hooks of a list on *g, each seeing the previous one's result. */
static ember_status run_grad_hooks(hook *h, ember_tensor **g) {
  for (; h; h = h->next) {
    if (h->post || *g == NULL) continue;
    ember_tensor *replace = NULL;
    if (h->grad_fn(h->ctx, *g, &replace) != EMBER_OK) return EMBER_ERROR;
    if (replace) {
      if (!same_shape(replace, *g)) {
        char a[96], b[96];
        ember_status st = ember_error("hook: returned a gradient of shape %s for a tensor whose gradient has shape %s",
                                      ember_shape_str(replace, a, sizeof a), ember_shape_str(*g, b, sizeof b));
        ember_tensor_release(replace);
        return st;
      }
      ember_tensor_release(*g);
      *g = replace;
    }
  }
  return EMBER_OK;
}

/* }====== */

/* {====== end-of-backward callbacks */

typedef struct callback {
  ember_status (*fn)(void *ctx);
  void *ctx;
  void (*free_ctx)(void *);
  struct callback *next;
} callback;

/* Backward passes running on this thread (a hook or a Function may call backward), and
** the callbacks waiting for the outermost one to finish. */
static _Thread_local int backward_depth = 0;
static _Thread_local callback *cb_head = NULL, *cb_tail = NULL;

ember_status ember_autograd_queue_callback(ember_status (*fn)(void *ctx), void *ctx,
                                           void (*free_ctx)(void *)) {
  if (backward_depth == 0) {
    if (free_ctx) free_ctx(ctx);
    return ember_error("queue_callback: no backward is running; callbacks are queued from a "
                       "hook or a Function's backward, during backward");
  }
  callback *c = malloc(sizeof *c);
  if (c == NULL) {
    if (free_ctx) free_ctx(ctx);
    return ember_error("queue_callback: out of memory");
  }
  c->fn = fn;
  c->ctx = ctx;
  c->free_ctx = free_ctx;
  c->next = NULL;
  if (cb_tail) cb_tail->next = c;
  else cb_head = c;
  cb_tail = c;
  return EMBER_OK;
}

/* Run the queue in order (a callback may queue more: they join its end) while st is
** EMBER_OK; once one fails, or when backward itself failed, the rest are only freed. */
static ember_status run_callbacks(ember_status st) {
  while (cb_head) {
    callback *c = cb_head;
    cb_head = c->next;
    if (cb_head == NULL) cb_tail = NULL;
    if (st == EMBER_OK) st = c->fn(c->ctx);
    if (c->free_ctx) c->free_ctx(c->ctx);
    free(c);
  }
  return st;
}

/* }====== */

/* {====== backward */

typedef struct graph {
  node **all;  int nall, capall;       /* every node reached, for the cleanup */
  node **heap; int nheap, capheap;     /* ready nodes, newest first */
} graph;

static ember_status push(node ***arr, int *n, int *cap, node *x) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 64;
    node **a = realloc(*arr, (size_t)nc * sizeof *a);
    if (a == NULL) return ember_error("backward: out of memory");
    *arr = a;
    *cap = nc;
  }
  (*arr)[(*n)++] = x;
  return EMBER_OK;
}

static void heap_swap(graph *g, int i, int j) {
  node *t = g->heap[i];
  g->heap[i] = g->heap[j];
  g->heap[j] = t;
}

static ember_status heap_push(graph *g, node *n) {
  if (push(&g->heap, &g->nheap, &g->capheap, n) != EMBER_OK) return EMBER_ERROR;
  for (int i = g->nheap - 1; i > 0;) {
    int p = (i - 1) / 2;
    if (g->heap[p]->seq >= g->heap[i]->seq) break;
    heap_swap(g, i, p);
    i = p;
  }
  return EMBER_OK;
}

static node *heap_pop(graph *g) {
  node *top = g->heap[0];
  g->heap[0] = g->heap[--g->nheap];
  for (int i = 0;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < g->nheap && g->heap[l]->seq > g->heap[m]->seq) m = l;
    if (r < g->nheap && g->heap[r]->seq > g->heap[m]->seq) m = r;
    if (m == i) break;
    heap_swap(g, i, m);
    i = m;
  }
  return top;
}

/* Reach every node from root; count, for each, the edges that lead into it. */
static ember_status discover(graph *g, node *root) {
  if (push(&g->all, &g->nall, &g->capall, root) != EMBER_OK) return EMBER_ERROR;
  root->reached = 1;
  for (int k = 0; k < g->nall; k++) {
    node *n = g->all[k];
    for (int i = 0; i < n->nin; i++) {
      node *to = n->next[i].to;
      if (to == NULL) continue;
      to->deps++;
      if (!to->reached) {
        to->reached = 1;
        if (push(&g->all, &g->nall, &g->capall, to) != EMBER_OK) return EMBER_ERROR;
      }
    }
  }
  return EMBER_OK;
}

/* Add gradient x (a new reference, taken over) into slot *acc. */
static ember_status accumulate_into(ember_tensor **acc, ember_tensor *x) {
  if (*acc == NULL) {
    *acc = x;
    return EMBER_OK;
  }
  ember_tensor *sum = ember_ag_add(*acc, x);
  ember_tensor_release(x);
  if (sum == NULL) return EMBER_ERROR;
  ember_tensor_release(*acc);
  *acc = sum;
  return EMBER_OK;
}

/* A leaf's node: hooks, then into .grad (in place when there is one), then the
** post-accumulate hooks. A new gradient is stored as is only when nothing else
** can see it; otherwise a copy, so a later in-place accumulation stays private. */
static ember_status run_accumulate(node *n) {
  ember_tensor *leaf = n->leaf;
  meta *m = meta_of(leaf);
  ember_tensor *g = n->pending[0];
  n->pending[0] = NULL;
  if (g == NULL || m == NULL) {
    ember_tensor_release(g);
    return EMBER_OK;
  }
  ember_status st = run_grad_hooks(m->hooks, &g);
  if (st == EMBER_OK && m->grad == NULL) {
    if (g->refcount == 1 && g->storage->refcount == 1 && ember_tensor_is_contiguous(g) &&
        g->dtype == leaf->dtype && g->autograd == NULL) {
      m->grad = g;
      g = NULL;
    } else {
      ember_tensor *conv = ember_ag_to(g, leaf->dtype);
      ember_tensor *copy = conv && conv == g ? ember_clone(conv) : conv;
      if (conv && conv == g) ember_tensor_release(conv);
      if (copy == NULL) st = EMBER_ERROR;
      else m->grad = copy;
    }
  } else if (st == EMBER_OK) {
    ember_tensor *in[2] = { m->grad, g };
    const ember_op *add = ember_op_find("add");
    ember_call c;
    ember_call_init(&c, add, 2, in);
    c.inplace = 1;
    st = ember_dispatch(&c);
    if (st == EMBER_OK) ember_tensor_release(c.out[0]);
  }
  ember_tensor_release(g);
  for (hook *h = m->hooks; h && st == EMBER_OK; h = h->next)
    if (h->post) st = h->leaf_fn(h->ctx, leaf);
  return st;
}

static ember_status check_versions(node *n) {
  unsigned saves = n->checks;
  for (int i = 0; i < n->nin && i < 8; i++)
    if ((saves & EMBER_SAVES_IN(i)) && n->in[i] && n->in[i]->storage->version != n->in_version[i])
      return ember_error("backward: input %d of %s was changed in place after %s saved it "
                         "(version %u, saved at %u); clone() it before changing it",
                         i + 1, n->name, n->name, n->in[i]->storage->version, n->in_version[i]);
  for (int k = 0; k < n->nout && k < 8; k++)
    if ((saves & EMBER_SAVES_OUT(k)) && n->outs[k]->storage->version != n->out_version[k])
      return ember_error("backward: the result of %s was changed in place after it was saved "
                         "(version %u, saved at %u); use the out-of-place op",
                         n->name, n->outs[k]->storage->version, n->out_version[k]);
  return EMBER_OK;
}

/* A Lua Function's gradient for input i, checked against the input's shape (kept as
** an alias in n->in) and converted to its dtype. A new reference, or NULL. */
static ember_tensor *custom_grad_fit(ember_tensor *g, node *n, int i) {
  const ember_tensor *t = n->in ? n->in[i] : NULL;
  if (t == NULL) {
    ember_tensor_retain(g);
    return g;
  }
  if (!same_shape(g, t)) {
    char a[96], b[96];
    ember_error("backward of %s: gradient %d has shape %s, its input has shape %s", n->name, i + 1,
                ember_shape_str(g, a, sizeof a), ember_shape_str(t, b, sizeof b));
    return NULL;
  }
  return ember_ag_to(g, t->dtype);
}

/* Run an op or custom node: its rule gives the inputs' gradients, which go to the
** nodes its edges lead to, summed down to each input's shape and dtype. */
static ember_status run_function(node *n, ember_tensor **grad_in) {
  if (n->freed)
    return ember_error("backward: the graph through %s was already freed by a backward; "
                       "pass retain_graph = true to the first backward to go through it twice",
                       n->name);
  for (int k = 0; k < n->nout; k++) {
    if (n->pending[k] || n->out_dtype == NULL || n->out_dtype[k] == EMBER_DTYPE_NONE) continue;
    if (n->kind == NODE_CUSTOM) continue;                 /* Lua backward gets nil */
    ember_tensor *o = n->outs[k];
    n->pending[k] = ember_ag_zeros(o, n->out_dtype[k], o->ndim, o->shape);
    if (n->pending[k] == NULL) return EMBER_ERROR;
  }
  if (n->kind == NODE_CUSTOM)
    return n->custom(n->ctx, n->nout, n->pending, n->nin, grad_in);
  if (n->call.op->backward == NULL) return missing_rule(&n->call, n->pending, grad_in);
  if (check_versions(n) != EMBER_OK) return EMBER_ERROR;
  unsigned mask = 0;
  for (int i = 0; i < n->nin; i++)
    if (n->next[i].to) mask |= 1u << (i < 31 ? i : 31);
  n->call.grad_mask = mask;
  ember_status st = n->call.op->backward(&n->call, n->pending, grad_in);
  if (st != EMBER_OK) {
    const char *msg = ember_last_error();
    if (strncmp(msg, "backward", 8) != 0) {
      char buf[512];
      snprintf(buf, sizeof buf, "%s", msg);
      ember_error("backward of %s: %s", n->name, buf);
    }
  }
  return st;
}

static ember_status run_node(graph *g, node *n, int retain) {
  for (int k = 0; k < n->nout && n->out_hooks; k++)
    if (run_grad_hooks(n->out_hooks[k], &n->pending[k]) != EMBER_OK) return EMBER_ERROR;
  if (n->kind == NODE_ACCUMULATE) return run_accumulate(n);
  int any = 0;
  for (int k = 0; k < n->nout; k++) any |= n->pending[k] != NULL;
  ember_tensor *small[8] = {0};
  ember_tensor **grad_in = n->nin <= 8 ? small : calloc(n->nin, sizeof *grad_in);
  if (grad_in == NULL) return ember_error("backward: out of memory");
  ember_status st = any ? run_function(n, grad_in) : EMBER_OK;
  for (int i = 0; i < n->nin; i++) {
    edge *e = &n->next[i];
    ember_tensor *gi = grad_in[i];
    grad_in[i] = NULL;
    if (e->to == NULL || st != EMBER_OK) {
      ember_tensor_release(gi);
      continue;
    }
    if (gi) {
      ember_tensor *fit = gi;                  /* custom nodes: Lua checks nothing, so here */
      if (n->kind == NODE_OP) fit = ember_ag_like_input(gi, n->in[i]);
      else if (n->custom) fit = custom_grad_fit(gi, n, i);
      ember_tensor_release(gi);
      if (fit == NULL) st = EMBER_ERROR;
      else st = accumulate_into(&e->to->pending[e->nr], fit);
    }
    if (st == EMBER_OK && --e->to->deps == 0) st = heap_push(g, e->to);
  }
  if (grad_in != small) free(grad_in);
  for (int k = 0; k < n->nout; k++) {
    ember_tensor_release(n->pending[k]);
    n->pending[k] = NULL;
  }
  if (!retain && st == EMBER_OK) node_free_saved(n);
  return st;
}

static ember_tensor *root_gradient(ember_tensor *root, ember_tensor *grad) {
  if (grad == NULL) {
    if (ember_tensor_numel(root) != 1) {
      char s[96];
      ember_error("backward: a gradient can be left out only for a one-element result; this one "
                  "has shape %s, pass backward(grad)", ember_shape_str(root, s, sizeof s));
      return NULL;
    }
    return ember_ag_full_like(root, 1.0);
  }
  if (!same_shape(grad, root)) {
    char a[96], b[96];
    ember_error("backward: gradient of shape %s for a result of shape %s",
                ember_shape_str(grad, a, sizeof a), ember_shape_str(root, b, sizeof b));
    return NULL;
  }
  return ember_ag_to(grad, root->dtype);
}

ember_status ember_backward(ember_tensor *root, ember_tensor *grad, int retain_graph) {
  meta *m = meta_of(root);
  if (m == NULL || !m->requires_grad)
    return ember_error("backward: the tensor does not require grad and has no grad_fn "
                       "(was it computed under no_grad, or from tensors that do not require grad?)");
  int old = ember_set_grad_enabled(0);
  ember_tensor *g0 = root_gradient(root, grad);
  edge start;
  ember_status st = g0 ? edge_of(root, &start) : EMBER_ERROR;
  if (st != EMBER_OK) {
    ember_tensor_release(g0);
    ember_set_grad_enabled(old);
    return EMBER_ERROR;
  }
  graph g = {0};
  backward_depth++;
  st = discover(&g, start.to);
  start.to->pending[start.nr] = g0;
  if (st == EMBER_OK) st = heap_push(&g, start.to);
  while (st == EMBER_OK && g.nheap > 0) st = run_node(&g, heap_pop(&g), retain_graph);
  for (int k = 0; k < g.nall; k++) {
    node *n = g.all[k];
    n->deps = 0;
    n->reached = 0;
    for (int j = 0; j < n->nout; j++) {
      ember_tensor_release(n->pending[j]);
      n->pending[j] = NULL;
    }
  }
  free(g.all);
  free(g.heap);
  node_release(start.to);
  /* callbacks run with grad mode still off and this backward still counted, so one
  ** may queue another; a nested backward leaves them to the outermost */
  if (backward_depth == 1) st = run_callbacks(st);
  backward_depth--;
  ember_set_grad_enabled(old);
  return st;
}

/* }====== */
