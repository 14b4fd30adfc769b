/*
** l_autograd.c — autograd in Lua: the fields t.requires_grad, t.grad, t.is_leaf and
** t.grad_fn, the methods backward, detach, requires_grad_, register_hook and
** register_post_accumulate_grad_hook, grad mode (ember.no_grad, ember.enable_grad,
** ember.set_grad_enabled), ember.autograd.queue_callback, and the C half of
** ember.autograd.Function.
**
** Lua functions called from backward (hooks, Function backwards) run in the state
** that called backward, under lua_pcall: a Lua error in one stops the backward and
** comes out of t:backward() as the error, never a longjmp through the engine.
*/
#include <stdlib.h>
#include <string.h>

#include "lember.h"
#include "autograd.h"

/* The state running the current backward; hooks called outside one use the main
** thread of the state that registered them. */
static lua_State *running;

typedef struct lua_fn { lua_State *main; int ref; } lua_fn;

static lua_fn *fn_new(lua_State *L, int idx) {
  lua_fn *f = malloc(sizeof *f);
  if (f == NULL) {
    luaL_error(L, "autograd: out of memory");
    return NULL;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  f->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return f;
}

static void fn_free(void *p) {
  lua_fn *f = p;
  luaL_unref(f->main, LUA_REGISTRYINDEX, f->ref);
  free(f);
}

static lua_State *state_for(lua_fn *f) { return running ? running : f->main; }

/* Push a new Lua reference to t (the engine keeps its own). */
static void push_ref(lua_State *L, ember_tensor *t) {
  ember_tensor_retain(t);
  lember_push(L, t);
}

/* Turn a Lua error at the top of L into an ember error. */
static ember_status lua_failure(lua_State *L, const char *what) {
  const char *msg = lua_tostring(L, -1);
  ember_error("%s: %s", what, msg ? msg : "error object is not a string");
  lua_pop(L, 1);
  return EMBER_ERROR;
}

static ember_status call_grad_hook(void *ctx, ember_tensor *grad, ember_tensor **replace) {
  lua_fn *f = ctx;
  lua_State *L = state_for(f);
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  push_ref(L, grad);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return lua_failure(L, "hook");
  ember_tensor *r = lember_test(L, -1);
  if (r == NULL && !lua_isnil(L, -1)) {
    const char *tn = luaL_typename(L, -1);
    lua_settop(L, top);
    return ember_error("hook: returned a %s; a hook returns nothing or a tensor", tn);
  }
  if (r) {
    ember_tensor_retain(r);
    *replace = r;
  }
  lua_settop(L, top);
  return EMBER_OK;
}

static ember_status call_leaf_hook(void *ctx, ember_tensor *leaf) {
  lua_fn *f = ctx;
  lua_State *L = state_for(f);
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  push_ref(L, leaf);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) return lua_failure(L, "post-accumulate hook");
  lua_settop(L, top);
  return EMBER_OK;
}

static ember_status call_callback(void *ctx) {
  lua_fn *f = ctx;
  lua_State *L = state_for(f);
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) return lua_failure(L, "autograd callback");
  lua_settop(L, top);
  return EMBER_OK;
}

/* {====== fields */

/* t.grad, t.requires_grad, t.is_leaf, t.grad_fn; 0 if key is none of them */
int lember_autograd_get(lua_State *L, ember_tensor *t, const char *key) {
  if (strcmp(key, "grad") == 0) {
    ember_tensor *g = ember_grad(t);
    if (g) push_ref(L, g);
    else lua_pushnil(L);
  } else if (strcmp(key, "requires_grad") == 0) {
    lua_pushboolean(L, ember_requires_grad(t));
  } else if (strcmp(key, "is_leaf") == 0) {
    lua_pushboolean(L, ember_is_leaf(t));
  } else if (strcmp(key, "grad_fn") == 0) {
    const char *name = ember_grad_fn_name(t);
    if (name) lua_pushstring(L, name);
    else lua_pushnil(L);
  } else {
    return 0;
  }
  return 1;
}

