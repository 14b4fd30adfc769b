/*
** main.c — the ember executable: runs a script, a -e string, or a REPL, the way the
** lua5.4 executable does, with the `ember` module already loaded as global `ember`.
**   ember script.lua args...    ember -e 'code'    ember -i script.lua    ember    ember -
** The only file of host/ that includes Lua headers and the only one that prints.
**
** As in lua5.4: global `arg` holds the script at 0, its arguments at 1.. and the
** interpreter and options at negative indices (with no script, the interpreter is at 0),
** and the script's chunk gets its arguments as `...`. Options run in order, then the
** script; an error prints "ember: msg" with a traceback and the exit status is 1.
** Unlike lua5.4, `ember` alone opens the REPL even when stdin is not a terminal (it
** then reads lines without prompts, so `echo '1+1' | ember` prints 2); `ember -` runs
** stdin as one script. On a terminal the REPL has readline editing, Tab completion of
** names and tensor methods, history in ~/.ember_history, and Ctrl-C that drops the
** chunk being typed or interrupts running code ("interrupted!") without leaving.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <readline/readline.h>
#include <readline/history.h>

#include "ember.h"

int luaopen_ember(lua_State *L);
void lember_set_path(lua_State *L);

static const char *const progname = "ember";

static void usage(const char *bad) {
  if (bad) fprintf(stderr, "%s: unrecognized option '%s'\n", progname, bad);
  fprintf(stderr,
          "usage: %s [options] [script [args]]\n"
          "  -e code   run code\n"
          "  -i        enter the REPL after running script / -e\n"
          "  -l name   require library 'name' into global 'name' (-l g=name: into 'g')\n"
          "  -v, --version  print the version\n"
          "  -W        turn warnings on\n"
          "  --        stop handling options\n"
          "  -         run stdin as a script\n"
          "With no script and no -e, ember opens a REPL.\n", progname);
  fflush(stderr);
}

/* {====== protected calls, errors, Ctrl-C */

static lua_State *running_L;   /* the state a SIGINT should interrupt */

/* Raised from a hook, that is at a safe point of the interpreter, not in the handler. */
static void interrupted_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* lua_sethook is safe to call from a signal handler; a second Ctrl-C kills. */
static void on_sigint_running(int sig) {
  signal(sig, SIG_DFL);
  lua_sethook(running_L, interrupted_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
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

/* Prints the error at the top (if status says there is one) and pops it. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* Calls the function below narg arguments with a traceback handler; Ctrl-C while it
** runs raises "interrupted!" in it. */
static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  running_L = L;
  void (*before)(int) = signal(SIGINT, on_sigint_running);
  if (before == SIG_IGN) signal(SIGINT, SIG_IGN);   /* started ignoring it (nohup, &) */
  int status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, before);
  /* a Ctrl-C that came as the call returned must not interrupt the next one */
  if (lua_gethook(L) == interrupted_hook) lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

/* }====== */

/* {====== options, arg, -e, -l, script */

typedef struct options {
  int script;        /* argv index of the script; argc when there is none */
  int interactive;   /* -i */
  int version;       /* -v */
  int has_e;         /* -e given: no REPL unless -i (-l alone still opens it) */
  int warnings;      /* -W */
} options;

/* The value of -e / -l: "-ecode" or "-e code"; NULL if missing. */
static const char *option_value(char **argv, int *i) {
  if (argv[*i][2] != '\0') return argv[*i] + 2;
  if (argv[*i + 1] == NULL || argv[*i + 1][0] == '-') return NULL;
  return argv[++*i];
}

/* First pass: find the script and check the options; returns 0 or 1 on a bad option. */
static int collect_options(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->script = argc;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) {    /* the script ("-" is stdin) */
      o->script = i;
      return 0;
    }
    if (strcmp(a, "--") == 0) {
      o->script = i + 1 < argc ? i + 1 : argc;
      return 0;
    }
    if (strcmp(a, "-i") == 0) o->interactive = 1;
    else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) o->version = 1;
    else if (strcmp(a, "-W") == 0) o->warnings = 1;
    else if (a[1] == 'e' || a[1] == 'l') {
      if (option_value(argv, &i) == NULL) {
        fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
        usage(NULL);
        return 1;
      }
      if (a[1] == 'e') o->has_e = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(NULL);
      exit(EXIT_SUCCESS);
    } else {
      usage(a);
      return 1;
    }
  }
  return 0;
}

