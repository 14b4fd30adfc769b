/*
** l_dist.c — the collectives of host/dist as the table ember._dist, which
** stdlib/ember/dist (the module ember.dist) wraps. Ranks here are 0-based as in C;
** the Lua module adds 1. Each collective takes a last argument `async`: false runs it
** to completion, true returns a work userdata ("ember.dist.Work") with test(), wait()
** and source(). After it, an optional `check`: false skips the ranks' agreement check
** for this call (DDP's buckets, whose layout was checked once), true forces it, nil
** keeps the job's setting.
**
** A work keeps the Lua tensors it involves alive (its user values) until it completes,
** so a tensor being filled by an asynchronous call cannot be collected under it; the
** core holds its own references too. __gc and __close share one finalizer, which frees
** the work (the core waits for it first if it is still running).
**
** Errors are raised as host/dist's message alone, with no position: ember.dist
** raises them again at its caller's line, which is the one worth reading.
**
** The process leaves the job when the last Lua state that opened ember closes: a
** sentinel userdata in the registry finalizes from its __gc.
*/
#include <stdatomic.h>
#include <string.h>

#include "lember.h"

#define WORK_MT "ember.dist.Work"

/* The user values of a work: the tensors (out and in), and the error message once
** it failed, kept because ember_last_error() is overwritten by the next call. */
enum { UV_OUT = 1, UV_IN, UV_ERROR, UV_COUNT = UV_ERROR };

typedef struct l_work {
  ember_dist_work *w;   /* NULL once freed */
  int done;             /* completed (successfully or not): results are in place */
  int failed;
} l_work;

static const char *const op_names[] = { "sum", "avg", "max", "min", "prod", NULL };

static ember_reduce_op check_op(lua_State *L, int idx) {
  return (ember_reduce_op)luaL_checkoption(L, idx, NULL, op_names);
}

/* A rank as the core takes it: host/dist says when it is not one of the job's, and
** a broadcast with a bad root still takes part in the ranks' agreement check. */
static int check_rank(lua_State *L, int idx) {
  lua_Integer r = luaL_checkinteger(L, idx);
  luaL_argcheck(L, r >= -1 && r <= 0x7fffffff, idx, "not a rank");
  return (int)r;
}

static int check_tag(lua_State *L, int idx) {
  lua_Integer tag = luaL_optinteger(L, idx, 0);
  luaL_argcheck(L, tag >= 0 && tag <= 0x7fffffff, idx, "tag must be >= 0");
  return (int)tag;
}

/* ember_last_error() as a Lua error, without lember_raise's position (see the top) */
static int raise_last(lua_State *L) {
  lua_pushstring(L, ember_last_error());
  return lua_error(L);
}

/* {====== the work userdata */

static l_work *check_work(lua_State *L) {
  l_work *u = luaL_checkudata(L, 1, WORK_MT);
  if (u->w == NULL) luaL_argerror(L, 1, "work was freed");
  return u;
}

/* The userdata made before the call starts, so that running out of memory here
** cannot leak a work already started. out and in are stack indices or 0. */
static l_work *new_work(lua_State *L, int out, int in) {
  l_work *u = lua_newuserdatauv(L, sizeof *u, UV_COUNT);
  u->w = NULL;
  u->done = u->failed = 0;
  luaL_setmetatable(L, WORK_MT);
  if (out) {
    lua_pushvalue(L, out);
    lua_setiuservalue(L, -2, UV_OUT);
  }
  if (in) {
    lua_pushvalue(L, in);
    lua_setiuservalue(L, -2, UV_IN);
  }
  return u;
}

/* The work u at stack index idx completed: its tensors may go; a failure keeps its
** message for later calls. */
static void finish(lua_State *L, int idx, l_work *u, int ok) {
  u->done = 1;
  lua_pushnil(L);
  lua_setiuservalue(L, idx, UV_OUT);
  lua_pushnil(L);
  lua_setiuservalue(L, idx, UV_IN);
  if (!ok) {
    u->failed = 1;
    lua_pushstring(L, ember_last_error());
    lua_setiuservalue(L, idx, UV_ERROR);
  }
}

/* Waits for the work u at idx; raises if it failed. */
static void wait_work(lua_State *L, int idx, l_work *u) {
  if (!u->done) finish(L, idx, u, ember_dist_wait(u->w) == EMBER_OK);
  if (u->failed) {
    lua_getiuservalue(L, idx, UV_ERROR);
    lua_error(L);
  }
}

/* test() -> true once done, false while running; raises if it failed */
static int w_test(lua_State *L) {
  l_work *u = check_work(L);
  if (!u->done) {
    int r = ember_dist_test(u->w);
    if (r == 0) {
      lua_pushboolean(L, 0);
      return 1;
    }
    finish(L, 1, u, r > 0);
  }
  wait_work(L, 1, u);   /* done: returns at once, or raises the failure */
  lua_pushboolean(L, 1);
  return 1;
}

