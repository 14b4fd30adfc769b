/*
** load.c — reads a program file and checks all of it before anything runs: the
** format and version, every op known to this build, every attribute of its kind,
** every value id in range and made before it is read, every constant present with
** its declared dtype and shape, the shapes the ops infer at the bounds equal to those
** declared, every arena range inside the arena and large enough. A file that fails
** any of it is refused with a message that names what was wrong (docs/export.md).
*/
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "rt.h"
#include "json.h"

#define PROGRAM_VERSION 1
#define JSON_DEPTH 16
#define MAX_VALUE_BYTES ((int64_t)1 << 40)   /* beyond any memory a program runs in */

static _Thread_local ember_rt_status last_status;

ember_rt_status rt_fail(ember_rt_status st, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ember_error("%s", msg);
  last_status = st;
  return st;
}

int64_t rt_eval(const ember_rt_program *p, const rt_expr *e) {
  int64_t v = e->add;
  for (int s = 0; s < p->nsyms; s++) v += e->mul[s] * p->sym_size[s];
  return v;
}

/* {====== reading JSON fields */

#define BAD(...) rt_fail(EMBER_RT_ERROR_FORMAT, "program: " __VA_ARGS__)

/* A number's literal as a C string (the reader keeps it in place, unterminated). */
static int literal(const ember_json *v, char *buf, size_t n) {
  if (v == NULL || v->type != EMBER_JSON_NUMBER || v->len >= n) return 0;
  memcpy(buf, v->str, v->len);
  buf[v->len] = 0;
  return 1;
}

/* A whole number, possibly negative; no fraction, no exponent. */
static int json_i64(const ember_json *v, int64_t *out) {
  char s[32];
  if (!literal(v, s, sizeof s)) return 0;
  for (const char *c = s + (*s == '-'); *c; c++)
    if (*c < '0' || *c > '9') return 0;
  errno = 0;
  char *end;
  long long x = strtoll(s, &end, 10);
  if (errno || *end) return 0;
  *out = x;
  return 1;
}

static int json_f64(const ember_json *v, double *out) {
  char s[64];
  if (literal(v, s, sizeof s)) {
    char *end;
    *out = strtod(s, &end);
    return *end == 0;
  }
  if (v && v->type == EMBER_JSON_STRING) {
    if (strcmp(v->str, "inf") == 0) { *out = INFINITY; return 1; }
    if (strcmp(v->str, "-inf") == 0) { *out = -INFINITY; return 1; }
    if (strcmp(v->str, "nan") == 0) { *out = NAN; return 1; }
  }
  return 0;
}

static const ember_json *field(const ember_json *obj, const char *key, ember_json_type type) {
  const ember_json *v = ember_json_get(obj, key);
  if (v == NULL) return NULL;
  if (v->type == type) return v;
  if (type == EMBER_JSON_TRUE && v->type == EMBER_JSON_FALSE) return v;
  return NULL;
}

static int sym_index(const ember_rt_program *p, const char *name) {
  for (int s = 0; s < p->nsyms; s++)
    if (strcmp(p->sym_name[s], name) == 0) return s;
  return -1;
}

/* A dim or integer attribute: a number, a dim's name, or {"add": a, "mul": {name: b}}. */
static ember_rt_status read_expr(ember_rt_program *p, const ember_json *v, rt_expr *e,
                                 const char *where) {
  memset(e, 0, sizeof *e);
  if (v == NULL) return BAD("%s: missing", where);
  if (v->type == EMBER_JSON_NUMBER) {
    if (!json_i64(v, &e->add)) return BAD("%s: not an integer", where);
    return EMBER_RT_OK;
  }
  if (v->type == EMBER_JSON_STRING) {
    int s = sym_index(p, v->str);
    if (s < 0) return BAD("%s: unknown dynamic dim \"%s\"", where, v->str);
    e->mul[s] = 1;
    return EMBER_RT_OK;
  }
  if (v->type == EMBER_JSON_OBJECT) {
    const ember_json *mul = field(v, "mul", EMBER_JSON_OBJECT);
    if (!json_i64(ember_json_get(v, "add"), &e->add) || mul == NULL)
      return BAD("%s: an expression needs \"add\" and \"mul\"", where);
    for (const ember_json *m = mul->child; m; m = m->next) {
      int s = sym_index(p, m->key);
      if (s < 0) return BAD("%s: unknown dynamic dim \"%s\"", where, m->key);
      if (!json_i64(m, &e->mul[s])) return BAD("%s: the factor of \"%s\" is not an integer", where, m->key);
    }
    return EMBER_RT_OK;
  }
  return BAD("%s: not an integer", where);
}

