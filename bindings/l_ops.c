/*
** l_ops.c — the Lua functions and methods generated from the op table.
**
** For every op entry this file makes ember.<name> (EMBER_OP_FUNCTION), t:<name>
** (EMBER_OP_METHOD) and t:<name>_ (EMBER_OP_INPLACE) as closures over one binding
** record; nothing here is written per op. Arguments are positional in the op's
** order (tensor inputs first, then attributes, unless the entry gives `args`), and a
** final table with string keys gives attributes (or inputs) by name:
**     ember.sum(t, 2, true)        t:sum({1, 2})        ember.conv2d(x, w, nil, {stride = 2})
** Lua's 1-based dims and index values become the kernels' 0-based ones here, and
** index-valued inputs are read with index_base 1, so nothing below the bindings
** needs to know about Lua.
*/
#include <stdlib.h>
#include <string.h>

#include "lember.h"

/* One positional argument slot: an input (k >= 0) or an attribute (-1 - k). */
typedef struct binding {
  const ember_op *op;
  int inplace;
  int unary_meta;      /* __unm: Lua passes the operand twice */
  int nslots;
  int slot[EMBER_INLINE_INPUTS + EMBER_MAX_ATTRS];
} binding;

/* {====== argument conversion */

static int64_t lua_dim(lua_State *L, const ember_op *op, const char *attr, lua_Integer d) {
  if (d == 0)
    luaL_error(L, "%s: %s 0 is not a dim (dims count from 1, or from -1 at the end)", op->name, attr);
  return d > 0 ? d - 1 : d;
}

static int64_t lua_index(lua_State *L, const ember_op *op, const char *attr, lua_Integer i) {
  if (i == 0)
    luaL_error(L, "%s: %s 0 is not an index (indices count from 1, or from -1 at the end)",
               op->name, attr);
  return i > 0 ? i - 1 : i;
}

static lua_Integer need_integer(lua_State *L, const ember_op *op, const char *attr, int idx) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok)
    luaL_error(L, "%s: %s must be an integer, got %s", op->name, attr,
               lua_type(L, idx) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, idx));
  return v;
}

/* An int list from a table or a single integer. */
static void int_list(lua_State *L, const ember_op *op, const ember_attr_def *d, int idx,
                     ember_attr *a, int as_dims) {
  a->present = 1;
  a->n = 0;
  if (lua_istable(L, idx)) {
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    if (len > EMBER_MAX_INTS) luaL_error(L, "%s: %s has %d values (at most %d)", op->name, d->name, (int)len, EMBER_MAX_INTS);
    for (lua_Integer i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      lua_Integer v = need_integer(L, op, d->name, -1);
      lua_pop(L, 1);
      a->v[a->n++] = as_dims ? lua_dim(L, op, d->name, v) : v;
    }
    return;
  }
  lua_Integer v = need_integer(L, op, d->name, idx);
  a->v[a->n++] = as_dims ? lua_dim(L, op, d->name, v) : v;
}

