/*
** l_export.c — the C half of ember.export (stdlib/ember/export.lua has the rest):
** tracers, graphs and the runtime's programs as Lua objects, in ember._export.
** Lua holds the policy (what to trace, which passes, the second traces for dynamic
** dims); this file only moves tensors and graphs across.
*/
#include <stdlib.h>
#include <string.h>

#include "lember.h"
#include "graph.h"
#include "rt.h"

#define TRACER_MT "ember.tracer"
#define GRAPH_MT "ember.graph"
#define PROGRAM_MT "ember.program"

typedef struct l_tracer { ember_tracer *tr; } l_tracer;
typedef struct l_graph { ember_graph *g; ember_plan *plan; } l_graph;
typedef struct l_program { ember_rt_program *p; } l_program;

/* {====== tracers */

static ember_tracer *check_tracer(lua_State *L, int idx) {
  l_tracer *u = luaL_checkudata(L, idx, TRACER_MT);
  if (u->tr == NULL) luaL_error(L, "export: the trace has ended");
  return u->tr;
}

static int trace_begin(lua_State *L) {
  l_tracer *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->tr = NULL;
  luaL_setmetatable(L, TRACER_MT);
  if ((u->tr = ember_trace_begin()) == NULL) return lember_raise(L);
  return 1;
}

static int tracer_input(lua_State *L) {
  ember_tracer *tr = check_tracer(L, 1);
  const char *name = luaL_checkstring(L, 2);
  if (ember_trace_input(tr, name, lember_check(L, 3)) < 0) return lember_raise(L);
  return 0;
}

static int tracer_name(lua_State *L) {
  ember_tracer *tr = check_tracer(L, 1);
  ember_trace_name(tr, lember_check(L, 2), luaL_checkstring(L, 3));
  return 0;
}

static void push_graph(lua_State *L, ember_graph *g) {
  l_graph *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->g = g;
  u->plan = NULL;
  luaL_setmetatable(L, GRAPH_MT);
}

