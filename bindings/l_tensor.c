/*
** l_tensor.c — the tensor userdata: life cycle, the tensor constructor from Lua
** tables, and the methods that read a tensor's header (size, dtype, item...).
** A userdata holds one reference to an ember_tensor; __gc and __close share one
** finalizer that drops it and leaves NULL behind, so a closed tensor raises a clear
** error instead of touching freed memory.
*/
#include <math.h>
#include <string.h>
#include <time.h>

#include "lember.h"

/* The metatable is also kept under a pointer key: finding it by pointer avoids the
** string lookup of luaL_testudata, which showed up in the cost of every op call. */
static const char tensor_mt_key = 0;

l_tensor *lember_toud(lua_State *L, int idx) {
  l_tensor *u = lua_touserdata(L, idx);
  if (u == NULL || !lua_getmetatable(L, idx)) return NULL;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? u : NULL;
}


ember_tensor *lember_test(lua_State *L, int idx) {
  l_tensor *u = lember_toud(L, idx);
  return u ? u->t : NULL;
}

ember_tensor *lember_check(lua_State *L, int idx) {
  l_tensor *u = lember_toud(L, idx);
  if (u == NULL) {
    luaL_typeerror(L, idx, "tensor");
    return NULL;
  }
  if (u->t == NULL) luaL_argerror(L, idx, "tensor was closed");
  return u->t;
}

int lember_raise(lua_State *L) {
  return luaL_error(L, "%s", ember_last_error());
}

/* Lua sees only the small userdata, not the tensor bytes behind it: without help a
** loop making big tensors would grow without bound before the collector woke up, and
** small garbage would pile up in bursts that malloc handles badly. So every 256 KiB
** of heap storage growth is reported to the collector as that much allocation (a
** step of that size: a minor collection in generational mode), and a full collection
** runs when the storage alive has doubled since the last one (and grown by at least
** 64 MiB). The collector is generational (luaopen_ember): tensors that lived through
** two minor collections and then died wait for a major one, which Lua starts only
** when its own small heap has doubled; so a full collection also runs after every
** 64 MiB of storage made since the last, which bounds that garbage whatever the
** size of the model. */
#define PACE_STEP ((size_t)256 << 10)
#define PACE_FULL ((size_t)64 << 20)

void lember_gc_pace(lua_State *L) {
  static size_t seen = 0, after_full = 0, made = 0;
  size_t live = ember_heap_bytes();
  if (live > seen + PACE_STEP) {
    size_t grown = live - seen;
    size_t grown_kb = grown >> 10;
    seen = live;
    made += grown;
    if ((live > 2 * after_full && live - after_full > PACE_FULL) || made > PACE_FULL) {
      lua_gc(L, LUA_GCCOLLECT);
      after_full = seen = ember_heap_bytes();
      made = 0;
    } else {
      lua_gc(L, LUA_GCSTEP, (int)(grown_kb > 1 << 20 ? 1 << 20 : grown_kb));
    }
  } else if (live < seen) {
    seen = live;
    if (live < after_full) after_full = live;
  }
}

int lember_push(lua_State *L, ember_tensor *t) {
  if (t == NULL) return lember_raise(L);
  l_tensor *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->t = t;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
  lua_setmetatable(L, -2);
  lember_gc_pace(L);
  return 1;
}

ember_tensor *lember_wrap_number(lua_State *L, int idx) {
  ember_tensor *t;
  if (lua_isinteger(L, idx)) {
    t = ember_tensor_empty(EMBER_I64, 0, NULL);
    if (t) *(int64_t *)t->storage->data = lua_tointeger(L, idx);
  } else {
    t = ember_tensor_scalar(EMBER_F64, lua_tonumber(L, idx));
  }
  if (t) t->flags |= EMBER_TENSOR_WRAPPED_NUMBER;
  return t;
}