/* Reads the attribute at idx; for SIZE it may consume the following integers too.
** Returns the number of stack slots it took. */
static int read_attr(lua_State *L, const ember_op *op, int k, int idx, int top, ember_attr *a) {
  const ember_attr_def *d = &op->attrs[k];
  if (lua_isnil(L, idx)) return 1;           /* nil keeps the default */
  a->present = 1;
  switch (d->kind) {
  case EMBER_ATTR_INT:
    a->i = need_integer(L, op, d->name, idx);
    a->f = (double)a->i;
    return 1;
  case EMBER_ATTR_FLOAT:
    if (lua_type(L, idx) != LUA_TNUMBER)
      luaL_error(L, "%s: %s must be a number, got %s", op->name, d->name, luaL_typename(L, idx));
    a->f = lua_tonumber(L, idx);
    a->i = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : 0;
    return 1;
  case EMBER_ATTR_BOOL:
    if (!lua_isboolean(L, idx))
      luaL_error(L, "%s: %s must be a boolean, got %s", op->name, d->name, luaL_typename(L, idx));
    a->i = lua_toboolean(L, idx);
    return 1;
  case EMBER_ATTR_DIM:
    a->i = lua_dim(L, op, d->name, need_integer(L, op, d->name, idx));
    return 1;
  case EMBER_ATTR_INDEX:
    a->i = lua_index(L, op, d->name, need_integer(L, op, d->name, idx));
    return 1;
  case EMBER_ATTR_DIMS:
    int_list(L, op, d, idx, a, 1);
    return 1;
  case EMBER_ATTR_INTS:
    int_list(L, op, d, idx, a, 0);
    return 1;
  case EMBER_ATTR_SIZE: case EMBER_ATTR_DIMS_VA:
    if (lua_istable(L, idx)) {
      int_list(L, op, d, idx, a, d->kind == EMBER_ATTR_DIMS_VA);
      return 1;
    } else {
      int n = 0;                              /* Torch7: ember.zeros(2, 3, 4) */
      a->n = 0;
      while (idx + n <= top && lua_isinteger(L, idx + n)) {
        if (a->n == EMBER_MAX_INTS) luaL_error(L, "%s: too many sizes", op->name);
        lua_Integer v = lua_tointeger(L, idx + n);
        a->v[a->n++] = d->kind == EMBER_ATTR_DIMS_VA ? lua_dim(L, op, d->name, v) : v;
        n++;
      }
      if (n == 0)
        luaL_error(L, "%s: %s must be integers or a table of them, got %s", op->name, d->name,
                   luaL_typename(L, idx));
      return n;
    }
  case EMBER_ATTR_STR:
    if (lua_type(L, idx) != LUA_TSTRING)
      luaL_error(L, "%s: %s must be a string, got %s", op->name, d->name, luaL_typename(L, idx));
    a->s = lua_tostring(L, idx);             /* alive: the string stays on the stack */
    return 1;
  case EMBER_ATTR_DTYPE: {
    const char *name = lua_tostring(L, idx);
    if (name == NULL)
      luaL_error(L, "%s: %s must be a dtype name, got %s", op->name, d->name, luaL_typename(L, idx));
    a->i = ember_dtype_from_name(name);
    if (a->i == EMBER_DTYPE_NONE) luaL_error(L, "%s: unknown dtype \"%s\"", op->name, name);
    return 1;
  }
  }
  return 1;
}

/* }====== */

/* Inputs wrapped from Lua numbers are owned by the call; a Lua error can come at any
** point of parsing, so they live in a to-be-closed userdata that frees them. */
typedef struct wrapped { int n; ember_tensor *t[EMBER_INLINE_INPUTS]; ember_tensor **list; } wrapped;

static int wrapped_close(lua_State *L) {
  wrapped *w = lua_touserdata(L, 1);
  for (int i = 0; i < w->n; i++) ember_tensor_release(w->t[i]);
  w->n = 0;
  free(w->list);
  w->list = NULL;
  return 0;
}

/* The tensor userdata at idx or NULL. Each op closure holds the tensor metatable as
** its second upvalue: comparing against it is the cheapest type check there is, and
** this runs for every input of every op call. */
static l_tensor *fast_toud(lua_State *L, int idx) {
  l_tensor *u = lua_touserdata(L, idx);
  if (u == NULL || !lua_getmetatable(L, idx)) return NULL;
  int same = lua_rawequal(L, -1, lua_upvalueindex(2));
  lua_pop(L, 1);
  return same ? u : NULL;
}

/* Push an output with the metatable from the upvalue (lember_push, minus a lookup). */
static void fast_push(lua_State *L, ember_tensor *t) {
  l_tensor *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->t = t;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  lember_gc_pace(L);
}

