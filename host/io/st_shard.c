/*
** st_shard.c — sharded checkpoints: a model.safetensors.index.json (its weight_map
** names each tensor's file; its metadata carries total_size) or a directory of
** .safetensors files, opened as one ember_safetensors whose tensors span the files.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "json.h"
#include "st_internal.h"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int by_string(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending with suffix; *n gets the count. */
static char **list_dir(const char *dir, const char *suffix, int *n) {
  DIR *d = opendir(dir);
  *n = 0;
  if (d == NULL) {
    ember_error("%s: IoError: cannot list: %s", dir, strerror(errno));
    return NULL;
  }
  char **names = NULL;
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix)) continue;   /* skips temp files */
    if (*n == cap) {
      cap = cap ? 2 * cap : 8;
      char **p = realloc(names, cap * sizeof *p);
      if (p == NULL) break;
      names = p;
    }
    if ((names[*n] = strdup(e->d_name)) == NULL) break;
    (*n)++;
  }
  closedir(d);
  if (*n) qsort(names, (size_t)*n, sizeof *names, by_string);
  if (names == NULL) names = calloc(1, sizeof *names);
  return names;
}

static void free_list(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

static char *join(const char *dir, const char *name) {
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  if (p) sprintf(p, "%s/%s", dir, name);
  return p;
}

/* The whole index file, NUL-terminated. */
static char *read_small_file(const char *path, size_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ember_error("%s: IoError: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  struct stat sb;
  char *text = NULL;
  if (fstat(fd, &sb) != 0 || sb.st_size > EMBER_ST_MAX_HEADER) {
    ember_error("%s: IoError: not a readable index (over %u bytes?)", path, EMBER_ST_MAX_HEADER);
  } else if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
    ember_error("out of memory");
  } else if (ember_st_pread_full(fd, text, (size_t)sb.st_size, 0, path) != EMBER_OK) {
    free(text);
    text = NULL;
  } else {
    text[sb.st_size] = '\0';
    *n = (size_t)sb.st_size;
  }
  close(fd);
  return text;
}

static ember_status bad_index(const char *path, const char *what, const char *arg) {
  char msg[300];
  snprintf(msg, sizeof msg, what, arg);
  return ember_error("%s: InvalidIndex: %s", path, msg);
}

/* A shard's file name must stay inside the index's directory. */
static int safe_file_name(const char *s, size_t n) {
  return n > 0 && strlen(s) == n && strchr(s, '/') == NULL && strcmp(s, "..") != 0 && strcmp(s, ".") != 0;
}

static ember_status open_index(ember_safetensors *f, const char *path) {
  size_t n;
  char *text = read_small_file(path, &n);
  if (text == NULL) return EMBER_ERROR;
  ember_status st = EMBER_OK;
  char err[200];
  ember_json_doc *doc = NULL;
  char **files = NULL;
  int nfiles = 0;
  char *dir = strdup(path);
  if (dir == NULL) {
    free(text);
    return ember_error("out of memory");
  }
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  else strcpy(dir, ".");
  if (!ember_utf8_valid(text, n)) {
    st = bad_index(path, "%s", "not UTF-8");
    goto done;
  }
  if ((doc = ember_json_parse(text, n, 64, err, sizeof err)) == NULL) {
    st = bad_index(path, "%s", err);
    goto done;
  }
  ember_json *root = ember_json_root(doc);
  ember_json *map = ember_json_get(root, "weight_map");
  if (map == NULL || map->type != EMBER_JSON_OBJECT) {
    st = bad_index(path, "%s", "no weight_map object");
    goto done;
  }
  /* the distinct file names, sorted: shard k is files[k] */
  files = calloc(map->count ? map->count : 1, sizeof *files);
  if (files == NULL) {
    st = ember_error("out of memory");
    goto done;
  }
  for (ember_json *e = map->child; e; e = e->next) {
    if (e->type != EMBER_JSON_STRING || !safe_file_name(e->str, e->len)) {
      st = bad_index(path, "weight_map entry \"%s\" is not a file name in the index's directory", e->key);
      goto done;
    }
    int seen = 0;
    for (int i = 0; i < nfiles && !seen; i++) seen = strcmp(files[i], e->str) == 0;
    if (!seen) files[nfiles++] = (char *)e->str;
  }
  qsort(files, (size_t)nfiles, sizeof *files, by_string);
  ember_json *meta = ember_json_get(root, "metadata");
  if (meta && meta->type == EMBER_JSON_OBJECT)
    for (ember_json *m = meta->child; m && st == EMBER_OK; m = m->next)
      if (m->type == EMBER_JSON_STRING || m->type == EMBER_JSON_NUMBER)
        st = ember_st_add_metadata(f, m->key, m->keylen, m->str, m->len);
  for (int i = 0; i < nfiles && st == EMBER_OK; i++) {
    char *p = join(dir, files[i]);
    st = p ? ember_st_add_file(f, p, 0) : ember_error("out of memory");
    free(p);
  }
  if (st == EMBER_OK) st = ember_st_finish(f, path);
  /* every tensor the map names must be in the file it names */
  for (ember_json *e = map->child; e && st == EMBER_OK; e = e->next) {
    const ember_st_info *info = ember_st_find(f, e->key);
    if (info == NULL || strcmp(files[info->shard], e->str) != 0)
      st = ember_error("%s: TensorNotFound: weight_map puts \"%s\" in %s, which does not hold it",
                       path, e->key, e->str);
  }
done:
  free(files);
  ember_json_free(doc);
  free(text);
  free(dir);
  return st;
}

static ember_status open_dir(ember_safetensors *f, const char *dir) {
  int n;
  char **idx = list_dir(dir, ".safetensors.index.json", &n);
  if (idx == NULL) return EMBER_ERROR;
  if (n >= 1) {
    const char *pick = idx[0];
    for (int i = 0; i < n; i++)
      if (strcmp(idx[i], "model.safetensors.index.json") == 0) pick = idx[i];
    if (n > 1 && strcmp(pick, "model.safetensors.index.json") != 0) {
      free_list(idx, n);
      return ember_error("%s: IoError: several index files and none is model.safetensors.index.json", dir);
    }
    char *p = join(dir, pick);
    free_list(idx, n);
    ember_status st = p ? open_index(f, p) : ember_error("out of memory");
    free(p);
    return st;
  }
  free_list(idx, n);
  char **files = list_dir(dir, ".safetensors", &n);
  if (files == NULL) return EMBER_ERROR;
  ember_status st = n == 0 ? ember_error("%s: IoError: no .safetensors files here", dir) : EMBER_OK;
  for (int i = 0; i < n && st == EMBER_OK; i++) {
    char *p = join(dir, files[i]);
    st = p ? ember_st_add_file(f, p, i == 0) : ember_error("out of memory");
    free(p);
  }
  free_list(files, n);
  return st == EMBER_OK ? ember_st_finish(f, dir) : st;
}

ember_safetensors *ember_st_open_sharded(const char *path, ember_st_backend backend) {
  ember_safetensors *f = ember_st_new(backend);
  if (f == NULL) return NULL;
  struct stat sb;
  ember_status st = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? open_dir(f, path) : open_index(f, path);
  if (st != EMBER_OK) {
    ember_st_close(f);
    return NULL;
  }
  return f;
}