static int t_gc(lua_State *L) {
  l_tensor *u = lember_toud(L, 1);
  if (u && u->t) {
    ember_tensor_release(u->t);
    u->t = NULL;
  }
  return 0;
}

/* {====== ember.tensor(data [, dtype | {dtype=...}]) */

typedef struct nested {
  int ndim;
  int64_t shape[EMBER_MAX_DIMS];
  int has_float, has_bool, has_int;
} nested;

/* Walk the first elements down to find the shape. */
static void nested_shape(lua_State *L, int idx, nested *n) {
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (n->ndim == EMBER_MAX_DIMS) luaL_error(L, "tensor: nested table deeper than %d", EMBER_MAX_DIMS);
    n->shape[n->ndim++] = (int64_t)lua_rawlen(L, -1);
    if (lua_rawlen(L, -1) == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

/* Fill t's data from the nested table at idx; dim d, writing from flat offset *pos. */
static void nested_fill(lua_State *L, int idx, const nested *n, int d, ember_tensor *t,
                        int64_t *pos) {
  if (d == n->ndim) {
    char *p = (char *)t->storage->data + *pos * ember_dtype_size(t->dtype);
    int type = lua_type(L, idx);
    if (type == LUA_TBOOLEAN) ember_store_i64(t->dtype, p, lua_toboolean(L, idx));
    else if (lua_isinteger(L, idx)) ember_store_i64(t->dtype, p, lua_tointeger(L, idx));
    else if (type == LUA_TNUMBER) ember_store_f64(t->dtype, p, lua_tonumber(L, idx));
    else luaL_error(L, "tensor: element %I is a %s, not a number", (lua_Integer)*pos + 1,
                    luaL_typename(L, idx));
    (*pos)++;
    return;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "tensor: ragged nested table: expected a table at depth %d, got a %s",
               d + 1, luaL_typename(L, idx));
  int64_t len = (int64_t)lua_rawlen(L, idx);
  if (len != n->shape[d])
    luaL_error(L, "tensor: ragged nested table: %I elements at depth %d where %I were expected",
               (lua_Integer)len, d + 1, (lua_Integer)n->shape[d]);
  for (int64_t i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    nested_fill(L, lua_gettop(L), n, d + 1, t, pos);
    lua_pop(L, 1);
  }
}

/* Scan leaves for their kinds (to choose the dtype as torch.tensor does). */
static void nested_kinds(lua_State *L, int idx, nested *n, int d) {
  if (d == n->ndim || !lua_istable(L, idx)) {
    if (lua_type(L, idx) == LUA_TBOOLEAN) n->has_bool = 1;
    else if (lua_isinteger(L, idx)) n->has_int = 1;
    else n->has_float = 1;
    return;
  }
  int64_t len = (int64_t)lua_rawlen(L, idx);
  for (int64_t i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    nested_kinds(L, lua_gettop(L), n, d + 1);
    lua_pop(L, 1);
  }
}

static ember_dtype opt_dtype(lua_State *L, int idx, ember_dtype dflt) {
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "dtype");
    ember_dtype d = opt_dtype(L, -1, dflt);
    lua_pop(L, 1);
    return d;
  }
  if (lua_isnoneornil(L, idx)) return dflt;
  const char *name = luaL_checkstring(L, idx);
  ember_dtype d = ember_dtype_from_name(name);
  if (d == EMBER_DTYPE_NONE) luaL_error(L, "tensor: unknown dtype \"%s\"", name);
  return d;
}

