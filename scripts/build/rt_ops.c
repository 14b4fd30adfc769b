/*
** rt_ops.c — the build's tool for the runtime library's op table (make rt).
**
**   rt_ops program FILE.ember          the ops FILE's program uses, one a line
**   rt_ops filter OPS SRC OUT          SRC (a host/ops/ops_<family>.c) copied to OUT
**                                      with only the entries OPS lists (a file of
**                                      names, one a line; "all"; "none")
**
** Why a filtered copy: an op entry references its infer function and its kernel, so
** every entry in a family's array keeps its kernel in the library; the linker can only
** drop a kernel that no entry names. The runtime build therefore compiles each family
** file from a copy whose `const ember_op ember_ops_<family>[]` array holds only the
** selected entries; the registry (registry.c) gathers the arrays as it always does,
** and an op the program needs but the build lacks is refused at load by name. The full
** runtime goes the same way with "all". The family files stay as they are: each entry
** of an array is one top-level initializer (`{ .name = "linear", ... }` or a macro
** such as `VIEW("view", ...)`), and its name is its first string literal.
**
** Why C: the runtime builds with nothing but a C compiler, OpenBLAS and make; reading
** the program needs only host/io/json.c, the reader the runtime itself uses. A program
** is a safetensors file whose __metadata__["ember.program"] is the program's JSON
** (docs/export.md); its "nodes" name the ops.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int fail(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "rt_ops: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return 1;
}

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = size >= 0 ? malloc((size_t)size + 1) : NULL;
  if (b && fread(b, 1, (size_t)size, f) != (size_t)size) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) {
    b[size] = 0;
    *n = (size_t)size;
  }
  return b;
}

/* {====== program: the ops a program uses */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int program_ops(const char *path) {
  size_t n;
  char *file = read_file(path, &n), err[256];
  if (file == NULL) return fail("%s: cannot read it%s", path, "");
  uint64_t hlen = 0;
  for (int i = 7; n >= 8 && i >= 0; i--) hlen = hlen << 8 | (unsigned char)file[i];
  if (n < 8 || hlen > n - 8) return fail("%s: not a safetensors file%s", path, "");
  ember_json_doc *header = ember_json_parse(file + 8, (size_t)hlen, 64, err, sizeof err);
  if (header == NULL) return fail("%s: header: %s", path, err);
  ember_json *meta = ember_json_get(ember_json_root(header), "__metadata__");
  ember_json *text = meta ? ember_json_get(meta, "ember.program") : NULL;
  if (text == NULL || text->type != EMBER_JSON_STRING)
    return fail("%s: no program (__metadata__[\"ember.program\"])%s", path, "");
  ember_json_doc *prog = ember_json_parse(text->str, text->len, 64, err, sizeof err);
  if (prog == NULL) return fail("%s: program: %s", path, err);
  ember_json *nodes = ember_json_get(ember_json_root(prog), "nodes");
  if (nodes == NULL || nodes->type != EMBER_JSON_ARRAY) return fail("%s: program has no nodes%s", path, "");
  const char **names = malloc((nodes->count + 1) * sizeof *names);
  size_t k = 0;
  for (ember_json *node = nodes->child; node; node = node->next) {
    ember_json *op = ember_json_get(node, "op");
    if (op == NULL || op->type != EMBER_JSON_STRING) return fail("%s: a node has no op%s", path, "");
    names[k++] = op->str;
  }
  qsort(names, k, sizeof *names, cmp_str);
  for (size_t i = 0; i < k; i++)
    if (i == 0 || strcmp(names[i], names[i - 1]) != 0) printf("%s\n", names[i]);
  free(names);
  ember_json_free(prog);
  ember_json_free(header);
  free(file);
  return 0;
}

/* }====== */

/* {====== filter: a family file with only the selected entries */

static char **wanted;
static int nwanted, all;

