/*
** l_safetensors.c — ember.safetensors: open (lazy file objects, slices) and the
** streaming writer. ember.load and ember.save are written in Lua over these
** (stdlib/ember/safetensors.lua).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lember.h"

#define FILE_MT "ember.SafetensorsFile"
#define SLICE_MT "ember.SafetensorsSlice"
#define WRITER_MT "ember.SafetensorsWriter"

typedef struct l_file { ember_safetensors *f; ember_device device; } l_file;
typedef struct l_writer { ember_st_writer *w; } l_writer;

static ember_safetensors *check_file(lua_State *L, int idx) {
  l_file *u = luaL_checkudata(L, idx, FILE_MT);
  if (u->f == NULL) luaL_error(L, "safetensors: the file is closed");
  return u->f;
}

/* {====== ember.safetensors.open(path [, {backend=, device=}]) */

/* Tensors for a device are read from the mapping and uploaded from there (through
** the staging buffer, or straight into mapped device memory): no host copy is made. */
static ember_st_backend opt_backend(lua_State *L, int idx, ember_device *device) {
  *device = EMBER_CPU;
  if (lua_isnoneornil(L, idx)) return EMBER_ST_MMAP;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "device");
  const char *dev = luaL_optstring(L, -1, "cpu");
  if (ember_device_parse(dev, device) != EMBER_OK)
    luaL_error(L, "safetensors: unknown device \"%s\" (cpu or vulkan)", dev);
  if (*device != EMBER_CPU && ember_backend_of(*device) == NULL) lember_raise(L);
  lua_getfield(L, idx, "backend");
  const char *b = luaL_optstring(L, -1, "mmap");
  lua_pop(L, 2);
  if (strcmp(b, "mmap") == 0) return EMBER_ST_MMAP;
  if (strcmp(b, "pread") == 0) return EMBER_ST_PREAD;
  return (ember_st_backend)luaL_error(L, "safetensors: unknown backend \"%s\" (mmap or pread)", b);
}

static int m_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ember_device device;
  ember_st_backend backend = opt_backend(L, 2, &device);
  l_file *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->f = NULL;
  u->device = device;
  luaL_setmetatable(L, FILE_MT);
  if ((u->f = ember_st_open(path, backend)) == NULL) return lember_raise(L);
  return 1;
}

/* }====== */

/* {====== file methods */

static int f_keys(lua_State *L) {
  ember_safetensors *f = check_file(L, 1);
  int n = ember_st_count(f);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, ember_st_info_at(f, i)->name);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int f_metadata(lua_State *L) {
  ember_safetensors *f = check_file(L, 1);
  int n = ember_st_metadata_count(f);
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, ember_st_metadata_value(f, i));
    lua_setfield(L, -2, ember_st_metadata_key(f, i));
  }
  return 1;
}

static const ember_st_info *check_info(lua_State *L, ember_safetensors *f, int idx) {
  const char *name = luaL_checkstring(L, idx);
  const ember_st_info *info = ember_st_find(f, name);
  if (info == NULL) luaL_error(L, "safetensors: TensorNotFound: no tensor named \"%s\"", name);
  return info;
}

static int f_info(lua_State *L) {
  ember_safetensors *f = check_file(L, 1);
  const ember_st_info *info = check_info(L, f, 2);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, ember_dtype_name(info->dtype));
  lua_setfield(L, -2, "dtype");
  lua_pushstring(L, ember_st_dtype_name(info->dtype));
  lua_setfield(L, -2, "st_dtype");
  lua_createtable(L, info->ndim, 0);
  for (int d = 0; d < info->ndim; d++) {
    lua_pushinteger(L, info->shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  lua_setfield(L, -2, "shape");
  lua_createtable(L, 2, 0);
  lua_pushinteger(L, (lua_Integer)info->begin);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, (lua_Integer)info->end);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, -2, "offsets");
  lua_pushinteger(L, info->shard + 1);
  lua_setfield(L, -2, "shard");
  return 1;
}

/* t (a view of the mapping) moved to the device the file was opened for, or t itself */
static ember_tensor *to_file_device(ember_tensor *t, ember_device device) {
  if (t == NULL || device == EMBER_CPU) return t;
  ember_tensor *d = ember_to_device(t, device);
  ember_tensor_release(t);
  return d;
}

static int f_get(lua_State *L) {
  ember_safetensors *f = check_file(L, 1);
  check_info(L, f, 2);
  ember_device device = ((l_file *)lua_touserdata(L, 1))->device;
  int r = lember_push(L, to_file_device(ember_st_get(f, lua_tostring(L, 2)), device));
  lember_gc_pace(L);
  return r;
}