/* finish(outputs, names) -> graph */
static int tracer_finish(lua_State *L) {
  l_tracer *u = luaL_checkudata(L, 1, TRACER_MT);
  ember_tracer *tr = check_tracer(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = (int)lua_rawlen(L, 2);
  ember_tensor **outs = lua_newuserdatauv(L, sizeof *outs * (size_t)(n + 1), 0);
  const char **names = lua_newuserdatauv(L, sizeof *names * (size_t)(n + 1), 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    outs[i] = lember_test(L, -1);
    if (outs[i] == NULL) {
      ember_trace_abort(tr);
      u->tr = NULL;
      return luaL_error(L, "export: output %d is a %s, not a tensor", i + 1, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    names[i] = NULL;
    if (lua_istable(L, 3)) {
      lua_rawgeti(L, 3, i + 1);
      names[i] = lua_tostring(L, -1);   /* kept alive by the table */
      lua_pop(L, 1);
    }
  }
  u->tr = NULL;
  ember_graph *g = ember_trace_end(tr, n, outs, names);
  if (g == NULL) return lember_raise(L);
  push_graph(L, g);
  return 1;
}

static int tracer_abort(lua_State *L) {
  l_tracer *u = luaL_checkudata(L, 1, TRACER_MT);
  if (u->tr) ember_trace_abort(u->tr);
  u->tr = NULL;
  return 0;
}

/* }====== */

/* {====== graphs */

static l_graph *check_graph(lua_State *L, int idx) {
  l_graph *u = luaL_checkudata(L, idx, GRAPH_MT);
  if (u->g == NULL) luaL_error(L, "export: the graph is closed");
  return u;
}

static void drop_plan(l_graph *u) {
  ember_plan_free(u->plan);
  u->plan = NULL;
}

static int graph_gc(lua_State *L) {
  l_graph *u = luaL_checkudata(L, 1, GRAPH_MT);
  drop_plan(u);
  ember_graph_free(u->g);
  u->g = NULL;
  return 0;
}

static int graph_dump(lua_State *L) {
  char *s = ember_graph_dump(check_graph(L, 1)->g);
  if (s == NULL) return lember_raise(L);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

static int graph_count(lua_State *L) {
  lua_pushinteger(L, ember_graph_count(check_graph(L, 1)->g, luaL_optstring(L, 2, NULL)));
  return 1;
}

static int graph_optimize(lua_State *L) {
  l_graph *u = check_graph(L, 1);
  drop_plan(u);
  if (ember_graph_optimize(u->g, luaL_optstring(L, 2, "")) != EMBER_OK) return lember_raise(L);
  return 0;
}

/* run(pass) for one pass by name: its count of changes */
static int graph_pass(lua_State *L) {
  l_graph *u = check_graph(L, 1);
  const char *name = luaL_checkstring(L, 2);
  static const struct { const char *name; int (*fn)(ember_graph *); } passes[] = {
    {"dce", ember_pass_dce}, {"fold", ember_pass_fold}, {"cse", ember_pass_cse},
    {"fold_bn", ember_pass_fold_bn}, {"fuse", ember_pass_fuse},
  };
  for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++)
    if (strcmp(passes[i].name, name) == 0) {
      drop_plan(u);
      int n = passes[i].fn(u->g);
      if (n < 0) return lember_raise(L);
      ember_graph_compact(u->g);
      lua_pushinteger(L, n);
      return 1;
    }
  return luaL_error(L, "export: no pass named \"%s\"", name);
}

/* add_dim(name, max, traced) -> its 1-based index */
static int graph_add_dim(lua_State *L) {
  ember_graph *g = check_graph(L, 1)->g;
  const char *name = luaL_checkstring(L, 2);
  if (g->nsyms == EMBER_GRAPH_MAX_SYMS) return luaL_error(L, "export: at most %d dynamic dims", EMBER_GRAPH_MAX_SYMS);
  size_t len = strlen(name) + 1;
  char *s = malloc(len);
  if (s == NULL) return luaL_error(L, "export: out of memory");
  memcpy(s, name, len);
  g->syms[g->nsyms].name = s;
  g->syms[g->nsyms].max = luaL_checkinteger(L, 3);
  g->syms[g->nsyms].traced = luaL_checkinteger(L, 4);
  lua_pushinteger(L, ++g->nsyms);
  return 1;
}

/* unify(other, dim index (1-based), size here, size there) */
static int graph_unify(lua_State *L) {
  ember_graph *g = check_graph(L, 1)->g;
  ember_graph *h = check_graph(L, 2)->g;
  if (ember_graph_unify(g, h, (int)luaL_checkinteger(L, 3) - 1, luaL_checkinteger(L, 4),
                        luaL_checkinteger(L, 5)) != EMBER_OK)
    return lember_raise(L);
  return 0;
}

static int graph_plan(lua_State *L) {
  l_graph *u = check_graph(L, 1);
  drop_plan(u);
  if ((u->plan = ember_plan_make(u->g)) == NULL) return lember_raise(L);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, u->plan->arena_bytes);
  lua_setfield(L, -2, "arena");
  lua_pushinteger(L, u->plan->naive_bytes);
  lua_setfield(L, -2, "naive");
  return 1;
}

/* save(path, workspace, threads, metadata) */
static int graph_save(lua_State *L) {
  l_graph *u = check_graph(L, 1);
  const char *path = luaL_checkstring(L, 2);
  if (u->plan == NULL) return luaL_error(L, "export: plan the graph before saving it");
  u->plan->workspace_bytes = luaL_optinteger(L, 3, 0);
  u->plan->workspace_threads = (int)luaL_optinteger(L, 4, 1);
  int nmeta = 0;
  const char **keys = NULL, **vals = NULL;
  if (lua_istable(L, 5)) {
    for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1)) nmeta++;
    keys = lua_newuserdatauv(L, sizeof *keys * (size_t)(nmeta + 1), 0);
    vals = lua_newuserdatauv(L, sizeof *vals * (size_t)(nmeta + 1), 0);
    int i = 0;
    for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "export: metadata keys and values must be strings");
      keys[i] = lua_tostring(L, -2);
      vals[i++] = lua_tostring(L, -1);
    }
  }
  if (ember_program_save(path, u->g, u->plan, nmeta, keys, vals) != EMBER_OK) return lember_raise(L);
  return 0;
}

static int graph_info(lua_State *L) {
  ember_graph *g = check_graph(L, 1)->g;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, ember_graph_count(g, NULL));
  lua_setfield(L, -2, "nodes");
  lua_pushinteger(L, g->nvalues);
  lua_setfield(L, -2, "values");
  int nconst = 0;
  for (int v = 0; v < g->nvalues; v++) nconst += g->values[v].kind == EMBER_GV_CONST;
  lua_pushinteger(L, nconst);
  lua_setfield(L, -2, "constants");
  lua_pushinteger(L, g->index_base);
  lua_setfield(L, -2, "index_base");
  return 1;
}

/* }====== */

/* {====== programs (the runtime) */

