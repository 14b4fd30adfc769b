/*
** l_device.c — devices from Lua: ember.set_default_device / get_default_device, and
** ember.vk: sync(), available(), info(), validation_messages().
** (t:device() and t:to("vulkan") are in l_tensor.c and the op table.)
*/
#include <string.h>

#include "lember.h"

/* host/vk's internals the Lua side reports (ember.h has the public part) */
int ember_vk_started(void);
const char *ember_vk_validation_message(unsigned i);
size_t ember_vk_pipeline_cache_loaded(void);
int ember_vk_pipeline_count(void);
void ember_vk_mark_lost(void);

static int m_set_default_device(lua_State *L) {
  ember_device dev;
  if (ember_device_parse(luaL_checkstring(L, 1), &dev) != EMBER_OK) return lember_raise(L);
  if (dev != EMBER_CPU && ember_backend_of(dev) == NULL) return lember_raise(L);
  ember_set_default_device(dev);
  return 0;
}

static int m_get_default_device(lua_State *L) {
  lua_pushstring(L, ember_device_name(ember_default_device()));
  return 1;
}

static int vk_sync(lua_State *L) {
  if (ember_vk_sync() != EMBER_OK) return lember_raise(L);
  return 0;
}

/* available() -> true, or false and why not */
static int vk_available(lua_State *L) {
  if (ember_backend_of(EMBER_VULKAN) != NULL) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, ember_last_error());
  return 2;
}

static int vk_info(lua_State *L) {
  ember_vk_info i;
  if (ember_vk_get_info(&i) != EMBER_OK) return lember_raise(L);
  lua_createtable(L, 0, 16);
  lua_pushstring(L, i.name); lua_setfield(L, -2, "name");
  lua_pushstring(L, i.type); lua_setfield(L, -2, "type");
  lua_pushinteger(L, i.index); lua_setfield(L, -2, "index");
  lua_pushboolean(L, i.has_f16); lua_setfield(L, -2, "f16");
  lua_pushboolean(L, i.has_f64); lua_setfield(L, -2, "f64");
  lua_pushinteger(L, i.subgroup_size); lua_setfield(L, -2, "subgroup_size");
  lua_pushstring(L, i.coopmat == 2 ? "VK_NV_cooperative_matrix" : i.coopmat == 1 ?
                 "VK_KHR_cooperative_matrix" : "none");
  lua_setfield(L, -2, "cooperative_matrix");
  if (i.coopmat) {
    lua_pushfstring(L, "%dx%dx%d", i.coopmat_m, i.coopmat_n, i.coopmat_k);
    lua_setfield(L, -2, "cooperative_matrix_shape");
  }
  if (i.coopmat_khr_m) {
    lua_pushfstring(L, "%dx%dx%d", i.coopmat_khr_m, i.coopmat_khr_n, i.coopmat_khr_k);
    lua_setfield(L, -2, "cooperative_matrix_khr_shape");
  }
  lua_pushboolean(L, i.validation); lua_setfield(L, -2, "validation");
  lua_pushinteger(L, (lua_Integer)i.validation_messages); lua_setfield(L, -2, "validation_messages");
  lua_pushboolean(L, i.transfer_queue); lua_setfield(L, -2, "transfer_queue");
  lua_pushboolean(L, i.failed); lua_setfield(L, -2, "failed");
  lua_pushinteger(L, (lua_Integer)i.memory_in_use); lua_setfield(L, -2, "memory_in_use");
  lua_pushinteger(L, (lua_Integer)i.max_buffer_range); lua_setfield(L, -2, "max_buffer_range");
  lua_pushinteger(L, i.blocks); lua_setfield(L, -2, "memory_blocks");
  lua_pushinteger(L, (lua_Integer)i.submits); lua_setfield(L, -2, "submits");
  lua_pushinteger(L, ember_vk_pipeline_count()); lua_setfield(L, -2, "pipelines");
  lua_pushinteger(L, (lua_Integer)ember_vk_pipeline_cache_loaded());
  lua_setfield(L, -2, "pipeline_cache_loaded");
  return 1;
}

/* the validation layer's messages kept so far (the last few), oldest first */
static int vk_validation_messages(lua_State *L) {
  lua_newtable(L);
  if (!ember_vk_started()) return 1;
  ember_vk_info i;
  ember_vk_get_info(&i);
  int n = 0;
  for (unsigned k = 0; k < i.validation_messages; k++) {
    const char *m = ember_vk_validation_message(k);
    if (m) {
      lua_pushstring(L, m);
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}

static int vk_lose_device(lua_State *L) {
  (void)L;
  ember_vk_mark_lost();
  return 0;
}

void lember_open_device(lua_State *L, int module) {
  lua_pushcfunction(L, m_set_default_device);
  lua_setfield(L, module, "set_default_device");
  lua_pushcfunction(L, m_get_default_device);
  lua_setfield(L, module, "get_default_device");
  static const luaL_Reg vkf[] = {
    {"sync", vk_sync}, {"available", vk_available}, {"info", vk_info},
    {"validation_messages", vk_validation_messages}, {"_lose_device", vk_lose_device},
    {NULL, NULL}
  };
  luaL_newlib(L, vkf);
  lua_setfield(L, module, "vk");
}