static int f_close(lua_State *L) {
  l_file *u = luaL_checkudata(L, 1, FILE_MT);
  if (u->f) ember_st_close(u->f);   /* tensors already read keep the mapping alive */
  u->f = NULL;
  return 0;
}

static int f_len(lua_State *L) {
  lua_pushinteger(L, ember_st_count(check_file(L, 1)));
  return 1;
}

static int f_tostring(lua_State *L) {
  l_file *u = luaL_checkudata(L, 1, FILE_MT);
  if (u->f == NULL) lua_pushliteral(L, "[ember.safetensors file (closed)]");
  else lua_pushfstring(L, "[ember.safetensors file: %d tensors]", ember_st_count(u->f));
  return 1;
}

/* }====== */

/* {====== slices: f:slice(name)[{ {1, 10}, {1, -1, 2} }] */

static int f_slice(lua_State *L) {
  check_file(L, 1);
  check_info(L, check_file(L, 1), 2);
  lua_newuserdatauv(L, 1, 2);       /* uservalues: the file object, the name */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 2);
  luaL_setmetatable(L, SLICE_MT);
  return 1;
}

static int64_t slice_int(lua_State *L, int idx, const char *what) {
  int ok;
  lua_Integer i = lua_tointegerx(L, idx, &ok);
  if (!ok) luaL_error(L, "slice: %s must be an integer, got %s", what, luaL_typename(L, idx));
  if (i == 0) luaL_error(L, "slice: 0 is not an index (indices count from 1, or from -1 at the end)");
  return i;
}

/* One entry of the index table as a 0-based range: a number picks one element and
** drops the dim; {a, b [, step]} takes a..b inclusive (1-based, negative from the end). */
static ember_st_range to_range(lua_State *L, int idx, int k) {
  ember_st_range r = { 0, EMBER_ST_END, 1, 0 };
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int64_t i = slice_int(L, idx, "index");
    r.start = i > 0 ? i - 1 : i;
    r.drop = 1;
    return r;
  }
  if (!lua_istable(L, idx))
    luaL_error(L, "slice: entry %d is a %s (number or {a, b, step} expected)", k, luaL_typename(L, idx));
  int len = (int)lua_rawlen(L, idx);
  if (len >= 1) {
    lua_rawgeti(L, idx, 1);
    int64_t a = slice_int(L, -1, "range start");
    r.start = a > 0 ? a - 1 : a;
    r.stop = a == -1 ? EMBER_ST_END : r.start + 1;
    lua_pop(L, 1);
  }
  if (len >= 2) {
    lua_rawgeti(L, idx, 2);
    int64_t b = slice_int(L, -1, "range end");
    r.stop = b > 0 ? b : b == -1 ? EMBER_ST_END : b + 1;   /* inclusive end, exclusive stop */
    lua_pop(L, 1);
  }
  if (len >= 3) {
    lua_rawgeti(L, idx, 3);
    int ok;
    r.step = lua_tointegerx(L, -1, &ok);
    if (!ok || r.step <= 0) luaL_error(L, "slice: step must be a positive integer");
    lua_pop(L, 1);
  }
  return r;
}

static int s_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {     /* methods */
    luaL_getmetatable(L, SLICE_MT);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, lua_tostring(L, 2));
    return 1;
  }
  lua_getiuservalue(L, 1, 1);
  ember_safetensors *f = check_file(L, -1);
  ember_device device = ((l_file *)lua_touserdata(L, -1))->device;
  lua_getiuservalue(L, 1, 2);
  const char *name = lua_tostring(L, -1);
  ember_st_range ranges[EMBER_MAX_DIMS];
  int n = 0;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    ranges[n++] = to_range(L, 2, 1);
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    n = (int)lua_rawlen(L, 2);
    if (n > EMBER_MAX_DIMS) luaL_error(L, "slice: %d ranges (at most %d)", n, EMBER_MAX_DIMS);
    for (int k = 1; k <= n; k++) {
      lua_rawgeti(L, 2, k);
      ranges[k - 1] = to_range(L, lua_gettop(L), k);
      lua_pop(L, 1);
    }
  }
  /* only the slice's bytes are read; for a device file they go up from there */
  int r = lember_push(L, to_file_device(ember_st_get_slice(f, name, n, ranges), device));
  lember_gc_pace(L);
  return r;
}