/* Global `arg`: script at 0, its arguments at 1.., interpreter and options below 0;
** with no script, the interpreter is arg[0] and the options follow it. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  if (script == argc) script = 0;
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_string(lua_State *L, const char *code, const char *name) {
  int status = luaL_loadbuffer(L, code, strlen(code), name);
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

/* -l mod (global mod) or -l g=mod (global g) */
static int run_require(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *mod = eq ? eq + 1 : spec;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    if (eq) lua_pushlstring(L, spec, (size_t)(eq - spec));
    else lua_pushstring(L, mod);
    lua_insert(L, -2);
    lua_setglobal(L, lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  return report(L, status);
}

/* Second pass: run -e and -l in the order given. */
static int run_options(lua_State *L, char **argv, int script) {
  for (int i = 1; i < script; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l')) continue;
    const char *v = option_value(argv, &i);
    int status = a[1] == 'e' ? run_string(L, v, "=(command line)") : run_require(L, v);
    if (status != LUA_OK) return status;
  }
  return LUA_OK;
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *fname = argv[script];
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL;  /* stdin */
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = argc - script - 1;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    status = docall(L, n, 0);
  }
  return report(L, status);
}

/* }====== */

/* {====== REPL
** A chunk is read as an expression first ("return <line>") so that its values print;
** failing that, as statements, reading more lines while the parser stops at <eof>.
** On a terminal lines come from readline; each complete chunk is one history entry,
** appended to ~/.ember_history as soon as it is entered (so os.exit keeps it). */

#define HISTORY_MAX 1000

static int use_readline;             /* stdin is a terminal */
static char history_path[4096];      /* empty: no history file */

/* {------ a line from the terminal
** readline's callback interface, so that the handler of a Ctrl-C at the prompt only
** writes a byte to a pipe; the loop waits on the terminal and that pipe together and
** cleans up outside the handler. A pipe, not a flag, because the signal may be run
** by any thread (OpenBLAS and OpenMP start some), which would leave select asleep. */

static int sigint_pipe[2] = { -1, -1 };
static char *tty_line;
static int tty_done;

static void on_sigint_prompt(int sig) {
  (void)sig;
  int saved = errno;
  if (write(sigint_pipe[1], "", 1) < 0) { /* full: a Ctrl-C is pending anyway */ }
  errno = saved;
}

static void drain_sigint_pipe(void) {
  char buf[64];
  while (read(sigint_pipe[0], buf, sizeof buf) > 0) {}
}

static void on_tty_line(char *line) {
  tty_line = line;
  tty_done = 1;
  rl_callback_handler_remove();
}

/* The next line (malloc'ed), or NULL: at end of input, or on Ctrl-C (*interrupted). */
static char *read_tty_line(const char *prompt, int *interrupted) {
  drain_sigint_pipe();                         /* a Ctrl-C from before this prompt */
  tty_line = NULL;
  tty_done = 0;
  *interrupted = 0;
  rl_callback_handler_install(prompt, on_tty_line);
  int fd = fileno(rl_instream ? rl_instream : stdin);
  int nfds = (fd > sigint_pipe[0] ? fd : sigint_pipe[0]) + 1;
  while (!tty_done) {
    fd_set in;
    FD_ZERO(&in);
    FD_SET(fd, &in);
    FD_SET(sigint_pipe[0], &in);
    int ready = select(nfds, &in, NULL, NULL, NULL);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {                           /* the terminal went away: end of input */
      rl_callback_handler_remove();
      break;
    }
    if (FD_ISSET(sigint_pipe[0], &in)) {
      drain_sigint_pipe();
      rl_replace_line("", 0);
      rl_callback_sigcleanup();
      rl_callback_handler_remove();
      fputs("^C\n", stdout);
      fflush(stdout);
      *interrupted = 1;
      break;
    }
    rl_callback_read_char();
  }
  return tty_line;
}

/* }------ */

/* Pushes the prompt (the globals _PROMPT and _PROMPT2 override it, as in lua5.4). */
static const char *push_prompt(lua_State *L, int first) {
  lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2");
  const char *p = lua_tostring(L, -1);
  if (p == NULL) {
    lua_pop(L, 1);
    p = lua_pushstring(L, first ? "> " : ">> ");
  }
  return p;
}

/* Pushes the next line (no newline) and returns 1; 0 at end of input, 2 on Ctrl-C.
** Piped input gets no prompts, so that its output is the values alone. */
static int push_line(lua_State *L, int first) {
  char *line;
  if (use_readline) {
    int interrupted;
    line = read_tty_line(push_prompt(L, first), &interrupted);
    lua_pop(L, 1);
    if (interrupted) return 2;
  } else {
    size_t cap = 0;
    line = NULL;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
      free(line);
      line = NULL;
    } else if (n > 0 && line[n - 1] == '\n') {
      line[n - 1] = '\0';
    }
  }
  if (line == NULL) return 0;
  if (first && line[0] == '=') lua_pushfstring(L, "return %s", line + 1);  /* Lua 5.1's "=x" */
  else lua_pushstring(L, line);
  free(line);
  return 1;
}