static ember_rt_program *check_program(lua_State *L, int idx) {
  l_program *u = luaL_checkudata(L, idx, PROGRAM_MT);
  if (u->p == NULL) luaL_error(L, "program: closed");
  return u->p;
}

/* The runtime's message as it is: no Lua position in front of it. */
static int program_raise(lua_State *L) {
  lua_pushstring(L, ember_rt_last_error());
  return lua_error(L);
}

/* rt_load(path, device) */
static int rt_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *dev = luaL_optstring(L, 2, "cpu");
  ember_rt_options opts = {0};
  if (strcmp(dev, "vulkan") == 0) opts.device = EMBER_RT_VULKAN;
  else if (strcmp(dev, "cpu") != 0) return luaL_error(L, "program: device must be \"cpu\" or \"vulkan\", got \"%s\"", dev);
  l_program *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->p = NULL;
  luaL_setmetatable(L, PROGRAM_MT);
  if ((u->p = ember_rt_load(path, &opts)) == NULL) return program_raise(L);
  return 1;
}

static int program_gc(lua_State *L) {
  l_program *u = luaL_checkudata(L, 1, PROGRAM_MT);
  ember_rt_free(u->p);
  u->p = NULL;
  return 0;
}

static void push_info(lua_State *L, const ember_rt_tensor_info *info) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, info->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, info->dtype);
  lua_setfield(L, -2, "dtype");
  lua_pushboolean(L, info->is_index);
  lua_setfield(L, -2, "index");
  lua_createtable(L, info->ndim, 0);
  lua_createtable(L, info->ndim, 0);
  lua_createtable(L, info->ndim, 0);
  for (int d = 0; d < info->ndim; d++) {
    lua_pushinteger(L, info->shape[d]);
    lua_rawseti(L, -4, d + 1);
    lua_pushinteger(L, info->max_shape[d]);
    lua_rawseti(L, -3, d + 1);
    if (info->dim_names[d]) lua_pushstring(L, info->dim_names[d]);
    else lua_pushboolean(L, 0);
    lua_rawseti(L, -2, d + 1);
  }
  lua_setfield(L, -4, "dims");
  lua_setfield(L, -3, "max_shape");
  lua_setfield(L, -2, "shape");
}

