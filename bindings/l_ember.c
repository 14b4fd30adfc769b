/*
** l_ember.c — luaopen_ember: the module table `ember`, the tensor metatable and the
** methods table, filled by the parts (l_tensor.c, l_ops.c, l_index.c), then the
** methods written in Lua (stdlib/ember/tensor.lua) if the path finds them.
*/
#include <string.h>

#include "lember.h"

static int m_ops(lua_State *L) {
  int n = ember_ops_count();
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    const ember_op *op = ember_op_at(i);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, op->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, op->doc ? op->doc : "");
    lua_setfield(L, -2, "doc");
    lua_pushboolean(L, op->backward != NULL);
    lua_setfield(L, -2, "differentiable");
    lua_pushboolean(L, op->vulkan != NULL);
    lua_setfield(L, -2, "vulkan");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

int luaopen_ember(lua_State *L) {
  /* Tensor code makes a userdata per op result, and nearly all of them die young (the
  ** temporaries of an expression, a training step's activations): what Lua's
  ** generational collector is for. Collecting them in minor cycles keeps their
  ** buffers warm in the block cache; the digits MLP step took 35-37 us this way
  ** against 43-45 us with the incremental collector. */
  lua_gc(L, LUA_GCGEN, 0, 0);
  lua_newtable(L);                                  /* module */
  int module = lua_gettop(L);
  lua_newtable(L);                                  /* methods */
  int methods = lua_gettop(L);
  luaL_newmetatable(L, EMBER_TENSOR_MT);
  lua_pop(L, 1);
  lember_open_tensor(L, module, methods);
  lember_open_ops(L, module, methods);
  lember_open_index(L, methods);
  lember_open_safetensors(L, module);
  lember_open_autograd(L, module, methods);
  lember_open_sys(L, module);
  lember_open_device(L, module);
  lember_open_export(L, module);
  lember_open_dist(L, module);
  lua_pushcfunction(L, m_ops);
  lua_setfield(L, module, "ops");
  lua_pushliteral(L, EMBER_VERSION);
  lua_setfield(L, module, "version");
  lua_pushvalue(L, methods);
  lua_setfield(L, module, "Tensor");                /* methods, for Lua-side additions */
  lua_settop(L, module);
  /* register before the Lua part runs: it requires "ember" itself */
  lua_pushvalue(L, module);
  lua_setfield(L, LUA_REGISTRYINDEX, "ember.module");
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, module);
  lua_setfield(L, -2, "ember");
  lua_pop(L, 1);
  /* methods written in Lua; optional so the C module works alone */
  static const char *const parts[] = { "ember.tensor", "ember.safetensors", "ember.autograd", "ember.export" };
  for (int i = 0; i < 4; i++) {
    lua_getglobal(L, "require");
    lua_pushstring(L, parts[i]);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      const char *msg = lua_tostring(L, -1);
      if (msg && !strstr(msg, "not found")) lua_error(L);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, module);
  return 1;
}