static void save_history(const char *chunk) {
  if (!use_readline || chunk[0] == '\0') return;
  HIST_ENTRY *last = history_get(history_base + history_length - 1);
  if (last && strcmp(last->line, chunk) == 0) return;
  add_history(chunk);
  if (history_path[0]) append_history(1, history_path);
}

/* Is the error at the top a syntax error that only ran out of input? */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

/* Compiles the line at 1 as "return <line>"; on success leaves 1: line, 2: function. */
static int load_expression(lua_State *L) {
  const char *expr = lua_pushfstring(L, "return %s", lua_tostring(L, 1));
  int status = luaL_loadbuffer(L, expr, strlen(expr), "=stdin");
  if (status == LUA_OK) lua_remove(L, 2);
  else lua_settop(L, 1);
  return status;
}

/* Leaves the compiled chunk (or its error message) alone on the stack and returns
** the load status; -1 at end of input. Ctrl-C drops the chunk being typed and starts
** again at the first prompt. */
static int load_chunk(lua_State *L) {
  int got;
  do {
    lua_settop(L, 0);
    got = push_line(L, 1);
  } while (got == 2);
  if (got == 0) return -1;
  int status = load_expression(L);             /* 1: the code so far */
  while (status != LUA_OK) {
    size_t len;
    const char *code = lua_tolstring(L, 1, &len);
    status = luaL_loadbuffer(L, code, len, "=stdin");   /* 2: function or message */
    if (!incomplete(L, status)) break;
    got = push_line(L, 0);
    if (got == 0) break;                       /* keep the <eof> error */
    if (got == 2) return load_chunk(L);
    lua_remove(L, 2);                          /* 1: code, 2: next line */
    lua_pushliteral(L, "\n");
    lua_insert(L, 2);
    lua_concat(L, 3);
  }
  save_history(lua_tostring(L, 1));
  lua_remove(L, 1);
  return status;
}

/* {====== completion: Tab completes globals, table fields and tensor methods
** ("ember.ma" -> ember.matmul, "t:su" -> t:sum). Only raw lookups and __index tables
** are followed, so completing never runs user code. */

static lua_State *completion_L;
static char **matches;                 /* the candidates of the current completion */
static int nmatches, next_match;

static void clear_matches(void) {
  for (int i = next_match; i < nmatches; i++) free(matches[i]);
  free(matches);
  matches = NULL;
  nmatches = next_match = 0;
}

static int is_letter(char c) {
  return c == '_' || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* Keys that are not identifiers would not complete to valid code after a '.'. */
static int is_name(const char *s, size_t n) {
  if (n == 0 || !is_letter(s[0])) return 0;
  for (size_t i = 1; i < n; i++)
    if (!is_letter(s[i]) && !(s[i] >= '0' && s[i] <= '9')) return 0;
  return 1;
}

/* Adds "<head><key>" for each string key of the table at t that starts with word. */
static void add_keys(lua_State *L, int t, const char *head, size_t hlen, const char *word,
                     size_t wlen) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    size_t klen;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
    if (k && klen >= wlen && memcmp(k, word, wlen) == 0 && is_name(k, klen)) {
      char **m = realloc(matches, (size_t)(nmatches + 1) * sizeof *m);
      char *s = malloc(hlen + klen + 1);
      if (m == NULL || s == NULL) {
        free(s);
        if (m) matches = m;
        lua_pop(L, 2);
        return;
      }
      memcpy(s, head, hlen);
      memcpy(s + hlen, k, klen + 1);
      matches = m;
      matches[nmatches++] = s;
    }
    lua_pop(L, 1);
  }
}

/* Replaces the value at the top by the table its fields are looked up in after the
** table itself: a tensor's methods, or its metatable's __index when that is a table. */
static int push_index_table(lua_State *L) {
  if (luaL_testudata(L, -1, "ember.Tensor")) {
    lua_getfield(L, LUA_REGISTRYINDEX, "ember.module");
    lua_getfield(L, -1, "Tensor");
    lua_remove(L, -2);
  } else if (lua_getmetatable(L, -1)) {
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
  } else {
    lua_pushnil(L);
  }
  lua_remove(L, -2);
  return lua_istable(L, -1);
}

/* Pushes the value named by the chain "a.b:c" of n chars, or nil. */
static void push_chain(lua_State *L, const char *chain, size_t n) {
  lua_pushglobaltable(L);
  size_t i = 0;
  while (i < n && !lua_isnil(L, -1)) {
    size_t j = i;
    while (j < n && chain[j] != '.' && chain[j] != ':') j++;
    lua_pushlstring(L, chain + i, j - i);      /* the field name */
    for (int depth = 0; depth < 8; depth++) {  /* the table, then its __index tables */
      if (lua_istable(L, -2)) {
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (!lua_isnil(L, -1)) break;
        lua_pop(L, 1);
      }
      lua_pushvalue(L, -2);
      if (!push_index_table(L)) {              /* nowhere else to look */
        lua_pop(L, 1);
        lua_pushnil(L);
        break;
      }
      lua_replace(L, -3);
    }
    lua_replace(L, -3);                        /* the field's value replaces the object */
    lua_pop(L, 1);
    i = j + 1;
  }
}