static int expr_is_const(const rt_expr *e) {
  for (int s = 0; s < RT_MAX_SYMS; s++) if (e->mul[s]) return 0;
  return 1;
}

/* The value of e at the bounds, checked for overflow: each symbol at its max. */
static int64_t eval_at_max(const ember_rt_program *p, const rt_expr *e, int *ok) {
  int64_t v = e->add;
  for (int s = 0; s < p->nsyms; s++) {
    int64_t t;
    if (__builtin_mul_overflow(e->mul[s], p->sym_max[s], &t) || __builtin_add_overflow(v, t, &v))
      *ok = 0;
  }
  return v;
}

/* }====== */

/* {====== header, dims, values */

static ember_rt_status read_dims(ember_rt_program *p, const ember_json *root) {
  const ember_json *dims = field(root, "dims", EMBER_JSON_ARRAY);
  if (dims == NULL) return BAD("\"dims\" is missing or not a list");
  if (dims->count > RT_MAX_SYMS) return BAD("%zu dynamic dims (at most %d)", dims->count, RT_MAX_SYMS);
  for (const ember_json *d = dims->child; d; d = d->next) {
    const ember_json *name = field(d, "name", EMBER_JSON_STRING);
    int64_t max;
    if (name == NULL || !json_i64(ember_json_get(d, "max"), &max) || max < 1 || max > ((int64_t)1 << 40))
      return BAD("dynamic dim %d needs a name and a max between 1 and 2^40", p->nsyms + 1);
    if (sym_index(p, name->str) >= 0) return BAD("dynamic dim \"%s\" is named twice", name->str);
    p->sym_name[p->nsyms] = (char *)name->str;
    p->sym_max[p->nsyms] = max;
    p->sym_size[p->nsyms] = max;
    p->nsyms++;
  }
  return EMBER_RT_OK;
}

/* Bytes value v needs at the bounds (read_value has checked they fit MAX_VALUE_BYTES). */
static int64_t bound_bytes(const rt_value *v) {
  int64_t n = 1;
  for (int d = 0; d < v->ndim; d++) n *= v->max_shape[d];
  return (int64_t)ember_dtype_nbytes(v->dtype, n);
}

static ember_rt_status read_value(ember_rt_program *p, int id, const ember_json *j) {
  rt_value *v = &p->values[id];
  char where[64];
  v->alias = -1;
  v->root = id;
  v->producer = -1;
  v->at = -1;
  const ember_json *dt = field(j, "dtype", EMBER_JSON_STRING);
  const ember_json *shape = field(j, "shape", EMBER_JSON_ARRAY);
  if (dt == NULL || shape == NULL) return BAD("value %d needs a dtype and a shape", id);
  v->dtype = ember_dtype_from_name(dt->str);
  if (v->dtype == EMBER_DTYPE_NONE) return BAD("value %d: unknown dtype \"%s\"", id, dt->str);
  if (shape->count > EMBER_MAX_DIMS) return BAD("value %d has %zu dims (at most %d)", id, shape->count, EMBER_MAX_DIMS);
  v->ndim = (int)shape->count;
  int d = 0, ok = 1;
  for (const ember_json *s = shape->child; s; s = s->next, d++) {
    snprintf(where, sizeof where, "value %d dim %d", id, d + 1);
    if (read_expr(p, s, &v->dim[d], where) != EMBER_RT_OK) return last_status;
    v->max_shape[d] = eval_at_max(p, &v->dim[d], &ok);
    if (!ok || v->max_shape[d] < 0 || v->max_shape[d] > ((int64_t)1 << 40))
      return BAD("value %d dim %d is out of range at the bounds", id, d + 1);
  }
  int64_t numel = 1;
  for (d = 0; d < v->ndim; d++)
    if (__builtin_mul_overflow(numel, v->max_shape[d], &numel) || numel > MAX_VALUE_BYTES / 16)
      return BAD("value %d holds more than 2^40 bytes at the bounds", id);
  const ember_json *idx = field(j, "index", EMBER_JSON_TRUE);
  v->is_index = idx && idx->type == EMBER_JSON_TRUE;
  if (v->is_index && !ember_dtype_is_int(v->dtype))
    return BAD("value %d: an index value must have an integer dtype, not %s", id, dt->str);
  const ember_json *view = field(j, "view", EMBER_JSON_TRUE);
  v->is_view = view && view->type == EMBER_JSON_TRUE;
  const ember_json *name = field(j, "name", EMBER_JSON_STRING);
  v->name = name ? name->str : NULL;
  int64_t x;
  const ember_json *c;
  if (json_i64(ember_json_get(j, "input"), &x)) {
    v->kind = RT_INPUT;
    if (x < 0 || x >= p->nvalues) return BAD("value %d: input position %lld out of range", id, (long long)x);
    v->input = (int)x;
  } else if ((c = field(j, "const", EMBER_JSON_STRING)) != NULL) {
    v->kind = RT_CONST;
    const ember_st_info *info = ember_st_find(p->file, c->str);
    if (info == NULL) return BAD("value %d: constant \"%s\" is not in the file", id, c->str);
    if (info->dtype != v->dtype || info->ndim != v->ndim ||
        memcmp(info->shape, v->max_shape, (size_t)v->ndim * sizeof v->max_shape[0]) != 0)
      return BAD("value %d: constant \"%s\" in the file is not the declared %s tensor of that shape",
                 id, c->str, ember_dtype_name(v->dtype));
    v->konst = ember_st_get(p->file, c->str);
    if (v->konst == NULL) return rt_fail(EMBER_RT_ERROR_IO, "program: constant \"%s\": %s", c->str, ember_last_error());
    p->weights_bytes += ember_tensor_nbytes(v->konst);
  } else {
    v->kind = RT_NODE;
    if (json_i64(ember_json_get(j, "alias"), &x)) {
      if (x < 0 || x >= id) return BAD("value %d: alias %lld is not an earlier value", id, (long long)x);
      v->alias = (int)x;
    } else if (v->is_view) {
      return BAD("value %d: a view needs the value it aliases", id);
    } else {
      int64_t bytes;
      if (!json_i64(ember_json_get(j, "at"), &v->at) || !json_i64(ember_json_get(j, "bytes"), &bytes))
        return BAD("value %d needs a place: \"at\" and \"bytes\", or \"alias\"", id);
      v->bytes = bytes;
      if (v->at < 0 || v->at % RT_ALIGN != 0 || bytes < 0)
        return BAD("value %d: arena offset %lld is not a 64-byte aligned place", id, (long long)v->at);
    }
  }
  return EMBER_RT_OK;
}