/* wait(): returns when done; raises if it failed */
static int w_wait(lua_State *L) {
  wait_work(L, 1, check_work(L));
  return 0;
}

/* source() -> the sender of a completed recv, 0-based */
static int w_source(lua_State *L) {
  l_work *u = check_work(L);
  lua_pushinteger(L, ember_dist_work_source(u->w));
  return 1;
}

static int w_gc(lua_State *L) {
  l_work *u = luaL_checkudata(L, 1, WORK_MT);
  if (u->w) {
    ember_dist_work_free(u->w);
    u->w = NULL;
  }
  return 0;
}

static int w_tostring(lua_State *L) {
  l_work *u = luaL_checkudata(L, 1, WORK_MT);
  lua_pushfstring(L, "ember.dist.Work (%s)", u->w == NULL ? "freed" : u->failed ? "failed" :
                  u->done ? "done" : "started");
  return 1;
}

/* }====== */

/* {====== collectives
** Each pushes its work when async is true (the last argument); the caller of run()
** has made the userdata beforehand with new_work. */

#define ASYNC(L, i) lua_toboolean(L, i)

/* The per-call check at idx (see the top): the job's setting is read when a call
** makes its work, so it is set around the call and put back. */
static int set_check(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) {
    int now = ember_dist_set_check(1);
    ember_dist_set_check(now);
    return now;
  }
  return ember_dist_set_check(lua_toboolean(L, idx));
}

/* Finishes a call: raises on failure; returns the work (async) or nothing. */
static int result(lua_State *L, l_work *u, ember_dist_work *w, ember_status st) {
  if (u) u->w = w;
  if (st != EMBER_OK) {
    if (u && u->w) {   /* not expected: a failed start hands back no work */
      ember_dist_work_free(u->w);
      u->w = NULL;
    }
    return raise_last(L);
  }
  return u ? 1 : 0;
}

static int d_barrier(lua_State *L) {
  l_work *u = ASYNC(L, 1) ? new_work(L, 0, 0) : NULL;
  ember_dist_work *w = NULL;
  int check = set_check(L, 2);
  ember_status st = ember_dist_barrier(u ? &w : NULL);
  ember_dist_set_check(check);
  return result(L, u, w, st);
}

/* allreduce(t, op, async, check) */
static int d_allreduce(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  ember_reduce_op op = check_op(L, 2);
  l_work *u = ASYNC(L, 3) ? new_work(L, 1, 0) : NULL;
  ember_dist_work *w = NULL;
  int check = set_check(L, 4);
  ember_status st = ember_dist_allreduce(t, op, u ? &w : NULL);
  ember_dist_set_check(check);
  return result(L, u, w, st);
}

/* broadcast(t, root, async, check) */
static int d_broadcast(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  int root = check_rank(L, 2);
  l_work *u = ASYNC(L, 3) ? new_work(L, 1, 0) : NULL;
  ember_dist_work *w = NULL;
  int check = set_check(L, 4);
  ember_status st = ember_dist_broadcast(t, root, u ? &w : NULL);
  ember_dist_set_check(check);
  return result(L, u, w, st);
}

/* allgather(out, in, async, check) */
static int d_allgather(lua_State *L) {
  ember_tensor *out = lember_check(L, 1), *in = lember_check(L, 2);
  l_work *u = ASYNC(L, 3) ? new_work(L, 1, 2) : NULL;
  ember_dist_work *w = NULL;
  int check = set_check(L, 4);
  ember_status st = ember_dist_allgather(out, in, u ? &w : NULL);
  ember_dist_set_check(check);
  return result(L, u, w, st);
}

/* reduce_scatter(out, in, op, async, check) */
static int d_reduce_scatter(lua_State *L) {
  ember_tensor *out = lember_check(L, 1), *in = lember_check(L, 2);
  ember_reduce_op op = check_op(L, 3);
  l_work *u = ASYNC(L, 4) ? new_work(L, 1, 2) : NULL;
  ember_dist_work *w = NULL;
  int check = set_check(L, 5);
  ember_status st = ember_dist_reduce_scatter(out, in, op, u ? &w : NULL);
  ember_dist_set_check(check);
  return result(L, u, w, st);
}

/* all_to_all(out, in, async, check) */
static int d_all_to_all(lua_State *L) {
  ember_tensor *out = lember_check(L, 1), *in = lember_check(L, 2);
  l_work *u = ASYNC(L, 3) ? new_work(L, 1, 2) : NULL;
  ember_dist_work *w = NULL;
  int check = set_check(L, 4);
  ember_status st = ember_dist_all_to_all(out, in, u ? &w : NULL);
  ember_dist_set_check(check);
  return result(L, u, w, st);
}

