/*
** host.c — the embedding API of ember.h section 6: a Lua state with `ember` loaded,
** scripts run from C, tensors passed in and out by pointer (no copies).
*/
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "lember.h"

#ifndef EMBER_STDLIB_DIR
#define EMBER_STDLIB_DIR "/usr/local/share/ember/lua"
#endif

struct ember_host { lua_State *L; };

/* Prepend ember's Lua library to package.path: $EMBER_STDLIB if set, else the
** directory this build was configured with. */
void lember_set_path(lua_State *L) {
  const char *dir = getenv("EMBER_STDLIB");
  if (dir == NULL || *dir == 0) dir = EMBER_STDLIB_DIR;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

ember_host *ember_host_open(void) {
  ember_host *h = malloc(sizeof *h);
  if (h == NULL) {
    ember_error("ember_host_open: out of memory");
    return NULL;
  }
  h->L = luaL_newstate();
  if (h->L == NULL) {
    free(h);
    ember_error("ember_host_open: cannot create a Lua state");
    return NULL;
  }
  luaL_openlibs(h->L);
  lember_set_path(h->L);
  luaL_requiref(h->L, "ember", luaopen_ember, 1);
  lua_pop(h->L, 1);
  return h;
}

void ember_host_close(ember_host *h) {
  if (h == NULL) return;
  lua_close(h->L);
  free(h);
}

static ember_status result(ember_host *h, int status) {
  if (status == LUA_OK) return EMBER_OK;
  ember_error("%s", lua_tostring(h->L, -1));
  lua_pop(h->L, 1);
  return EMBER_ERROR;
}

static int traceback(lua_State *L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

static ember_status run_chunk(ember_host *h, int load_status) {
  if (load_status != LUA_OK) return result(h, load_status);
  lua_pushcfunction(h->L, traceback);
  lua_insert(h->L, -2);
  int base = lua_gettop(h->L) - 1;
  int st = lua_pcall(h->L, 0, 0, base);
  lua_remove(h->L, base);
  return result(h, st);
}

ember_status ember_host_dostring(ember_host *h, const char *code, const char *chunkname) {
  return run_chunk(h, luaL_loadbuffer(h->L, code, strlen(code), chunkname ? chunkname : "=(ember)"));
}

ember_status ember_host_dofile(ember_host *h, const char *path) {
  return run_chunk(h, luaL_loadfile(h->L, path));
}

ember_status ember_host_set_tensor(ember_host *h, const char *name, ember_tensor *t) {
  if (t == NULL) return ember_error("ember_host_set_tensor: tensor is NULL");
  ember_tensor *v = ember_tensor_view_of(t, t->ndim, t->shape, t->stride, t->offset);
  if (v == NULL) return EMBER_ERROR;
  /* the view is a new header over the caller's storage: Lua may drop or reshape its
     header freely, the data stays shared */
  lember_push(h->L, v);
  lua_setglobal(h->L, name);
  return EMBER_OK;
}

ember_tensor *ember_host_get_tensor(ember_host *h, const char *name) {
  lua_getglobal(h->L, name);
  ember_tensor *t = lember_test(h->L, -1);
  if (t) ember_tensor_retain(t);
  else ember_error("ember_host_get_tensor: global \"%s\" is a %s, not a tensor", name,
                   luaL_typename(h->L, -1));
  lua_pop(h->L, 1);
  return t;
}

void *ember_host_lua(ember_host *h) {
  return h->L;
}
