/*
** l_index.c — t[...] and t[...] = v: Torch7's indexing with PyTorch's meaning.
**   t[i]                  select along dim 1 (a 1-D tensor gives a Lua number)
**   t[{i, {}, {a, b}, {a, b, step}}]   per dim: select, all, a..b inclusive, stepped
**   t[mask]               masked_select (bool mask of t's shape)
** Negative indices count from the end (-1 is the last). String keys are methods.
** Assignment writes through the same view: a number fills it, a tensor is copied in
** (broadcast). Views go through the op table (select, slice) so they can be recorded.
*/
#include <stdio.h>
#include <string.h>

#include "lember.h"

/* Run a view op on t; returns a new reference (raises on error). */
static ember_tensor *view_op(lua_State *L, const char *name, ember_tensor *t, int64_t a0,
                             int64_t a1, int64_t a2, int64_t a3) {
  const ember_op *op = ember_op_find(name);
  ember_tensor *in[1] = { t };
  ember_call c;
  ember_call_init(&c, op, 1, in);
  c.index_base = 1;                   /* errors speak the caller's 1-based numbers */
  int64_t v[4] = { a0, a1, a2, a3 };
  for (int k = 0; k < ember_op_attr_count(op) && k < 4; k++) {
    c.attr[k].present = 1;
    c.attr[k].i = v[k];
  }
  if (ember_dispatch(&c) != EMBER_OK) lember_raise(L);
  return c.out[0];
}

static int64_t index_arg(lua_State *L, int idx, const char *what) {
  int ok;
  lua_Integer i = lua_tointegerx(L, idx, &ok);
  if (!ok) luaL_error(L, "index: %s must be an integer, got %s", what,
                      lua_type(L, idx) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, idx));
  if (i == 0) luaL_error(L, "index: 0 is not an index (indices count from 1, or from -1 at the end)");
  return i > 0 ? i - 1 : i;
}

/* Replace the anchored view at slot `anchor` by `next` (a new reference). */
static void advance(lua_State *L, int anchor, ember_tensor *next) {
  lember_push(L, next);
  lua_replace(L, anchor);
}

/* Resolve the key at idx into a view of t and push it. Every intermediate view lives
** in a Lua slot, so an error raised half-way (a bad index, a bad range) leaks nothing. */
static void resolve(lua_State *L, ember_tensor *t, int key) {
  if (lua_type(L, key) == LUA_TNUMBER) {
    if (t->ndim == 0) luaL_error(L, "index: a 0-dim tensor cannot be indexed (use :item())");
    int64_t i = index_arg(L, key, "index");
    lember_push(L, view_op(L, "select", t, 0, i, 0, 0));
    return;
  }
  if (!lua_istable(L, key))
    luaL_error(L, "index: cannot index a tensor with a %s", luaL_typename(L, key));
  int n = (int)lua_rawlen(L, key);
  if (n > t->ndim) {
    char s[128];
    luaL_error(L, "index: %d indices for a tensor of shape %s", n, ember_shape_str(t, s, sizeof s));
  }
  ember_tensor_retain(t);
  lember_push(L, t);
  int anchor = lua_gettop(L);
  int dim = 0;                  /* dim of the current view the next index applies to */
  for (int k = 1; k <= n; k++) {
    ember_tensor *cur = lember_check(L, anchor);
    lua_rawgeti(L, key, k);
    int top = lua_gettop(L);
    if (lua_type(L, top) == LUA_TNUMBER) {
      int64_t i = index_arg(L, top, "index");
      advance(L, anchor, view_op(L, "select", cur, dim, i, 0, 0));
    } else if (lua_istable(L, top)) {
      int len = (int)lua_rawlen(L, top);
      int64_t size = cur->shape[dim];
      int64_t start = 0, stop = size, step = 1;
      if (len >= 1) {
        lua_rawgeti(L, top, 1);
        start = index_arg(L, -1, "slice start");
        lua_pop(L, 1);
        if (start < 0) start += size;
        stop = start + 1;
      }
      if (len >= 2) {
        lua_rawgeti(L, top, 2);
        int64_t last = index_arg(L, -1, "slice end");
        lua_pop(L, 1);
        if (last < 0) last += size;
        stop = last < INT64_MAX ? last + 1 : last;   /* Torch7 ranges include their end */
      }
      if (len >= 3) {
        lua_rawgeti(L, top, 3);
        int ok;
        step = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || step <= 0) luaL_error(L, "index: slice step must be a positive integer");
      }
      if (start < 0 || start >= size || stop > size || stop < start)
        luaL_error(L, "index: range %I..%I out of bounds for dim %d of size %I",
                   (lua_Integer)(start + 1), (lua_Integer)stop, dim + 1, (lua_Integer)size);
      advance(L, anchor, view_op(L, "slice", cur, dim, start, stop, step));
      dim++;
    } else {
      luaL_error(L, "index: entry %d of the index table is a %s (number or {a, b, step} expected)",
                 k, luaL_typename(L, top));
    }
    lua_settop(L, anchor);
  }
}