static ember_tensor *input_at(lua_State *L, const binding *b, int k, int idx, wrapped **w,
                              int *wslot) {
  l_tensor *u = fast_toud(L, idx);
  if (u) {
    if (u->t == NULL) luaL_error(L, "%s: argument #%d: tensor was closed", b->op->name, idx);
    return u->t;
  }
  if (lua_type(L, idx) == LUA_TNUMBER && (b->op->flags & EMBER_OP_SCALARS)) {
    if (*w == NULL) {
      *w = lua_newuserdatauv(L, sizeof **w, 0);
      (*w)->n = 0;
      (*w)->list = NULL;
      luaL_setmetatable(L, "ember.wrapped");
      lua_toclose(L, -1);
      *wslot = lua_gettop(L);
    }
    ember_tensor *t = lember_wrap_number(L, idx);
    if (t == NULL) lember_raise(L);
    (*w)->t[(*w)->n++] = t;
    return t;
  }
  if (lua_isnil(L, idx) && k >= b->op->min_inputs) return NULL;
  luaL_error(L, "%s: argument #%d must be a tensor, got %s", b->op->name, idx,
             luaL_typename(L, idx));
  return NULL;
}

/* A final table with a string key gives options by name. */
static int is_options(lua_State *L, int idx) {
  if (!lua_istable(L, idx) || lember_toud(L, idx)) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int str = lua_type(L, -2) == LUA_TSTRING;
    lua_pop(L, 1);                       /* keep the key for the next lua_next */
    if (str) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

static void read_options(lua_State *L, const binding *b, int idx, ember_call *c, int top) {
  const ember_op *op = b->op;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s: options table mixes names and positions", op->name);
    const char *key = lua_tostring(L, -2);
    int k = ember_op_attr_index(op, key);
    if (k >= 0) {
      read_attr(L, op, k, lua_gettop(L), top, &c->attr[k]);
    } else if (strcmp(key, "device") == 0 && (op->flags & EMBER_OP_CREATION)) {
      const char *dev = lua_tostring(L, -1);
      if (dev == NULL || ember_device_parse(dev, &c->device) != EMBER_OK)
        luaL_error(L, "%s: device must be \"cpu\" or \"vulkan\", got %s%s%s", op->name,
                   dev ? "\"" : "", dev ? dev : luaL_typename(L, -1), dev ? "\"" : "");
    } else {
      luaL_error(L, "%s: unknown option \"%s\"", op->name, key);
    }
    lua_pop(L, 1);
  }
}