static int s_shape(lua_State *L) {
  lua_getiuservalue(L, 1, 1);
  ember_safetensors *f = check_file(L, -1);
  lua_getiuservalue(L, 1, 2);
  const ember_st_info *info = check_info(L, f, lua_gettop(L));
  lua_createtable(L, info->ndim, 0);
  for (int d = 0; d < info->ndim; d++) {
    lua_pushinteger(L, info->shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  return 1;
}

static int s_dtype(lua_State *L) {
  lua_getiuservalue(L, 1, 1);
  ember_safetensors *f = check_file(L, -1);
  lua_getiuservalue(L, 1, 2);
  lua_pushstring(L, ember_dtype_name(check_info(L, f, lua_gettop(L))->dtype));
  return 1;
}

/* }====== */

/* {====== the streaming writer: ember.safetensors.writer(path, specs [, metadata]) */

static ember_dtype check_dtype(lua_State *L, int idx, const char *name) {
  const char *s = lua_tostring(L, idx);
  ember_dtype dt = s ? ember_dtype_from_name(s) : EMBER_DTYPE_NONE;
  if (dt == EMBER_DTYPE_NONE) luaL_error(L, "writer: tensor \"%s\": unknown dtype", name);
  return dt;
}

/* Reads metadata at idx into parallel arrays: first the {key, value} pairs of its
** array part, in order (for a header that must match another byte for byte), then
** its string keys, sorted (so the file does not depend on table order). The strings
** stay alive in the table itself. */
static int read_metadata(lua_State *L, int idx, const char ***keys, const char ***values) {
  *keys = *values = NULL;
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = 0, npairs = (int)lua_rawlen(L, idx);
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) n++;
  *keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof **keys, 0);   /* freed by the collector */
  *values = lua_newuserdatauv(L, (n ? n : 1) * sizeof **values, 0);
  for (int i = 1; i <= npairs; i++) {
    lua_rawgeti(L, idx, i);
    if (!lua_istable(L, -1)) luaL_error(L, "metadata: entry %d must be a {key, value} pair", i);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "metadata: entry %d must be a pair of strings", i);
    (*keys)[i - 1] = lua_tostring(L, -2);
    (*values)[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 3);             /* the strings stay referenced by the pair table */
  }
  int k = npairs;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
        lua_tointeger(L, -2) <= npairs)
      continue;
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "metadata: keys and values must be strings (key %s)", luaL_tolstring(L, -2, NULL));
    (*keys)[k] = lua_tostring(L, -2);
    (*values)[k] = lua_tostring(L, -1);
    k++;
  }
  for (int i = npairs + 1; i < k; i++)   /* insertion sort: metadata is small */
    for (int j = i; j > npairs && strcmp((*keys)[j - 1], (*keys)[j]) > 0; j--) {
      const char *t = (*keys)[j]; (*keys)[j] = (*keys)[j - 1]; (*keys)[j - 1] = t;
      t = (*values)[j]; (*values)[j] = (*values)[j - 1]; (*values)[j - 1] = t;
    }
  return k;
}

static int m_writer(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);                 /* scratch space goes above the arguments */
  int n = 0;
  for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) n++;
  ember_st_spec *specs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *specs, 0);
  int64_t *shapes = lua_newuserdatauv(L, (n ? n : 1) * EMBER_MAX_DIMS * sizeof *shapes, 0);
  int k = 0;
  for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "writer: tensor names must be strings");
    const char *name = lua_tostring(L, -2);
    if (!lua_istable(L, -1)) luaL_error(L, "writer: tensor \"%s\": {dtype=, shape=} expected", name);
    lua_getfield(L, -1, "dtype");
    ember_dtype dt = check_dtype(L, -1, name);
    lua_getfield(L, -2, "shape");
    if (!lua_istable(L, -1)) luaL_error(L, "writer: tensor \"%s\": shape must be a table", name);
    int nd = (int)lua_rawlen(L, -1);
    if (nd > EMBER_MAX_DIMS) luaL_error(L, "writer: tensor \"%s\": %d dims (at most %d)", name, nd, EMBER_MAX_DIMS);
    for (int d = 0; d < nd; d++) {
      lua_rawgeti(L, -1, d + 1);
      int ok;
      lua_Integer v = lua_tointegerx(L, -1, &ok);
      if (!ok || v < 0) luaL_error(L, "writer: tensor \"%s\": sizes must be non-negative integers", name);
      shapes[k * EMBER_MAX_DIMS + d] = v;
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
    specs[k] = (ember_st_spec){ name, dt, nd, shapes + k * EMBER_MAX_DIMS };
    k++;
  }
  const char **keys, **values;
  int nmeta = read_metadata(L, 3, &keys, &values);
  l_writer *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->w = NULL;
  luaL_setmetatable(L, WRITER_MT);
  if ((u->w = ember_st_writer_open(path, n, specs, nmeta, keys, values)) == NULL) return lember_raise(L);
  return 1;
}