static int is_wanted(const char *name, size_t len) {
  if (all) return 1;
  for (int i = 0; i < nwanted; i++)
    if (strlen(wanted[i]) == len && memcmp(wanted[i], name, len) == 0) return 1;
  return 0;
}

/* Past a comment or a string literal starting at p, or p itself when none starts. */
static const char *skip_token(const char *p) {
  if (p[0] == '/' && p[1] == '*') {
    const char *e = strstr(p + 2, "*/");
    return e ? e + 2 : p + strlen(p);
  }
  if (p[0] == '/' && p[1] == '/') {
    const char *e = strchr(p, '\n');
    return e ? e : p + strlen(p);
  }
  if (*p == '"' || *p == '\'') {
    char q = *p++;
    while (*p && *p != q) p += (*p == '\\' && p[1]) ? 2 : 1;
    return *p ? p + 1 : p;
  }
  return p;
}

/* The end of the top-level initializer starting at p: its comma (or the array's '}'). */
static const char *entry_end(const char *p) {
  int depth = 0;
  while (*p) {
    const char *q = skip_token(p);
    if (q != p) { p = q; continue; }
    if (*p == '{' || *p == '(') depth++;
    else if (*p == '}' || *p == ')') {
      if (depth == 0) return p;
      depth--;
    } else if (*p == ',' && depth == 0) {
      return p + 1;
    }
    p++;
  }
  return p;
}

/* Its name: the first string literal in [p, e); NULL for the {NULL} terminator. */
static const char *entry_name(const char *p, const char *e, size_t *len) {
  while (p < e) {
    if (*p == '"') {
      const char *q = skip_token(p);
      *len = (size_t)(q - p - 2);
      return p + 1;
    }
    const char *q = skip_token(p);
    p = q != p ? q : p + 1;
  }
  return NULL;
}

static int filter(const char *list, const char *src, const char *out) {
  size_t n;
  if (strcmp(list, "all") == 0) {
    all = 1;
  } else if (strcmp(list, "none") != 0) {
    char *names = read_file(list, &n);
    if (names == NULL) return fail("%s: cannot read it%s", list, "");
    wanted = malloc((n / 2 + 1) * sizeof *wanted);
    for (char *s = strtok(names, " \t\r\n"); s; s = strtok(NULL, " \t\r\n")) wanted[nwanted++] = s;
  }
  char *text = read_file(src, &n);
  if (text == NULL) return fail("%s: cannot read it%s", src, "");
  const char *start = strstr(text, "\nconst ember_op ember_ops_");
  const char *body = start ? strchr(start, '{') : NULL;
  if (body == NULL) return fail("%s: no `const ember_op ember_ops_<family>[] = {` array%s", src, "");
  FILE *f = fopen(out, "w");
  if (f == NULL) return fail("%s: cannot write it%s", out, "");
  /* the #line keeps the compiler's messages pointing at the family file */
  fprintf(f, "#line 1 \"%s\"\n", src);
  fwrite(text, 1, (size_t)(body + 1 - text), f);
  const char *p = body + 1;
  while (*p && *p != '}') {
    const char *e = entry_end(p);
    size_t len = 0;
    const char *name = entry_name(p, e, &len);
    /* an entry goes with the text before it (its comments), a dropped one leaves its
    ** lines blank so that line numbers still match the family file */
    if (name == NULL || is_wanted(name, len)) {
      fwrite(p, 1, (size_t)(e - p), f);
    } else {
      for (const char *c = p; c < e; c++)
        if (*c == '\n') fputc('\n', f);
    }
    if (e == p) break;
    p = e;
  }
  fputs(p, f);
  fclose(f);
  return 0;
}

/* }====== */

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "program") == 0) return program_ops(argv[2]);
  if (argc == 5 && strcmp(argv[1], "filter") == 0) return filter(argv[2], argv[3], argv[4]);
  fprintf(stderr, "usage: rt_ops program FILE.ember | rt_ops filter OPS|all|none SRC OUT\n");
  return 2;
}