static int op_call(lua_State *L) {
  const binding *b = lua_touserdata(L, lua_upvalueindex(1));
  const ember_op *op = b->op;
  int top = b->unary_meta ? 1 : lua_gettop(L);
  ember_tensor *in[EMBER_INLINE_INPUTS] = {0};
  ember_tensor **inputs = in;
  int nin = 0;
  wrapped *w = NULL;
  int wslot = 0;
  ember_call c;
  ember_call_init(&c, op, 0, in);
  c.index_base = 1;
  c.inplace = b->inplace;
  if (op->flags & EMBER_OP_CREATION) c.device = ember_default_device();

  int idx = 1;
  int max_in = op->max_inputs;
  if (op->flags & EMBER_OP_LIST_IN) {          /* cat({a, b}, dim) */
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 1);
    if (n == 0) return luaL_error(L, "%s: expected a non-empty list of tensors", op->name);
    w = lua_newuserdatauv(L, sizeof *w, 0);
    w->n = 0;
    w->list = NULL;
    luaL_setmetatable(L, "ember.wrapped");
    lua_toclose(L, -1);
    wslot = lua_gettop(L);
    w->list = malloc((size_t)n * sizeof *w->list);
    if (w->list == NULL) return luaL_error(L, "%s: out of memory", op->name);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, 1, i + 1);
      l_tensor *u = lember_toud(L, -1);
      if (u == NULL)
        return luaL_error(L, "%s: element %d of the list is a %s, not a tensor", op->name, i + 1,
                          luaL_typename(L, -1));
      if (u->t == NULL)
        return luaL_error(L, "%s: element %d of the list is a closed tensor", op->name, i + 1);
      ember_tensor *t = u->t;
      w->list[i] = t;
      lua_pop(L, 1);
    }
    inputs = w->list;
    nin = n;
    idx = 2;
    max_in = 0;
  }
  for (int s = 0; s < b->nslots && idx <= top; s++) {
    int k = b->slot[s];
    if (idx == top && is_options(L, idx)) break;
    if (k >= 0) {
      if (k >= max_in) continue;
      if (idx == top && is_options(L, idx) && k >= op->min_inputs) break;
      in[k] = input_at(L, b, k, idx, &w, &wslot);
      if (k + 1 > nin) nin = k + 1;
      idx++;
    } else {
      idx += read_attr(L, op, -1 - k, idx, top, &c.attr[-1 - k]);
    }
  }
  if (idx <= top) {
    if (idx == top && is_options(L, idx)) read_options(L, b, idx, &c, top);
    else if (!lua_isnil(L, idx))
      return luaL_error(L, "%s: too many arguments (argument #%d is a %s)", op->name, idx,
                        luaL_typename(L, idx));
  }
  if (!(op->flags & EMBER_OP_LIST_IN)) {
    if (nin < op->min_inputs) {
      if (nin == 0 && top == 0) return luaL_error(L, "%s: expected a tensor argument", op->name);
      return luaL_error(L, "%s: expected %d tensor inputs, got %d", op->name, op->min_inputs, nin);
    }
  }
  c.nin = nin;
  c.in = inputs;
  if (ember_dispatch(&c) != EMBER_OK) return lember_raise(L);
  if (wslot) {                                 /* inputs are no longer needed */
    lua_pushcfunction(L, wrapped_close);
    lua_pushvalue(L, wslot);
    lua_call(L, 1, 0);
  }
  if (op->flags & EMBER_OP_LIST_OUT) {
    lua_createtable(L, c.nlist, 0);
    for (int k = 0; k < c.nlist; k++) {
      /* the table takes each before the next push can raise */
      lember_push(L, c.list_out[k]);
      c.list_out[k] = NULL;
      lua_rawseti(L, -2, k + 1);
    }
    free(c.list_out);
    return 1;
  }
  if (b->inplace) {
    ember_tensor_release(c.out[0]);
    for (int k = 1; k < c.nout; k++) ember_tensor_release(c.out[k]);
    lua_pushvalue(L, 1);
    return 1;
  }
  for (int k = 0; k < c.nout; k++) {
    if (!lua_checkstack(L, 2)) {
      for (int j = k; j < c.nout; j++) ember_tensor_release(c.out[j]);
      return luaL_error(L, "%s: stack overflow", op->name);
    }
    fast_push(L, c.out[k]);
    c.out[k] = NULL;
  }
  return c.nout;
}

int lember_run(lua_State *L, const char *name, int nin, ember_tensor **in, const char *attrs) {
  ember_tensor *out[EMBER_MAX_OUTPUTS];
  int n = ember_op_run(name, nin, in, attrs, out, EMBER_MAX_OUTPUTS);
  if (n < 0) return lember_raise(L);
  for (int k = 0; k < n; k++) lember_push(L, out[k]);
  return n;
}

/* {====== registration */