static int m_tensor(lua_State *L) {
  if (lember_test(L, 1)) {    /* ember.tensor(t): a copy, as torch.tensor does */
    ember_tensor *src = lember_check(L, 1);
    ember_tensor *c = ember_to_dtype(src, opt_dtype(L, 2, src->dtype));
    if (c == src) { ember_tensor_release(c); c = ember_clone(src); }
    return lember_push(L, c);
  }
  nested n = {0};
  int type = lua_type(L, 1);
  if (type != LUA_TTABLE && type != LUA_TNUMBER && type != LUA_TBOOLEAN)
    return luaL_typeerror(L, 1, "table, number or boolean");
  nested_shape(L, 1, &n);
  nested_kinds(L, 1, &n, 0);
  ember_dtype dflt = n.has_float ? EMBER_DEFAULT_FLOAT : n.has_int ? EMBER_I64
                   : n.has_bool ? EMBER_BOOL : EMBER_DEFAULT_FLOAT;
  ember_dtype want = opt_dtype(L, 2, dflt);
  /* packed dtypes have no addressable elements: fill in f64, then convert */
  ember_tensor *t = ember_tensor_empty(ember_dtype_is_subbyte(want) ? EMBER_F64 : want,
                                       n.ndim, n.shape);
  if (t == NULL) return lember_raise(L);
  lember_push(L, t);           /* owned by Lua now: a Lua error below cannot leak it */
  int64_t pos = 0;
  nested_fill(L, 1, &n, 0, t, &pos);
  if (t->dtype != want) {
    ember_tensor *c = ember_to_dtype(t, want);
    if (c == NULL) return lember_raise(L);
    lember_push(L, c);
  }
  return 1;
}

/* }====== */

/* {====== header methods */