/* }====== */

/* {====== nodes and attributes */

static ember_rt_status read_attr(ember_rt_program *p, rt_node *n, int k, const ember_json *j) {
  const ember_attr_def *def = &n->op->attrs[k];
  ember_attr *a = &n->call.attr[k];
  char where[96];
  snprintf(where, sizeof where, "node %d (%s) attribute %s", (int)(n - p->nodes), n->op->name, def->name);
  memset(a, 0, sizeof *a);
  if (j == NULL) return BAD("%s: missing", where);
  if (j->type == EMBER_JSON_NULL) return EMBER_RT_OK;
  a->present = 1;
  rt_expr e;
  switch (def->kind) {
  case EMBER_ATTR_FLOAT:
    if (!json_f64(j, &a->f)) return BAD("%s: not a number", where);
    a->i = (int64_t)(isfinite(a->f) && fabs(a->f) < 9e18 ? a->f : 0);
    return EMBER_RT_OK;
  case EMBER_ATTR_BOOL:
    if (j->type != EMBER_JSON_TRUE && j->type != EMBER_JSON_FALSE) return BAD("%s: not true or false", where);
    a->i = j->type == EMBER_JSON_TRUE;
    return EMBER_RT_OK;
  case EMBER_ATTR_STR:
    if (j->type != EMBER_JSON_STRING) return BAD("%s: not a string", where);
    a->s = j->str;
    return EMBER_RT_OK;
  case EMBER_ATTR_DTYPE:
    if (j->type != EMBER_JSON_STRING || (a->i = ember_dtype_from_name(j->str)) == EMBER_DTYPE_NONE)
      return BAD("%s: not a dtype name", where);
    return EMBER_RT_OK;
  case EMBER_ATTR_DIMS: case EMBER_ATTR_DIMS_VA: case EMBER_ATTR_INTS: case EMBER_ATTR_SIZE: {
    if (j->type != EMBER_JSON_ARRAY) return BAD("%s: not a list", where);
    if (j->count > EMBER_MAX_INTS) return BAD("%s: more than %d values", where, EMBER_MAX_INTS);
    int i = 0;
    for (const ember_json *x = j->child; x; x = x->next, i++) {
      if (read_expr(p, x, &e, where) != EMBER_RT_OK) return last_status;
      int ok = 1;
      a->v[i] = eval_at_max(p, &e, &ok);
      if (!ok) return BAD("%s: out of range at the bounds", where);
      if (!expr_is_const(&e)) {
        rt_symattr *s = realloc(n->sym, (size_t)(n->nsym + 1) * sizeof *s);
        if (s == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
        n->sym = s;
        n->sym[n->nsym++] = (rt_symattr){k, i, e};
      }
    }
    a->n = i;
    return EMBER_RT_OK;
  }
  default: {
    if (read_expr(p, j, &e, where) != EMBER_RT_OK) return last_status;
    int ok = 1;
    a->i = eval_at_max(p, &e, &ok);
    a->f = (double)a->i;
    if (!ok) return BAD("%s: out of range at the bounds", where);
    if (!expr_is_const(&e)) {
      rt_symattr *s = realloc(n->sym, (size_t)(n->nsym + 1) * sizeof *s);
      if (s == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
      n->sym = s;
      n->sym[n->nsym++] = (rt_symattr){k, -1, e};
    }
    return EMBER_RT_OK;
  }
  }
}

static ember_rt_status read_node(ember_rt_program *p, int id, const ember_json *j, char *made) {
  rt_node *n = &p->nodes[id];
  const ember_json *op = field(j, "op", EMBER_JSON_STRING);
  const ember_json *in = field(j, "in", EMBER_JSON_ARRAY);
  const ember_json *out = field(j, "out", EMBER_JSON_ARRAY);
  const ember_json *attrs = field(j, "attrs", EMBER_JSON_OBJECT);
  if (!op || !in || !out || !attrs) return BAD("node %d needs op, in, out and attrs", id);
  n->op = ember_op_find(op->str);
  if (n->op == NULL)
    return rt_fail(EMBER_RT_ERROR_UNSUPPORTED, "program: node %d: op \"%s\" is not in this build of "
                   "the runtime", id, op->str);
  if (n->op->flags & (EMBER_OP_ALLOCS | EMBER_OP_LIST_OUT | EMBER_OP_RANDOM))
    return BAD("node %d: %s cannot run in a program (its output size or values are not planned)",
               id, n->op->name);
  if (in->count > 1024) return BAD("node %d has %zu inputs", id, in->count);
  n->nin = (int)in->count;
  if (n->nin < n->op->min_inputs || (n->op->max_inputs >= 0 && n->nin > n->op->max_inputs))
    return BAD("node %d: %s takes %d to %d inputs, got %d", id, n->op->name, n->op->min_inputs,
               n->op->max_inputs, n->nin);
  n->in = malloc((size_t)(n->nin + 1) * sizeof *n->in);
  if (n->in == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
  int i = 0;
  for (const ember_json *x = in->child; x; x = x->next, i++) {
    int64_t v;
    if (!json_i64(x, &v) || v < -1 || v >= p->nvalues)
      return BAD("node %d input %d: value id out of range", id, i + 1);
    if (v < 0 && i < n->op->min_inputs) return BAD("node %d input %d is required", id, i + 1);
    if (v >= 0 && !made[v]) return BAD("node %d (%s) reads value %lld before it is made", id, n->op->name, (long long)v);
    n->in[i] = (int)v;
  }
  if (out->count < 1 || out->count > EMBER_MAX_OUTPUTS) return BAD("node %d has %zu outputs", id, out->count);
  n->nout = (int)out->count;
  i = 0;
  for (const ember_json *x = out->child; x; x = x->next, i++) {
    int64_t v;
    if (!json_i64(x, &v) || v < 0 || v >= p->nvalues) return BAD("node %d output %d: value id out of range", id, i + 1);
    if (made[v]) return BAD("node %d: value %lld is made twice", id, (long long)v);
    if (p->values[v].kind != RT_NODE) return BAD("node %d writes value %lld, an input or constant", id, (long long)v);
    made[v] = 1;
    p->values[v].producer = id;
    n->out[i] = (int)v;
  }
  /* the call starts zeroed (calloc) and read_attr sets every attribute from the file, so
  ** the op's defaults (ember_call_init) are never read: the registry parses none for us */
  n->call.op = n->op;
  n->call.nin = n->nin;
  n->call.nout = n->op->nout;
  n->call.compute = EMBER_DTYPE_NONE;
  n->call.device = EMBER_CPU;
  n->call.index_base = p->index_base;
  size_t nattrs = 0;
  for (int k = 0; n->op->attrs && n->op->attrs[k].name; k++, nattrs++)
    if (read_attr(p, n, k, ember_json_get(attrs, n->op->attrs[k].name)) != EMBER_RT_OK) return last_status;
  if (attrs->count != nattrs) return BAD("node %d (%s) has attributes the op does not know", id, n->op->name);
  const ember_json *inplace = field(j, "inplace", EMBER_JSON_TRUE);
  n->inplace = inplace && inplace->type == EMBER_JSON_TRUE;
  return EMBER_RT_OK;
}

/* }====== */

/* {====== checks across the whole program */

/* Follow aliases to the value that owns the bytes; views and in-place results share
** their root's arena range (or input buffer, or constant). */
static ember_rt_status resolve_aliases(ember_rt_program *p) {
  for (int id = 0; id < p->nvalues; id++) {
    rt_value *v = &p->values[id];
    if (v->kind != RT_NODE) continue;
    if (v->producer < 0) return BAD("value %d is made by no node", id);
    int r = id;
    while (p->values[r].kind == RT_NODE && p->values[r].alias >= 0) r = p->values[r].alias;
    v->root = r;
    if (!v->is_view && v->alias >= 0) {
      const rt_value *o = &p->values[r];
      if (o->kind != RT_NODE) return BAD("value %d writes in place into an input or constant", id);
      if (bound_bytes(v) > o->bytes) return BAD("value %d does not fit the bytes of value %d it reuses", id, r);
    }
    if (v->alias < 0 && v->at >= 0) {
      if (v->bytes < bound_bytes(v))
        return BAD("value %d needs %lld bytes at the bounds but the plan gives it %lld", id,
                   (long long)bound_bytes(v), (long long)v->bytes);
      if (v->at > p->arena_bytes || v->bytes > p->arena_bytes - v->at)
        return BAD("value %d (bytes %lld..%lld) lies outside the %lld-byte arena", id, (long long)v->at,
                   (long long)(v->at + v->bytes), (long long)p->arena_bytes);
    }
  }
  return EMBER_RT_OK;
}

static ember_rt_status read_io(ember_rt_program *p, const ember_json *root) {
  int n = 0;
  for (int id = 0; id < p->nvalues; id++) if (p->values[id].kind == RT_INPUT) n++;
  const ember_json *outs = field(root, "outputs", EMBER_JSON_ARRAY);
  if (outs == NULL || outs->count > 4096) return BAD("\"outputs\" is missing or not a list");
  p->ninputs = n;
  p->noutputs = (int)outs->count;
  p->inputs = calloc((size_t)n + 1, sizeof *p->inputs);
  p->outputs = calloc(outs->count + 1, sizeof *p->outputs);
  if (!p->inputs || !p->outputs) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
  for (int i = 0; i < n; i++) p->inputs[i].value = -1;
  for (int id = 0; id < p->nvalues; id++) {
    rt_value *v = &p->values[id];
    if (v->kind != RT_INPUT) continue;
    if (v->input >= n || p->inputs[v->input].value >= 0) return BAD("input position %d is out of range or given twice", v->input);
    p->inputs[v->input].value = id;
    p->inputs[v->input].name = v->name ? v->name : "";
  }
  int i = 0;
  for (const ember_json *o = outs->child; o; o = o->next, i++) {
    int64_t v;
    if (!json_i64(ember_json_get(o, "value"), &v) || v < 0 || v >= p->nvalues)
      return BAD("output %d: value id out of range", i + 1);
    const rt_value *x = &p->values[v];
    if (x->kind != RT_NODE || x->is_view || x->alias >= 0)
      return BAD("output %d (value %lld) must be a node's own arena bytes", i + 1, (long long)v);
    p->outputs[i].value = (int)v;
    const ember_json *name = field(o, "name", EMBER_JSON_STRING);
    p->outputs[i].name = name ? name->str : "";
  }
  for (int k = 0; k < p->ninputs + p->noutputs; k++) {
    rt_io *io = k < p->ninputs ? &p->inputs[k] : &p->outputs[k - p->ninputs];
    const rt_value *v = &p->values[io->value];
    memcpy(io->shape, v->max_shape, sizeof io->shape);
    for (int d = 0; d < v->ndim; d++) {
      io->dim_names[d] = NULL;
      for (int s = 0; s < p->nsyms; s++)
        if (v->dim[d].mul[s] == 1 && v->dim[d].add == 0) io->dim_names[d] = p->sym_name[s];
    }
    io->capacity = (size_t)bound_bytes(v);
  }
  /* an input's dynamic dims must be plain names: they are what sets the sizes */
  for (int k = 0; k < p->ninputs; k++) {
    const rt_value *v = &p->values[p->inputs[k].value];
    for (int d = 0; d < v->ndim; d++)
      if (!expr_is_const(&v->dim[d]) && p->inputs[k].dim_names[d] == NULL)
        return BAD("input %d dim %d is an expression; an input's dims are sizes or dim names", k + 1, d + 1);
  }
  for (int s = 0; s < p->nsyms; s++) {
    int named = 0;
    for (int k = 0; k < p->ninputs && !named; k++) {
      const rt_value *v = &p->values[p->inputs[k].value];
      for (int d = 0; d < v->ndim; d++) named |= p->inputs[k].dim_names[d] == p->sym_name[s];
    }
    if (!named) return BAD("dynamic dim \"%s\" is no input's dim", p->sym_name[s]);
  }
  return EMBER_RT_OK;
}

/* }====== */

static ember_rt_status alloc_buffers(ember_rt_program *p, const ember_rt_options *opts) {
  int threads = 1;
#ifdef _OPENMP
  if (opts && opts->threads > 0) omp_set_num_threads(opts->threads);
  threads = omp_get_max_threads();
#endif
  /* scratch was measured with plan.threads threads; more threads may take more */
  int64_t scale = p->workspace_threads > 0 ? (threads + p->workspace_threads - 1) / p->workspace_threads : 1;
  if (scale < 1) scale = 1;
  int64_t ws = (p->workspace_bytes * scale + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN;
  p->workspace_bytes = ws;
  p->total_arena = (size_t)(p->arena_bytes + ws);
  size_t io = 0;
  for (int k = 0; k < p->ninputs && io <= (size_t)MAX_VALUE_BYTES; k++)
    io += (p->inputs[k].capacity + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN * 2;
  /* on Vulkan the arena is a device buffer (rt_vulkan.c): no host one */
  int host_arena = !(opts && (opts->no_arena || opts->device == EMBER_RT_VULKAN));
  size_t need = (host_arena ? p->total_arena : 0) + io;
  size_t limit = opts && opts->memory_limit ? opts->memory_limit : (size_t)MAX_VALUE_BYTES;
  if (need > limit || p->total_arena > (size_t)MAX_VALUE_BYTES)
    return rt_fail(EMBER_RT_ERROR_MEMORY, "program: needs %zu bytes of arena and inputs, over "
                   "the limit of %zu", need, limit);
  if ((p->io_block = aligned_alloc(RT_ALIGN, io + RT_ALIGN)) == NULL)
    return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory for %zu bytes of inputs", io);
  char *q = p->io_block;
  for (int k = 0; k < p->ninputs; k++) {
    rt_io *in = &p->inputs[k];
    rt_value *v = &p->values[in->value];
    size_t cap = (in->capacity + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN;
    in->data = q;
    memset(q, 0, cap);
    q += cap;
    /* the graph reads index inputs with the program's base added (a shadow copy) */
    void *seen = q;
    if (!(v->is_index && p->index_base != 0)) seen = in->data;
    else memset(q, 0, cap);
    q += cap;
    ember_storage *s = ember_storage_wrap(seen, cap, EMBER_ALLOC_EXTERNAL, NULL, NULL);
    if (s == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
    v->t.storage = s;
  }
  if (host_arena && p->total_arena) {
    p->arena_owned = aligned_alloc(RT_ALIGN, (p->total_arena + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN);
    if (p->arena_owned == NULL)
      return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory for a %zu-byte arena", p->total_arena);
    p->arena = p->arena_owned;
  }
  return EMBER_RT_OK;
}

/* Every header starts contiguous at the bounds; constants are the file's tensors. */
static void init_headers(ember_rt_program *p) {
  memset(&p->arena_storage, 0, sizeof p->arena_storage);
  p->arena_storage.refcount = 1 << 30;
  p->arena_storage.kind = EMBER_ALLOC_EXTERNAL;
  p->arena_storage.device = EMBER_CPU;
  p->arena_storage.size_class = -1;
  for (int id = 0; id < p->nvalues; id++) {
    rt_value *v = &p->values[id];
    ember_storage *s = v->t.storage;
    if (v->kind == RT_CONST) {
      v->t = *v->konst;
    } else {
      memset(&v->t, 0, sizeof v->t);
      v->t.dtype = v->dtype;
      v->t.ndim = v->ndim;
      memcpy(v->t.shape, v->max_shape, sizeof v->t.shape);
      ember_contiguous_strides(v->ndim, v->t.shape, v->t.stride);
      v->t.storage = v->kind == RT_INPUT ? s : &p->arena_storage;
    }
    v->t.refcount = 1 << 30;   /* owned by the program: never freed through a release */
    v->t.autograd = NULL;
  }
}

void rt_bind_arena(ember_rt_program *p) {
  p->arena_storage.data = p->arena;
  p->arena_storage.nbytes = (size_t)p->arena_bytes;
  for (int id = 0; id < p->nvalues; id++) {
    rt_value *v = &p->values[id];
    if (v->kind != RT_NODE || v->is_view) continue;
    const rt_value *r = &p->values[v->root];
    size_t es = ember_dtype_size(v->dtype);
    v->t.storage = &p->arena_storage;
    v->t.offset = (int64_t)((size_t)r->at / es);
  }
}

/* Wire each node's call to the value headers, then let each op's own infer check the
** plan: at the bounds every output must come out with its declared dtype and shape,
** and no input may need a cast the runtime would have to make. */
static ember_rt_status wire_and_check(ember_rt_program *p) {
  for (int i = 0; i < p->nnodes; i++) {
    rt_node *n = &p->nodes[i];
    ember_call *c = &n->call;
    if (n->nin > EMBER_INLINE_INPUTS) {
      n->in_list = malloc((size_t)n->nin * sizeof *n->in_list);
      if (n->in_list == NULL) return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
      c->in = n->in_list;
    } else {
      c->in = c->in_inline;
    }
    c->nin = n->nin;
    for (int j = 0; j < n->nin; j++) c->in[j] = n->in[j] >= 0 ? &p->values[n->in[j]].t : NULL;
  }
  return rt_update_shapes(p);
}

static void free_program(ember_rt_program *p) {
  if (p == NULL) return;
  if (p->dev && p->dev->free) p->dev->free(p);
  for (int i = 0; p->nodes && i < p->nnodes; i++) {
    free(p->nodes[i].in);
    free(p->nodes[i].in_list);
    free(p->nodes[i].sym);
  }
  for (int id = 0; p->values && id < p->nvalues; id++) {
    rt_value *v = &p->values[id];
    if (v->kind == RT_CONST) ember_tensor_release(v->konst);
    else if (v->kind == RT_INPUT && v->t.storage && v->t.storage != &p->arena_storage)
      ember_storage_release(v->t.storage);
  }
  free(p->nodes);
  free(p->values);
  free(p->inputs);
  free(p->outputs);
  free(p->arena_owned);
  free(p->io_block);
  if (p->json_doc) ember_json_free(p->json_doc);
  if (p->file) ember_st_close(p->file);
  free(p);
}

void ember_rt_free(ember_rt_program *p) { free_program(p); }

static ember_rt_status parse(ember_rt_program *p, const ember_rt_options *opts) {
  const char *text = NULL;
  for (int i = 0; i < ember_st_metadata_count(p->file); i++)
    if (strcmp(ember_st_metadata_key(p->file, i), "ember.program") == 0) text = ember_st_metadata_value(p->file, i);
  if (text == NULL) return BAD("not a program file: the safetensors metadata has no \"ember.program\"");
  char err[256];
  p->json_doc = ember_json_parse(text, strlen(text), JSON_DEPTH, err, sizeof err);
  if (p->json_doc == NULL) return BAD("the program JSON is malformed: %s", err);
  const ember_json *root = ember_json_root(p->json_doc);
  if (root->type != EMBER_JSON_OBJECT) return BAD("the program JSON is not an object");
  const ember_json *format = field(root, "format", EMBER_JSON_STRING);
  if (format == NULL || strcmp(format->str, "ember.program") != 0) return BAD("\"format\" is not \"ember.program\"");
  int64_t x;
  if (!json_i64(ember_json_get(root, "version"), &x)) return BAD("\"version\" is missing");
  if (x != PROGRAM_VERSION)
    return rt_fail(EMBER_RT_ERROR_VERSION, "program: version %lld; this runtime reads version %d",
                   (long long)x, PROGRAM_VERSION);
  p->version = (int)x;
  if (!json_i64(ember_json_get(root, "index_base"), &x) || (x != 0 && x != 1))
    return BAD("\"index_base\" must be 0 or 1");
  p->index_base = (int)x;
  if (read_dims(p, root) != EMBER_RT_OK) return last_status;

  const ember_json *plan = field(root, "plan", EMBER_JSON_OBJECT);
  int64_t threads = 1;
  if (plan == NULL || !json_i64(ember_json_get(plan, "arena"), &p->arena_bytes) ||
      !json_i64(ember_json_get(plan, "workspace"), &p->workspace_bytes) ||
      !json_i64(ember_json_get(plan, "threads"), &threads) || p->arena_bytes < 0 ||
      p->workspace_bytes < 0 || threads < 1 || p->arena_bytes > MAX_VALUE_BYTES ||
      p->workspace_bytes > ((int64_t)1 << 40))
    return BAD("\"plan\" needs arena, workspace and threads in range");
  p->workspace_threads = (int)threads;
  json_i64(ember_json_get(plan, "naive"), &p->naive_bytes);

  const ember_json *values = field(root, "values", EMBER_JSON_ARRAY);
  const ember_json *nodes = field(root, "nodes", EMBER_JSON_ARRAY);
  if (values == NULL || nodes == NULL) return BAD("\"values\" or \"nodes\" is missing or not a list");
  if (values->count > (1u << 24) || nodes->count > (1u << 24)) return BAD("too many values or nodes");
  p->nvalues = (int)values->count;
  p->nnodes = (int)nodes->count;
  p->values = calloc((size_t)p->nvalues + 1, sizeof *p->values);
  p->nodes = calloc((size_t)p->nnodes + 1, sizeof *p->nodes);
  char *made = calloc((size_t)p->nvalues + 1, 1);
  if (!p->values || !p->nodes || !made) {
    free(made);
    return rt_fail(EMBER_RT_ERROR_MEMORY, "program: out of memory");
  }
  ember_rt_status st = EMBER_RT_OK;
  int id = 0;
  for (const ember_json *v = values->child; v && st == EMBER_RT_OK; v = v->next, id++) {
    if (v->type != EMBER_JSON_OBJECT) st = BAD("value %d is not an object", id);
    else st = read_value(p, id, v);
    if (st == EMBER_RT_OK && p->values[id].kind != RT_NODE) made[id] = 1;
  }
  id = 0;
  for (const ember_json *n = nodes->child; n && st == EMBER_RT_OK; n = n->next, id++)
    st = n->type != EMBER_JSON_OBJECT ? BAD("node %d is not an object", id) : read_node(p, id, n, made);
  free(made);
  if (st != EMBER_RT_OK) return st;
  if (resolve_aliases(p) != EMBER_RT_OK || read_io(p, root) != EMBER_RT_OK) return last_status;
  if (alloc_buffers(p, opts) != EMBER_RT_OK) return last_status;
  init_headers(p);
  rt_bind_arena(p);
  if (wire_and_check(p) != EMBER_RT_OK) return last_status;
  p->device = opts ? opts->device : EMBER_RT_CPU;
  if (p->device == EMBER_RT_VULKAN) {
    p->dev = rt_vulkan_ops();
    if (p->dev == NULL)
      return rt_fail(EMBER_RT_ERROR_UNSUPPORTED, "program: this build of the runtime has no Vulkan");
    if (p->dev->load(p) != EMBER_RT_OK) return last_status;
  }
  return EMBER_RT_OK;
}

static ember_rt_program *finish_load(ember_rt_program *p, const ember_rt_options *opts, const char *what) {
  if (p->file == NULL) {
    rt_fail(EMBER_RT_ERROR_IO, "%s", ember_last_error());
    free_program(p);
    return NULL;
  }
  if (parse(p, opts) != EMBER_RT_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s", what, ember_last_error());
    ember_rt_status st = last_status;
    free_program(p);
    rt_fail(st, "%s", msg);
    return NULL;
  }
  return p;
}

ember_rt_program *ember_rt_load(const char *path, const ember_rt_options *opts) {
  ember_rt_program *p = calloc(1, sizeof *p);
  if (p == NULL) { rt_fail(EMBER_RT_ERROR_MEMORY, "out of memory"); return NULL; }
  p->file = ember_st_open(path, EMBER_ST_MMAP);
  if (p->file == NULL) {
    /* the safetensors reader names the file and what it found wrong */
    const char *msg = ember_last_error();
    int io = strstr(msg, "IoError") != NULL;
    rt_fail(io ? EMBER_RT_ERROR_IO : EMBER_RT_ERROR_FORMAT, "%s", msg);
    free(p);
    return NULL;
  }
  return finish_load(p, opts, path);
}

ember_rt_program *ember_rt_load_memory(const void *data, size_t n, const ember_rt_options *opts) {
  ember_rt_program *p = calloc(1, sizeof *p);
  if (p == NULL) { rt_fail(EMBER_RT_ERROR_MEMORY, "out of memory"); return NULL; }
  p->file = ember_st_open_memory(data, n);
  if (p->file == NULL) {
    rt_fail(EMBER_RT_ERROR_FORMAT, "%s", ember_last_error());
    free(p);
    return NULL;
  }
  return finish_load(p, opts, "program in memory");
}

ember_rt_status rt_last_status(void) { return last_status; }