/* The positional order: "input weight bias | stride padding" style text in op->args
** would be parsed here; without it, inputs then attributes. */
static void make_plan(binding *b) {
  const ember_op *op = b->op;
  int n = 0;
  int max_in = op->max_inputs < 0 ? 0 : op->max_inputs;
  if (max_in > EMBER_INLINE_INPUTS) max_in = EMBER_INLINE_INPUTS;
  for (int k = 0; k < max_in; k++) b->slot[n++] = k;
  for (int k = 0; k < ember_op_attr_count(op) && n < EMBER_INLINE_INPUTS + EMBER_MAX_ATTRS; k++)
    b->slot[n++] = -1 - k;
  b->nslots = n;
  if (op->args) {                      /* explicit order: names of inputs and attributes */
    int m = 0;
    const char *p = op->args;
    while (*p && m < EMBER_INLINE_INPUTS + EMBER_MAX_ATTRS) {
      while (*p == ' ') p++;
      const char *e = p;
      while (*e && *e != ' ') e++;
      if (e == p) break;
      char word[64];
      size_t len = (size_t)(e - p) < sizeof word - 1 ? (size_t)(e - p) : sizeof word - 1;
      memcpy(word, p, len);
      word[len] = 0;
      int k = ember_op_attr_index(op, word);
      if (k >= 0) b->slot[m++] = -1 - k;
      else if (word[0] == '#') b->slot[m++] = atoi(word + 1) - 1;   /* "#2": input 2 */
      p = e;
    }
    b->nslots = m;
  }
}

static void push_binding(lua_State *L, const ember_op *op, int inplace, int unary_meta) {
  binding *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  b->op = op;
  b->inplace = inplace;
  b->unary_meta = unary_meta;
  make_plan(b);
  luaL_getmetatable(L, EMBER_TENSOR_MT);
  lua_pushcclosure(L, op_call, 2);
}

/* ember._op(name): a function calling op `name` as ember.<name> would, for any op of
** the table, those with no Lua function too (export's fused ops, backward kernels):
** the specs reach them through it. Private: not part of the API. */
static int l_op_by_name(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const ember_op *op = ember_op_find(name);
  if (op == NULL) return luaL_error(L, "ember._op: no op named \"%s\"", name);
  push_binding(L, op, 0, 0);
  return 1;
}

void lember_open_ops(lua_State *L, int module, int methods) {
  luaL_newmetatable(L, "ember.wrapped");
  lua_pushcfunction(L, wrapped_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, wrapped_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  extern const char *ember_ops_check(void);
  if (ember_ops_check()) luaL_error(L, "ember: op table entry \"%s\" is duplicated or has a bad default", ember_ops_check());
  int n = ember_ops_count();
  for (int i = 0; i < n; i++) {
    const ember_op *op = ember_op_at(i);
    if (op->flags & EMBER_OP_FUNCTION) {
      push_binding(L, op, 0, 0);
      lua_setfield(L, module, op->name);
    }
    if (op->flags & EMBER_OP_METHOD) {
      push_binding(L, op, 0, 0);
      lua_setfield(L, methods, op->name);
    }
    if (op->flags & EMBER_OP_INPLACE) {
      push_binding(L, op, 1, 0);
      lua_pushfstring(L, "%s_", op->name);
      lua_insert(L, -2);
      lua_settable(L, methods);
    }
  }
  lua_pushcfunction(L, l_op_by_name);
  lua_setfield(L, module, "_op");
  static const char *const arith[][2] = {
    {"__add", "add"}, {"__sub", "sub"}, {"__mul", "mul"}, {"__div", "div"},
    {"__unm", "neg"}, {"__pow", "pow"}, {"__mod", "remainder"}, {"__idiv", "floor_divide"},
  };
  for (size_t i = 0; i < sizeof arith / sizeof arith[0]; i++) {
    /* metamethods need functions that take numbers on either side: the op's own
       function closure does (EMBER_OP_SCALARS) */
    const ember_op *op = ember_op_find(arith[i][1]);
    if (op == NULL) continue;
    luaL_getmetatable(L, EMBER_TENSOR_MT);
    push_binding(L, op, 0, strcmp(arith[i][0], "__unm") == 0);
    lua_setfield(L, -2, arith[i][0]);
    lua_pop(L, 1);
  }
}

/* }====== */