static int program_io(lua_State *L, int outputs) {
  ember_rt_program *p = check_program(L, 1);
  int n = outputs ? ember_rt_output_count(p) : ember_rt_input_count(p);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    ember_rt_tensor_info info;
    if (outputs) ember_rt_output_info(p, i, &info);
    else ember_rt_input_info(p, i, &info);
    push_info(L, &info);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int program_inputs(lua_State *L) { return program_io(L, 0); }
static int program_outputs(lua_State *L) { return program_io(L, 1); }

/* Copy Lua tensor t into input i; index values go from Lua's 1-based to 0-based. */
static void set_input(lua_State *L, ember_rt_program *p, int i, ember_tensor *t) {
  ember_rt_tensor_info info;
  ember_rt_input_info(p, i, &info);
  if (strcmp(ember_dtype_name(t->dtype), info.dtype) != 0)
    luaL_error(L, "program: input %d (%s) must be %s, got %s", i + 1, info.name, info.dtype,
               ember_dtype_name(t->dtype));
  if (ember_rt_set_input_shape(p, i, t->ndim, t->shape) != EMBER_RT_OK) program_raise(L);
  ember_tensor *h = ember_to_device(t, EMBER_CPU);
  ember_tensor *c = h ? ember_contiguous(h) : NULL;
  ember_tensor_release(h);
  if (c == NULL) lember_raise(L);
  void *dst = ember_rt_input_data(p, i);
  int64_t n = ember_tensor_numel(c);
  size_t es = ember_dtype_size(c->dtype);
  const char *src = ember_tensor_data(c);
  if (info.is_index)
    for (int64_t k = 0; k < n; k++)
      ember_store_i64(c->dtype, (char *)dst + k * es, ember_load_i64(c->dtype, src + k * es) - 1);
  else if (n)
    memcpy(dst, src, (size_t)n * es);
  ember_tensor_release(c);
}

/* run(inputs) -> outputs table */
static int program_run(lua_State *L) {
  ember_rt_program *p = check_program(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int nin = ember_rt_input_count(p);
  if ((int)lua_rawlen(L, 2) != nin)
    return luaL_error(L, "program: takes %d inputs, got %d", nin, (int)lua_rawlen(L, 2));
  for (int i = 0; i < nin; i++) {
    lua_rawgeti(L, 2, i + 1);
    set_input(L, p, i, lember_check(L, -1));
    lua_pop(L, 1);
  }
  if (ember_rt_execute(p) != EMBER_RT_OK) return program_raise(L);
  int nout = ember_rt_output_count(p);
  lua_createtable(L, nout, 0);
  for (int i = 0; i < nout; i++) {
    ember_rt_tensor_info info;
    ember_rt_output_info(p, i, &info);
    ember_dtype dt = ember_dtype_from_name(info.dtype);
    ember_tensor *t = ember_tensor_empty(dt, info.ndim, info.shape);
    if (t == NULL) return lember_raise(L);
    if (ember_rt_get_output(p, i, ember_tensor_data(t), ember_tensor_nbytes(t)) != EMBER_RT_OK) {
      ember_tensor_release(t);
      return program_raise(L);
    }
    if (info.is_index) {
      int64_t n = ember_tensor_numel(t);
      char *d = ember_tensor_data(t);
      for (int64_t k = 0; k < n; k++) ember_store_i64(dt, d + k * info.elem_size, ember_load_i64(dt, d + k * info.elem_size) + 1);
    }
    lember_push(L, t);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int program_sizes(lua_State *L) {
  ember_rt_program *p = check_program(L, 1);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)ember_rt_arena_size(p));
  lua_setfield(L, -2, "arena");
  lua_pushinteger(L, (lua_Integer)p->arena_bytes);
  lua_setfield(L, -2, "intermediates");
  lua_pushinteger(L, (lua_Integer)p->workspace_bytes);
  lua_setfield(L, -2, "workspace");
  lua_pushinteger(L, (lua_Integer)p->naive_bytes);
  lua_setfield(L, -2, "naive");
  lua_pushinteger(L, (lua_Integer)ember_rt_weights_size(p));
  lua_setfield(L, -2, "weights");
  lua_pushinteger(L, (lua_Integer)p->scratch_overflows);
  lua_setfield(L, -2, "scratch_overflows");
  lua_pushinteger(L, (lua_Integer)rt_vulkan_records(p));   /* graph recordings on vulkan */
  lua_setfield(L, -2, "records");
  return 1;
}

/* measure_workspace() -> bytes of kernel scratch one execute at the bounds asks for */
static int program_measure(lua_State *L) {
  ember_rt_program *p = check_program(L, 1);
  int64_t peak = 0;
  if (rt_measure_workspace(p, &peak) != EMBER_RT_OK) return program_raise(L);
  lua_pushinteger(L, peak);
  return 1;
}

static int program_profile(lua_State *L) {
  ember_rt_program *p = check_program(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    ember_rt_set_profiling(p, lua_toboolean(L, 2));
    return 0;
  }
  int n = ember_rt_node_count(p);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    const char *op;
    double s;
    int64_t calls;
    ember_rt_profile(p, i, &op, &s, &calls);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, op);
    lua_setfield(L, -2, "op");
    lua_pushnumber(L, s);
    lua_setfield(L, -2, "seconds");
    lua_pushinteger(L, calls);
    lua_setfield(L, -2, "calls");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* }====== */

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  if (gc) {
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
}

void lember_open_export(lua_State *L, int module) {
  static const luaL_Reg tracer[] = {
    {"input", tracer_input}, {"name", tracer_name}, {"finish", tracer_finish},
    {"abort", tracer_abort}, {NULL, NULL}};
  static const luaL_Reg graph[] = {
    {"dump", graph_dump}, {"count", graph_count}, {"optimize", graph_optimize},
    {"pass", graph_pass}, {"add_dim", graph_add_dim}, {"unify", graph_unify},
    {"plan", graph_plan}, {"save", graph_save}, {"info", graph_info}, {NULL, NULL}};
  static const luaL_Reg program[] = {
    {"run", program_run}, {"inputs", program_inputs}, {"outputs", program_outputs},
    {"sizes", program_sizes}, {"measure_workspace", program_measure},
    {"profile", program_profile}, {"close", program_gc}, {NULL, NULL}};
  new_class(L, TRACER_MT, tracer, tracer_abort);
  new_class(L, GRAPH_MT, graph, graph_gc);
  new_class(L, PROGRAM_MT, program, program_gc);
  static const luaL_Reg fns[] = {{"trace_begin", trace_begin}, {"rt_load", rt_load}, {NULL, NULL}};
  lua_newtable(L);
  luaL_setfuncs(L, fns, 0);
  lua_setfield(L, module, "_export");
}