static ember_st_writer *check_writer(lua_State *L) {
  l_writer *u = luaL_checkudata(L, 1, WRITER_MT);
  if (u->w == NULL) luaL_error(L, "writer: already closed");
  return u->w;
}

static int w_write(lua_State *L) {
  ember_st_writer *w = check_writer(L);
  const char *name = luaL_checkstring(L, 2);
  ember_tensor *t = lember_check(L, 3);
  if (ember_st_writer_write(w, name, t) != EMBER_OK) return lember_raise(L);
  return 0;
}

static int w_close(lua_State *L) {
  ember_st_writer *w = check_writer(L);
  ((l_writer *)lua_touserdata(L, 1))->w = NULL;
  if (ember_st_writer_close(w) != EMBER_OK) return lember_raise(L);
  return 0;
}

/* Abandons the file: the destination keeps whatever it held. Also what happens when
** an unclosed writer is collected or leaves a <close> scope by error. */
static int w_abort(lua_State *L) {
  l_writer *u = luaL_checkudata(L, 1, WRITER_MT);
  if (u->w) ember_st_writer_abort(u->w);
  u->w = NULL;
  return 0;
}

/* Leaving a <close> scope normally closes (saves); leaving it by an error aborts. */
static int w_closemm(lua_State *L) {
  l_writer *u = luaL_checkudata(L, 1, WRITER_MT);
  if (u->w == NULL) return 0;
  if (!lua_isnil(L, 2)) return w_abort(L);
  return w_close(L);
}

/* }====== */

/* ember.safetensors._save(path, names, tensors, metadata): the whole-file writer. */
static int m_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 4);                 /* scratch space goes above the arguments */
  int n = (int)lua_rawlen(L, 2);
  const char **names = lua_newuserdatauv(L, (n ? n : 1) * sizeof *names, 0);
  ember_tensor **ts = lua_newuserdatauv(L, (n ? n : 1) * sizeof *ts, 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    names[i] = lua_tostring(L, -1);
    if (names[i] == NULL) luaL_error(L, "save: tensor names must be strings");
    lua_pop(L, 1);              /* the string stays alive in the names table */
    lua_rawgeti(L, 3, i + 1);
    ts[i] = lember_check(L, -1);
    lua_pop(L, 1);
  }
  const char **keys, **values;
  int nmeta = read_metadata(L, 4, &keys, &values);
  if (ember_st_save(path, n, names, ts, nmeta, keys, values) != EMBER_OK) return lember_raise(L);
  return 0;
}

/* ember.safetensors._mkdir(path): a directory for shards (fine if it exists). */
static int m_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat sb;
  if (mkdir(path, 0777) != 0 && !(errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)))
    return luaL_error(L, "save: %s: IoError: cannot make the directory: %s", path, strerror(errno));
  return 0;
}

void lember_open_safetensors(lua_State *L, int module) {
  static const luaL_Reg file_methods[] = {
    {"keys", f_keys}, {"metadata", f_metadata}, {"info", f_info}, {"get", f_get},
    {"slice", f_slice}, {"close", f_close}, {NULL, NULL} };
  luaL_newmetatable(L, FILE_MT);
  luaL_newlib(L, file_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, f_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, f_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, f_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, f_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);

  static const luaL_Reg slice_methods[] = { {"get_shape", s_shape}, {"dtype", s_dtype}, {NULL, NULL} };
  luaL_newmetatable(L, SLICE_MT);
  luaL_newlib(L, slice_methods);
  lua_setfield(L, -2, "methods");
  lua_pushcfunction(L, s_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  static const luaL_Reg writer_methods[] = {
    {"write", w_write}, {"close", w_close}, {"abort", w_abort}, {NULL, NULL} };
  luaL_newmetatable(L, WRITER_MT);
  luaL_newlib(L, writer_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, w_abort);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, w_closemm);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);

  static const luaL_Reg funcs[] = {
    {"open", m_open}, {"writer", m_writer}, {"_save", m_save}, {"_mkdir", m_mkdir}, {NULL, NULL} };
  luaL_newlib(L, funcs);
  lua_setfield(L, module, "safetensors");
}
