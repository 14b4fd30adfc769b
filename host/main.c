/*
** main.c — the ember executable: runs a script, a -e string, or a REPL, the way the
** lua5.4 executable does, with the `ember` module already loaded as global `ember`.
**   ember script.lua args...    ember -e 'code'    ember -i script.lua    ember
** The only file of host/ that includes Lua headers and the only one that prints.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <readline/readline.h>
#include <readline/history.h>

#include "ember.h"

int luaopen_ember(lua_State *L);
void lember_set_path(lua_State *L);

static const char *progname = "ember";

static void usage(void) {
  fprintf(stderr,
          "usage: %s [options] [script [args]]\n"
          "  -e code   run code\n"
          "  -i        enter the REPL after running script / -e\n"
          "  -l name   require library 'name' into global 'name'\n"
          "  -v, --version  print the version\n"
          "  -         run stdin\n"
          "With no arguments, ember opens a REPL.\n", progname);
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}

/* global `arg`: script at 0, its arguments at 1.., interpreter and options below 0 */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *fname = argv[script];
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL;
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = 0;
    for (int i = script + 1; i < argc; i++, n++) lua_pushstring(L, argv[i]);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

/* {====== REPL */

#define HISTORY_MAX 1000

static char history_path[1024];

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= 5 && strcmp(msg + lmsg - 5, "<eof>") == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

static char *read_line(const char *prompt) {
  if (isatty(STDIN_FILENO)) return readline(prompt);
  static char buf[65536];
  fputs(prompt, stdout);
  fflush(stdout);
  if (fgets(buf, sizeof buf, stdin) == NULL) return NULL;
  size_t n = strlen(buf);
  if (n && buf[n - 1] == '\n') buf[n - 1] = 0;
  return strdup(buf);
}

/* Like lua.c: try "return <line>" first so expressions print their values. */
static int load_line(lua_State *L, char *line) {
  const char *ret = lua_pushfstring(L, "return %s", line);
  int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
  lua_remove(L, -2);
  if (status == LUA_OK) {
    if (line[0]) add_history(line);
    return status;
  }
  lua_pop(L, 1);
  luaL_Buffer b;
  lua_pushstring(L, line);
  for (;;) {
    size_t len;
    const char *code = lua_tolstring(L, -1, &len);
    status = luaL_loadbuffer(L, code, len, "=stdin");
    if (!incomplete(L, status)) break;
    char *more = read_line(">> ");
    if (more == NULL) break;
    luaL_buffinit(L, &b);
    lua_pushvalue(L, -1);
    luaL_addvalue(&b);
    luaL_addchar(&b, '\n');
    luaL_addstring(&b, more);
    free(more);
    luaL_pushresult(&b);
    lua_remove(L, -2);
  }
  if (status == LUA_OK || status == LUA_ERRSYNTAX) {
    add_history(lua_tostring(L, status == LUA_OK ? -2 : -2));
  }
  lua_remove(L, status == LUA_OK ? -2 : -2);
  return status;
}

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK)
    fprintf(stderr, "%s: error calling 'print' (%s)\n", progname, lua_tostring(L, -1));
}

static void repl(lua_State *L) {
  const char *home = getenv("HOME");
  if (home) {
    snprintf(history_path, sizeof history_path, "%s/.ember_history", home);
    read_history(history_path);
  }
  stifle_history(HISTORY_MAX);
  if (isatty(STDIN_FILENO))
    printf("ember %s (Lua 5.4) -- tensors under Lua; ember.ops() lists the ops\n", EMBER_VERSION);
  for (;;) {
    lua_settop(L, 0);
    char *line = read_line("> ");
    if (line == NULL) break;
    int status = load_line(L, line);
    free(line);
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L);
    else report(L, status);
  }
  lua_settop(L, 0);
  if (isatty(STDIN_FILENO)) putchar('\n');
  if (history_path[0]) write_history(history_path);
}

/* }====== */

int main(int argc, char **argv) {
  if (argv[0] && argv[0][0]) progname = argv[0];
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create a Lua state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  luaL_openlibs(L);
  lember_set_path(L);
  luaL_requiref(L, "ember", luaopen_ember, 1);
  lua_pop(L, 1);

  int interactive = 0, ran = 0, status = LUA_OK, i = 1;
  for (; i < argc && argv[i][0] == '-' && status == LUA_OK; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) { i++; break; }
    if (strcmp(a, "-") == 0) break;
    if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      printf("ember %s (%s)\n", EMBER_VERSION, LUA_RELEASE);
      ran = 1;
    } else if (strcmp(a, "-i") == 0) {
      interactive = 1;
    } else if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
      if (i + 1 >= argc) { usage(); lua_close(L); return EXIT_FAILURE; }
      const char *v = argv[++i];
      create_arg_table(L, argv, argc, i);
      if (a[1] == 'e') {
        status = luaL_loadbuffer(L, v, strlen(v), "=(command line)");
        if (status == LUA_OK) status = docall(L, 0, 0);
      } else {
        lua_getglobal(L, "require");
        lua_pushstring(L, v);
        status = docall(L, 1, 1);
        if (status == LUA_OK) lua_setglobal(L, v);
      }
      report(L, status);
      ran = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage();
      lua_close(L);
      return EXIT_SUCCESS;
    } else {
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
      usage();
      lua_close(L);
      return EXIT_FAILURE;
    }
  }
  if (status == LUA_OK && i < argc) {
    create_arg_table(L, argv, argc, i);
    status = run_script(L, argv, argc, i);
    ran = 1;
  }
  if (status == LUA_OK && (interactive || !ran)) {
    if (!ran) create_arg_table(L, argv, argc, 0);
    repl(L);
  }
  lua_close(L);
  return status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