/* send(t, dst, tag, async) */
static int d_send(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  int dst = check_rank(L, 2), tag = check_tag(L, 3);
  l_work *u = ASYNC(L, 4) ? new_work(L, 0, 1) : NULL;
  ember_dist_work *w = NULL;
  ember_status st = ember_dist_send(t, dst, tag, u ? &w : NULL);
  return result(L, u, w, st);
}

/* recv(t, src, tag, async) -> the sender (blocking) or a work; src -1: any sender.
** The blocking form from any sender runs as a work waited for here: only a work
** knows who sent. */
static int d_recv(lua_State *L) {
  ember_tensor *t = lember_check(L, 1);
  int src = check_rank(L, 2), tag = check_tag(L, 3);
  int async = ASYNC(L, 4);
  if (!async && src >= 0) {
    if (ember_dist_recv(t, src, tag, NULL) != EMBER_OK) return raise_last(L);
    lua_pushinteger(L, src);
    return 1;
  }
  l_work *u = new_work(L, 1, 0);
  int idx = lua_gettop(L);
  ember_dist_work *w = NULL;
  ember_status st = ember_dist_recv(t, src, tag, &w);
  result(L, u, w, st);
  if (async) return 1;
  wait_work(L, idx, u);   /* on failure the collector frees the work */
  lua_pushinteger(L, ember_dist_work_source(u->w));
  ember_dist_work_free(u->w);
  u->w = NULL;
  return 1;
}

/* }====== */

/* {====== the job */

/* init{timeout = s, check = bool, backend = "mpi" | "local"}; every field optional */
static int d_init(lua_State *L) {
  ember_dist_options o = { 0, -1, NULL };
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "timeout") != LUA_TNIL) {
      luaL_argcheck(L, lua_isnumber(L, -1) && lua_tonumber(L, -1) > 0, 1,
                    "timeout must be a number of seconds > 0");
      o.timeout = lua_tonumber(L, -1);
    }
    if (lua_getfield(L, 1, "check") != LUA_TNIL) o.check = lua_toboolean(L, -1);
    if (lua_getfield(L, 1, "backend") != LUA_TNIL) {
      luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "backend must be a string");
      o.backend = lua_tostring(L, -1);
    }
  }
  if (ember_dist_init(&o) != EMBER_OK) return raise_last(L);
  return 0;
}

static int d_initialized(lua_State *L) {
  lua_pushboolean(L, ember_dist_initialized());
  return 1;
}

static int d_rank(lua_State *L) { lua_pushinteger(L, ember_dist_rank()); return 1; }
static int d_world_size(lua_State *L) { lua_pushinteger(L, ember_dist_world_size()); return 1; }
static int d_local_rank(lua_State *L) { lua_pushinteger(L, ember_dist_local_rank()); return 1; }
static int d_local_size(lua_State *L) { lua_pushinteger(L, ember_dist_local_size()); return 1; }

static int d_backend(lua_State *L) {
  lua_pushstring(L, ember_dist_backend());
  return 1;
}

static int d_finalize(lua_State *L) {
  if (ember_dist_finalize() != EMBER_OK) return raise_last(L);
  return 0;
}

static int d_abort(lua_State *L) {
  ember_dist_abort((int)luaL_optinteger(L, 1, 1));
  return 0;
}

/* Lua states alive that opened ember: the job is left when the last one closes
** (a program embedding ember may open several). */
static atomic_int states_open;

static int sentinel_gc(lua_State *L) {
  (void)L;
  if (atomic_fetch_sub(&states_open, 1) == 1 && ember_dist_initialized())
    ember_dist_finalize();   /* at close nobody is left to hear of a failure */
  return 0;
}

/* }====== */

static const luaL_Reg funcs[] = {
  { "init", d_init }, { "initialized", d_initialized }, { "rank", d_rank },
  { "world_size", d_world_size }, { "local_rank", d_local_rank },
  { "local_size", d_local_size }, { "backend", d_backend }, { "finalize", d_finalize },
  { "abort", d_abort }, { "barrier", d_barrier }, { "allreduce", d_allreduce },
  { "broadcast", d_broadcast }, { "allgather", d_allgather },
  { "reduce_scatter", d_reduce_scatter }, { "all_to_all", d_all_to_all },
  { "send", d_send }, { "recv", d_recv },
  { NULL, NULL }
};

static const luaL_Reg work_methods[] = {
  { "test", w_test }, { "wait", w_wait }, { "source", w_source }, { NULL, NULL }
};

void lember_open_dist(lua_State *L, int module) {
  if (luaL_newmetatable(L, WORK_MT)) {
    luaL_newlib(L, work_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, w_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  /* one sentinel per state, made before any work so it is finalized after them */
  if (lua_getfield(L, LUA_REGISTRYINDEX, "ember.dist.sentinel") == LUA_TNIL) {
    lua_newuserdatauv(L, 1, 0);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, sentinel_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "ember.dist.sentinel");
    atomic_fetch_add(&states_open, 1);
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_setfield(L, module, "_dist");
}
