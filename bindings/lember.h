/*
** lember.h — internal API of the Lua bindings (the module `ember`).
** Statics are named by role as in Lua's own libraries: m_* module functions,
** t_* tensor methods, op_* the generated op closures.
*/
#ifndef LEMBER_H
#define LEMBER_H

#include <lua.h>
#include <lauxlib.h>

#include "ember.h"
#include "ops.h"

#define EMBER_TENSOR_MT "ember.Tensor"

/* The userdata: one pointer, NULL once the tensor is closed or collected. */
typedef struct l_tensor { ember_tensor *t; } l_tensor;

/* Push t as a new Lua tensor; takes over the caller's reference. On t == NULL it
** raises the last ember error (so `return lember_push(L, ember_x(...))` is safe). */
int lember_push(lua_State *L, ember_tensor *t);
/* The tensor at idx, or a Lua error naming the argument. */
ember_tensor *lember_check(lua_State *L, int idx);
/* The userdata at idx if it is a tensor (possibly closed), else NULL. */
l_tensor *lember_toud(lua_State *L, int idx);
/* The tensor at idx, or NULL if it is not a tensor. */
ember_tensor *lember_test(lua_State *L, int idx);
/* Raise ember_last_error() as a Lua error. */
int lember_raise(lua_State *L);
/* A wrapped-number tensor for a Lua number (i64 for integers, f64 for floats). */
ember_tensor *lember_wrap_number(lua_State *L, int idx);

/* Run an op by name on tensors from C code of the bindings; pushes outputs. */
int lember_run(lua_State *L, const char *name, int nin, ember_tensor **in, const char *attrs);

/* Registration of each part into the module table (at -1) and the methods table. */
void lember_open_tensor(lua_State *L, int module, int methods);
void lember_open_ops(lua_State *L, int module, int methods);
void lember_open_index(lua_State *L, int methods);
void lember_open_safetensors(lua_State *L, int module);
void lember_open_autograd(lua_State *L, int module, int methods);
void lember_open_sys(lua_State *L, int module);
void lember_open_device(lua_State *L, int module);
void lember_open_export(lua_State *L, int module);
void lember_open_dist(lua_State *L, int module);

/* Autograd fields of a tensor (l_autograd.c): t.grad, t.requires_grad, t.is_leaf,
** t.grad_fn. get pushes the value, set assigns from stack index v; both return 0
** when key is not such a field. */
int lember_autograd_get(lua_State *L, ember_tensor *t, const char *key);
int lember_autograd_set(lua_State *L, ember_tensor *t, const char *key, int v);

/* Tell the collector about heap storage it cannot see; called after allocations. */
void lember_gc_pace(lua_State *L);

/* Prepend ember's Lua library directory to package.path (host.c). */
void lember_set_path(lua_State *L);

int luaopen_ember(lua_State *L);

#endif