static int t_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;   /* methods */
    l_tensor *u = lember_toud(L, 1);
    if (u && u->t && lember_autograd_get(L, u->t, lua_tostring(L, 2))) return 1;
    lua_pushnil(L);
    return 1;
  }
  ember_tensor *t = lember_check(L, 1);
  ember_tensor *mask = lember_test(L, 2);
  if (mask) {
    ember_tensor *in[2] = { t, mask };
    return lember_run(L, "masked_select", 2, in, NULL);
  }
  if (lua_type(L, 2) == LUA_TNUMBER && t->ndim == 1) {  /* Torch7: a number */
    int64_t i = index_arg(L, 2, "index");
    if (i < -t->shape[0] || i >= t->shape[0])
      return luaL_error(L, "index: %d out of range for a tensor of size %d",
                        (int)lua_tointeger(L, 2), (int)t->shape[0]);
    if (i < 0) i += t->shape[0];
    int64_t idx[1] = { i };
    if (t->storage->device != EMBER_CPU) {        /* one element read back */
      double v = ember_tensor_get(t, i);
      if (t->dtype == EMBER_BOOL) lua_pushboolean(L, v != 0);
      else if (ember_dtype_is_int(t->dtype)) lua_pushinteger(L, (lua_Integer)v);
      else lua_pushnumber(L, v);
      return 1;
    }
    const char *p = ember_tensor_ptr(t, idx);
    if (ember_dtype_is_subbyte(t->dtype)) lua_pushnumber(L, ember_tensor_get(t, i));
    else if (t->dtype == EMBER_BOOL) lua_pushboolean(L, *p);
    else if (ember_dtype_is_int(t->dtype)) lua_pushinteger(L, ember_load_i64(t->dtype, p));
    else lua_pushnumber(L, ember_load_f64(t->dtype, p));
    return 1;
  }
  resolve(L, t, 2);
  return 1;
}

static int t_newindex(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    if (lember_autograd_set(L, t, lua_tostring(L, 2), 3)) return 0;
    return luaL_error(L, "tensor: cannot set field \"%s\"", lua_tostring(L, 2));
  }
  ember_tensor *mask = lember_test(L, 2);
  if (mask) {
    if (lua_type(L, 3) != LUA_TNUMBER)
      return luaL_error(L, "index: t[mask] = v takes a number v");
    ember_tensor *in[2] = { t, mask };
    const ember_op *op = ember_op_find("masked_fill");
    if (op == NULL) return luaL_error(L, "index: masked_fill is not available");
    ember_call c;
    ember_call_init(&c, op, 2, in);
    c.inplace = 1;
    int k = ember_op_attr_index(op, "value");
    if (k >= 0) {
      c.attr[k].present = 1;
      c.attr[k].f = lua_tonumber(L, 3);
      c.attr[k].i = lua_isinteger(L, 3) ? lua_tointeger(L, 3) : (int64_t)c.attr[k].f;
    }
    if (ember_dispatch(&c) != EMBER_OK) return lember_raise(L);
    ember_tensor_release(c.out[0]);
    return 0;
  }
  resolve(L, t, 2);                              /* anchored: errors below cannot leak it */
  ember_tensor *view = lember_check(L, -1);
  ember_status st;
  ember_tensor *src = lember_test(L, 3);
  if (src) st = ember_copy_(view, src);
  else if (lua_type(L, 3) == LUA_TNUMBER) st = ember_fill_(view, lua_tonumber(L, 3));
  else if (lua_type(L, 3) == LUA_TBOOLEAN) st = ember_fill_(view, lua_toboolean(L, 3));
  else return luaL_error(L, "index: cannot assign a %s into a tensor", luaL_typename(L, 3));
  if (st != EMBER_OK) return lember_raise(L);
  return 0;
}

void lember_open_index(lua_State *L, int methods) {
  luaL_getmetatable(L, EMBER_TENSOR_MT);
  lua_pushvalue(L, methods);
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, t_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pop(L, 1);
}