static int find_matches(lua_State *L) {
  const char *text = lua_touserdata(L, 1);
  size_t len = strlen(text);
  size_t cut = len;                            /* just after the last '.' or ':' */
  while (cut > 0 && text[cut - 1] != '.' && text[cut - 1] != ':') cut--;
  if (cut > 0) push_chain(L, text, cut - 1);
  else lua_pushglobaltable(L);
  for (int depth = 0; depth < 8 && !lua_isnil(L, -1); depth++) {
    if (lua_istable(L, -1)) add_keys(L, lua_gettop(L), text, cut, text + cut, len - cut);
    if (!push_index_table(L)) break;
  }
  return 0;
}

static char *next_completion(const char *text, int state) {
  if (state == 0) {
    clear_matches();
    lua_State *L = completion_L;
    int top = lua_gettop(L);
    lua_pushcfunction(L, find_matches);
    lua_pushlightuserdata(L, (void *)text);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) clear_matches();   /* e.g. out of memory */
    lua_settop(L, top);
  }
  return next_match < nmatches ? matches[next_match++] : NULL;   /* readline frees it */
}

static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1;           /* no file names */
  rl_completion_append_character = '\0';
  return rl_completion_matches(text, next_completion);
}

/* }====== */

/* Prints the values left on the stack with the global print (so tensors format). */
static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK)
    fprintf(stderr, "%s: error calling 'print' (%s)\n", progname, lua_tostring(L, -1));
  fflush(stdout);
}

static void open_history(void) {
  const char *home = getenv("HOME");
  stifle_history(HISTORY_MAX);
  if (home == NULL || home[0] == '\0') return;
  snprintf(history_path, sizeof history_path, "%s/.ember_history", home);
  if (read_history(history_path) != 0 && write_history(history_path) != 0)
    history_path[0] = '\0';                    /* neither readable nor creatable */
}

static void repl(lua_State *L) {
  /* on a terminal: readline, history, completion, and Ctrl-C through sigint_pipe */
  use_readline = isatty(STDIN_FILENO) && pipe2(sigint_pipe, O_NONBLOCK | O_CLOEXEC) == 0;
  void (*before)(int) = SIG_DFL;
  if (use_readline) {
    rl_readline_name = "ember";
    completion_L = L;
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
    open_history();
    before = signal(SIGINT, on_sigint_prompt);   /* Ctrl-C between prompts: ignored */
    printf("ember %s (%s) -- tensors under Lua; ember.ops() lists the ops\n", EMBER_VERSION,
           LUA_RELEASE);
  }
  int status;
  while ((status = load_chunk(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L);
    else report(L, status);
  }
  lua_settop(L, 0);
  if (use_readline) {
    signal(SIGINT, before);
    close(sigint_pipe[0]);
    close(sigint_pipe[1]);
    putchar('\n');
    if (history_path[0]) history_truncate_file(history_path, HISTORY_MAX);
  }
  fflush(stdout);
}

/* }====== */

/* Everything that touches Lua runs protected, so that even an error while opening
** the module reports instead of aborting. Leaves a boolean: all went well. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  options o;
  if (collect_options(argc, argv, &o) != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  luaL_checkversion(L);
  luaL_openlibs(L);
  lember_set_path(L);
  luaL_requiref(L, "ember", luaopen_ember, 1);
  lua_pop(L, 1);
  if (o.warnings) lua_warning(L, "@on", 0);
  if (o.version) {
    printf("ember %s (%s)\n", EMBER_VERSION, LUA_RELEASE);
    fflush(stdout);
  }
  create_arg_table(L, argv, argc, o.script);
  int ok = run_options(L, argv, o.script) == LUA_OK;
  if (ok && o.script < argc) ok = run_script(L, argv, argc, o.script) == LUA_OK;
  if (ok && (o.interactive || (o.script == argc && !o.has_e && !o.version))) repl(L);
  lua_pushboolean(L, ok);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create a Lua state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int ok = lua_toboolean(L, -1);
  report(L, status);
  /* a rank that fails ends the whole job: the others would wait for it in their next
  ** collective, and leaving MPI (at lua_close) would wait for them */
  if (!(ok && status == LUA_OK) && ember_dist_world_size() > 1) ember_dist_abort(1);
  lua_close(L);
  return ok && status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