static int t_size(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer d = luaL_checkinteger(L, 2);
    int nd = ember_norm_dim(d > 0 ? (int)d - 1 : (int)d, t->ndim);
    if (d == 0 || nd < 0 || t->ndim == 0)
      return luaL_error(L, "size: dim %d out of range for a tensor with %d dims", (int)d, t->ndim);
    lua_pushinteger(L, t->shape[nd]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int t_stride(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer d = luaL_checkinteger(L, 2);
    int nd = ember_norm_dim(d > 0 ? (int)d - 1 : (int)d, t->ndim);
    if (d == 0 || nd < 0 || t->ndim == 0)
      return luaL_error(L, "stride: dim %d out of range for a tensor with %d dims", (int)d, t->ndim);
    lua_pushinteger(L, t->stride[nd]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->stride[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int t_dim(lua_State *L) {
  lua_pushinteger(L, lember_check(L, 1)->ndim);
  return 1;
}

static int t_numel(lua_State *L) {
  lua_pushinteger(L, ember_tensor_numel(lember_check(L, 1)));
  return 1;
}

static int t_dtype(lua_State *L) {
  lua_pushstring(L, ember_dtype_name(lember_check(L, 1)->dtype));
  return 1;
}

/* Torch7's type name: "ember.FloatTensor" */
static int t_type(lua_State *L) {
  lua_pushfstring(L, "ember.%s", ember_dtype_traits_table[lember_check(L, 1)->dtype].torch7_name);
  return 1;
}

static int t_device(lua_State *L) {
  lua_pushstring(L, ember_device_name(lember_check(L, 1)->storage->device));
  return 1;
}

static int t_is_contiguous(lua_State *L) {
  lua_pushboolean(L, ember_tensor_is_contiguous(lember_check(L, 1)));
  return 1;
}

static int t_storage_offset(lua_State *L) {
  lua_pushinteger(L, lember_check(L, 1)->offset);
  return 1;
}

static void push_element(lua_State *L, const ember_tensor *t, const char *p) {
  if (t->dtype == EMBER_BOOL) lua_pushboolean(L, *p != 0);
  else if (ember_dtype_is_int(t->dtype)) lua_pushinteger(L, ember_load_i64(t->dtype, p));
  else lua_pushnumber(L, ember_load_f64(t->dtype, p));
}

/* Packed sub-byte tensors have no element addresses: read them through f32. Device
** tensors are read from a copy on the cpu (one transfer, not one per element). */
static ember_tensor *readable(lua_State *L, ember_tensor *t) {
  if (!ember_dtype_is_subbyte(t->dtype) && t->storage->device == EMBER_CPU) return t;
  ember_tensor *f = t->storage->device != EMBER_CPU ? ember_to_device(t, EMBER_CPU)
                                                    : ember_to_dtype(t, EMBER_F32);
  if (f == NULL) lember_raise(L);
  lember_push(L, f);            /* anchored on the stack, collected with it */
  return f;
}

static int t_item(lua_State *L) {
  ember_tensor *t = readable(L, lember_check(L, 1));
  if (ember_tensor_numel(t) != 1) {
    char s[128];
    return luaL_error(L, "item: only a tensor with one element has an item (shape %s)",
                      ember_shape_str(t, s, sizeof s));
  }
  int64_t zero[EMBER_MAX_DIMS] = {0};
  push_element(L, t, ember_tensor_ptr(t, zero));
  return 1;
}

static void totable_dim(lua_State *L, const ember_tensor *t, int d, int64_t *index) {
  if (d == t->ndim) {
    push_element(L, t, ember_tensor_ptr(t, index));
    return;
  }
  lua_createtable(L, (int)t->shape[d], 0);
  for (int64_t i = 0; i < t->shape[d]; i++) {
    index[d] = i;
    totable_dim(L, t, d + 1, index);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_totable(lua_State *L) {
  ember_tensor *t = readable(L, lember_check(L, 1));
  int64_t index[EMBER_MAX_DIMS] = {0};
  luaL_checkstack(L, t->ndim + 4, "totable");
  totable_dim(L, t, 0, index);
  return 1;
}

static int t_len(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  if (t->ndim == 0) return luaL_error(L, "#: a 0-dim tensor has no length");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

static int t_data_ptr(lua_State *L) {
  lua_pushlightuserdata(L, ember_tensor_data(lember_check(L, 1)));
  return 1;
}

/* print(t): formatted in Lua (stdlib/ember/format.lua), where layout code reads best */
static int t_tostring(lua_State *L) {
  l_tensor *u = lember_toud(L, 1);
  if (u && u->t == NULL) {
    lua_pushliteral(L, "[ember.Tensor (closed)]");
    return 1;
  }
  lember_check(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "ember.format");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "tostring");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static int m_is_tensor(lua_State *L) {
  lua_pushboolean(L, lember_toud(L, 1) != NULL);
  return 1;
}

/* Monotonic wall time in seconds, for timing loops (os.clock counts CPU time of all
** threads, which misleads once OpenMP or OpenBLAS run in parallel). */
static int m_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* Bytes of tensor storage alive on the heap (what the collector is paced by). */
static int m_heap_bytes(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ember_heap_bytes());
  return 1;
}

static int m_manual_seed(lua_State *L) {
  ember_manual_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

/* }====== */

static const luaL_Reg tensor_methods[] = {
  {"size", t_size}, {"stride", t_stride}, {"dim", t_dim}, {"nDimension", t_dim},
  {"numel", t_numel}, {"nelement", t_numel}, {"dtype", t_dtype}, {"type", t_type},
  {"device", t_device}, {"is_contiguous", t_is_contiguous},
  {"storage_offset", t_storage_offset}, {"item", t_item}, {"totable", t_totable},
  {"data_ptr", t_data_ptr}, {"close", t_gc},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"tensor", m_tensor}, {"is_tensor", m_is_tensor}, {"manual_seed", m_manual_seed},
  {"clock", m_clock}, {"heap_bytes", m_heap_bytes},
  {NULL, NULL}
};

void lember_open_tensor(lua_State *L, int module, int methods) {
  lua_pushvalue(L, methods);
  luaL_setfuncs(L, tensor_methods, 0);
  lua_pop(L, 1);
  lua_pushvalue(L, module);
  luaL_setfuncs(L, module_funcs, 0);
  lua_pop(L, 1);
  luaL_getmetatable(L, EMBER_TENSOR_MT);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
  lua_pushcfunction(L, t_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, t_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, t_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, t_len);
  lua_setfield(L, -2, "__len");
  lua_pushliteral(L, "ember.Tensor");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}