/* t.grad = g | nil, t.requires_grad = bool; 0 if key is neither */
int lember_autograd_set(lua_State *L, ember_tensor *t, const char *key, int v) {
  if (strcmp(key, "grad") == 0) {
    ember_tensor *g = lua_isnil(L, v) ? NULL : lember_test(L, v);
    if (g == NULL && !lua_isnil(L, v))
      return luaL_error(L, "tensor: grad must be a tensor or nil, got %s", luaL_typename(L, v));
    if (ember_set_grad(t, g) != EMBER_OK) return lember_raise(L);
  } else if (strcmp(key, "requires_grad") == 0) {
    if (!lua_isboolean(L, v))
      return luaL_error(L, "tensor: requires_grad must be a boolean, got %s", luaL_typename(L, v));
    if (ember_set_requires_grad(t, lua_toboolean(L, v)) != EMBER_OK) return lember_raise(L);
  } else {
    return 0;
  }
  return 1;
}

/* }====== */

/* {====== methods */

/* t:backward([grad] [, retain_graph]) or t:backward{gradient = g, retain_graph = true} */
static int t_backward(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  ember_tensor *grad = NULL;
  int retain = 0;
  if (lua_istable(L, 2) && lember_toud(L, 2) == NULL) {
    lua_getfield(L, 2, "gradient");
    grad = lember_test(L, -1);
    lua_getfield(L, 2, "retain_graph");
    retain = lua_toboolean(L, -1);
    lua_pop(L, 2);
  } else {
    if (!lua_isnoneornil(L, 2)) {
      grad = lember_test(L, 2);
      if (grad == NULL)
        return luaL_error(L, "backward: argument #1 must be a gradient tensor, got %s",
                          luaL_typename(L, 2));
    }
    retain = lua_toboolean(L, 3);
  }
  lua_State *outer = running;
  running = L;
  ember_status st = ember_backward(t, grad, retain);
  running = outer;
  if (st != EMBER_OK) return lember_raise(L);
  lember_gc_pace(L);
  return 0;
}

static int t_detach(lua_State *L) {
  return lember_push(L, ember_detach(lember_check(L, 1)));
}

/* detach_(): t itself becomes a leaf without history */
static int t_detach_(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  if (t->autograd) {
    ember_tensor *g = ember_grad(t);
    if (g) ember_tensor_retain(g);
    ember_autograd_free_meta(t);
    if (g) {
      ember_set_grad(t, g);
      ember_tensor_release(g);
    }
  }
  lua_settop(L, 1);
  return 1;
}

static int t_requires_grad_(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  int on = lua_isnone(L, 2) ? 1 : lua_toboolean(L, 2);
  if (ember_set_requires_grad(t, on) != EMBER_OK) return lember_raise(L);
  lua_settop(L, 1);
  return 1;
}

/* A handle: h:remove() takes the hook away. */
static int h_remove(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "tensor");
  ember_tensor *t = lember_test(L, -1);
  lua_getfield(L, 1, "id");
  int id = (int)lua_tointeger(L, -1);
  if (t && id > 0) ember_remove_hook(t, id);
  lua_pushinteger(L, 0);
  lua_setfield(L, 1, "id");
  return 0;
}

static int push_handle(lua_State *L, int id) {
  if (id <= 0) return lember_raise(L);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "tensor");
  lua_pushinteger(L, id);
  lua_setfield(L, -2, "id");
  lua_pushcfunction(L, h_remove);
  lua_setfield(L, -2, "remove");
  return 1;
}

static int t_register_hook(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_fn *f = fn_new(L, 2);
  return push_handle(L, ember_register_hook(t, call_grad_hook, f, fn_free));
}

static int t_register_post_accumulate_grad_hook(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_fn *f = fn_new(L, 2);
  return push_handle(L, ember_register_post_accumulate_hook(t, call_leaf_hook, f, fn_free));
}

/* }====== */

/* {====== grad mode */

/* Run f(...) with grad mode set to `on`, restoring the mode even when f raises. */
static int with_mode(lua_State *L, int on) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int old = ember_set_grad_enabled(on);
  int n = lua_gettop(L) - 1;
  int st = lua_pcall(L, n, LUA_MULTRET, 0);
  ember_set_grad_enabled(old);
  if (st != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int m_no_grad(lua_State *L) { return with_mode(L, 0); }
static int m_enable_grad(lua_State *L) { return with_mode(L, 1); }

static int m_set_grad_enabled(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, ember_set_grad_enabled(lua_toboolean(L, 1)));
  return 1;
}

static int m_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, ember_grad_enabled());
  return 1;
}

/* }====== */

/* {====== ember.autograd.Function, C half */

