/*
** l_sys.c — the few operating-system facts Lua's standard library does not give and
** ember's Lua library needs: whether a descriptor is a terminal and how wide it is
** (the progress bar), a monotonic clock (rates and ETAs that a changed wall clock
** cannot bend), and where the Lua library lives (the data files beside it).
*/
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lember.h"

#ifndef EMBER_STDLIB_DIR
#define EMBER_STDLIB_DIR "/usr/local/share/ember/lua"
#endif

/* ember.isatty(fd) -> boolean: fd 0, 1, 2 are stdin, stdout, stderr. */
static int m_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= 1 << 20, 1, "ember.isatty: not a file descriptor");
  lua_pushboolean(L, isatty((int)fd) == 1);
  return 1;
}

/* ember.termwidth(fd) -> columns of the terminal on fd, or nil when fd is not a
** terminal or the terminal does not say. */
static int m_termwidth(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= 1 << 20, 1, "ember.termwidth: not a file descriptor");
  struct winsize ws;
  if (ioctl((int)fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) lua_pushinteger(L, ws.ws_col);
  else lua_pushnil(L);
  return 1;
}

/* ember.monotonic() -> seconds (a float) since an arbitrary fixed point; only
** differences mean anything. */
static int m_monotonic(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return luaL_error(L, "ember.monotonic: clock_gettime failed");
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static const luaL_Reg funcs[] = {
  { "isatty", m_isatty },
  { "termwidth", m_termwidth },
  { "monotonic", m_monotonic },
  { NULL, NULL }
};

void lember_open_sys(lua_State *L, int module) {
  lua_pushvalue(L, module);
  luaL_setfuncs(L, funcs, 0);
  /* the same choice lember_set_path makes: $EMBER_STDLIB, else the configured dir */
  const char *dir = getenv("EMBER_STDLIB");
  lua_pushstring(L, dir != NULL && *dir != 0 ? dir : EMBER_STDLIB_DIR);
  lua_setfield(L, -2, "stdlib_dir");
  lua_pop(L, 1);
}