/* backward of a Lua Function: calls fn(grad_1, ..., grad_nout) and takes its first
** nin results (tensors or nil) as the inputs' gradients */
static ember_status call_function_backward(void *ctx, int nout, ember_tensor *const *grad_out,
                                           int nin, ember_tensor **grad_in) {
  lua_fn *f = ctx;
  lua_State *L = state_for(f);
  int top = lua_gettop(L);
  if (!lua_checkstack(L, nout + nin + 4)) return ember_error("Function backward: Lua stack overflow");
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
  for (int k = 0; k < nout; k++) {
    if (grad_out[k]) push_ref(L, grad_out[k]);
    else lua_pushnil(L);
  }
  if (lua_pcall(L, nout, nin, 0) != LUA_OK) return lua_failure(L, "Function backward");
  for (int i = 0; i < nin; i++) {
    int idx = top + 1 + i;
    ember_tensor *g = lember_test(L, idx);
    if (g == NULL && !lua_isnil(L, idx)) {
      const char *tn = luaL_typename(L, idx);
      lua_settop(L, top);
      return ember_error("Function backward: gradient %d is a %s, not a tensor or nil", i + 1, tn);
    }
    if (g) ember_tensor_retain(g);
    grad_in[i] = g;
  }
  lua_settop(L, top);
  return EMBER_OK;
}

static ember_tensor **tensor_list(lua_State *L, int idx, int *n, const char *what) {
  luaL_checktype(L, idx, LUA_TTABLE);
  *n = (int)lua_rawlen(L, idx);
  ember_tensor **v = lua_newuserdatauv(L, (size_t)(*n ? *n : 1) * sizeof *v, 0);
  for (int i = 0; i < *n; i++) {
    lua_rawgeti(L, idx, i + 1);
    v[i] = lember_test(L, -1);
    if (v[i] == NULL) luaL_error(L, "Function: %s %d is a %s, not a tensor", what, i + 1,
                                 luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  return v;
}

/* _link(name, inputs, outputs, backward): ties outputs to inputs in the graph */
static int m_link(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  int nin, nout;
  ember_tensor **in = tensor_list(L, 2, &nin, "input");
  ember_tensor **out = tensor_list(L, 3, &nout, "output");
  luaL_checktype(L, 4, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_rawget(L, lua_upvalueindex(1));            /* interned names live in the upvalue */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 1);
    lua_rawset(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_rawget(L, lua_upvalueindex(1));
  }
  name = lua_tostring(L, -1);
  lua_fn *f = fn_new(L, 4);
  if (ember_autograd_custom(name, nin, in, nout, out, call_function_backward, f, fn_free) != EMBER_OK)
    return lember_raise(L);
  return 0;
}

/* ember.autograd.queue_callback(fn): fn() runs once the running backward is done */
static int m_queue_callback(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_fn *f = fn_new(L, 1);
  if (ember_autograd_queue_callback(call_callback, f, fn_free) != EMBER_OK) return lember_raise(L);
  return 0;
}

static int m_live_nodes(lua_State *L) {
  lua_pushinteger(L, ember_autograd_live_nodes());
  return 1;
}

/* }====== */

static const luaL_Reg methods[] = {
  {"backward", t_backward},
  {"detach", t_detach},
  {"detach_", t_detach_},
  {"requires_grad_", t_requires_grad_},
  {"register_hook", t_register_hook},
  {"register_post_accumulate_grad_hook", t_register_post_accumulate_grad_hook},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"no_grad", m_no_grad},
  {"enable_grad", m_enable_grad},
  {"set_grad_enabled", m_set_grad_enabled},
  {"is_grad_enabled", m_is_grad_enabled},
  {NULL, NULL}
};

void lember_open_autograd(lua_State *L, int module, int methods_idx) {
  lua_pushvalue(L, methods_idx);
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 1);
  lua_pushvalue(L, module);
  luaL_setfuncs(L, module_funcs, 0);
  lua_newtable(L);                               /* ember.autograd */
  lua_newtable(L);                               /* interned Function names */
  lua_pushcclosure(L, m_link, 1);
  lua_setfield(L, -2, "_link");
  lua_pushcfunction(L, m_queue_callback);
  lua_setfield(L, -2, "queue_callback");
  lua_pushcfunction(L, m_live_nodes);
  lua_setfield(L, -2, "_live_nodes");
  lua_setfield(L, -2, "autograd");
  lua_pop(L, 1);
}
