/*
** st_writer.c — writing safetensors files, whole or streamed tensor by tensor.
**
** The header is the reference writer's, byte for byte: tensors sorted by dtype
** (safetensors order, descending) then name, compact JSON in serde_json's escaping,
** __metadata__ first, spaces up to a multiple of 8. Data goes with pwrite at each
** tensor's offset, so tensors arrive in any order and none has to be held in memory
** beyond its own. Everything lands in a temporary file beside the destination that
** is renamed over it on close: the old file stays whole until the new one is.
*/
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

typedef struct w_entry {
  char *name;
  ember_dtype dtype;
  int ndim;
  int64_t shape[EMBER_MAX_DIMS];
  uint64_t begin, end;
  int written;
} w_entry;

struct ember_st_writer {
  char *path, *tmp;
  int fd;
  int n;
  w_entry *e;           /* in file order */
  uint64_t data_start;
};

ember_status ember_st_pwrite_full(int fd, const void *buf, size_t n, uint64_t off, const char *label) {
  const char *p = buf;
  while (n > 0) {
    ssize_t r = pwrite(fd, p, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return ember_error("%s: IoError: write failed: %s", label, strerror(errno));
    p += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return EMBER_OK;
}

/* {====== the header text */

typedef struct buf {
  char *p;
  size_t n, cap;
  int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* A JSON string as serde_json writes it: ", \ and control characters escaped (the
** short forms where JSON has them), everything else as is. */
static void put_string(buf *b, const char *s) {
  put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n"
                    : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b"
                    : c == '\f' ? "\\f" : NULL;
    char u[8];
    if (esc == NULL && c < 0x20) {
      snprintf(u, sizeof u, "\\u%04x", c);
      esc = u;
    }
    if (esc) puts_(b, esc);
    else put(b, s, 1);
  }
  put(b, "\"", 1);
}

static void put_u64(buf *b, uint64_t v) {
  char s[24];
  snprintf(s, sizeof s, "%llu", (unsigned long long)v);
  puts_(b, s);
}

static void header_text(buf *b, const ember_st_writer *w, int nmeta, const char *const *keys,
                        const char *const *values) {
  puts_(b, "{");
  if (keys != NULL) {        /* an empty table still writes {}, as the reference does */
    puts_(b, "\"__metadata__\":{");
    for (int i = 0; i < nmeta; i++) {
      if (i) puts_(b, ",");
      put_string(b, keys[i]);
      puts_(b, ":");
      put_string(b, values[i]);
    }
    puts_(b, "}");
  }
  for (int i = 0; i < w->n; i++) {
    const w_entry *e = &w->e[i];
    if (i || keys != NULL) puts_(b, ",");
    put_string(b, e->name);
    puts_(b, ":{\"dtype\":\"");
    puts_(b, ember_st_dtype_name(e->dtype));
    puts_(b, "\",\"shape\":[");
    for (int d = 0; d < e->ndim; d++) {
      if (d) puts_(b, ",");
      put_u64(b, (uint64_t)e->shape[d]);
    }
    puts_(b, "],\"data_offsets\":[");
    put_u64(b, e->begin);
    puts_(b, ",");
    put_u64(b, e->end);
    puts_(b, "]}");
  }
  puts_(b, "}");
  while (b->n % 8) puts_(b, " ");
}

/* }====== */

static int file_order(const void *a, const void *b) {
  const w_entry *x = a, *y = b;
  int rx = ember_st_dtype_rank(x->dtype), ry = ember_st_dtype_rank(y->dtype);
  if (rx != ry) return ry - rx;    /* widest alignment first */
  return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const w_entry *)a)->name, ((const w_entry *)b)->name);
}

static void free_writer(ember_st_writer *w) {
  if (w->fd >= 0) close(w->fd);
  for (int i = 0; i < w->n; i++) free(w->e[i].name);
  free(w->e);
  free(w->path);
  free(w->tmp);
  free(w);
}

void ember_st_writer_abort(ember_st_writer *w) {
  if (w == NULL) return;
  if (w->tmp) unlink(w->tmp);
  free_writer(w);
}

static ember_status check_spec(const char *path, const ember_st_spec *s, int i) {
  if (s->name == NULL || !ember_utf8_valid(s->name, strlen(s->name)))
    return ember_error("%s: tensor %d: the name must be UTF-8 text", path, i + 1);
  if (strcmp(s->name, "__metadata__") == 0)
    return ember_error("%s: \"__metadata__\" cannot name a tensor", path);
  if (ember_st_dtype_name(s->dtype) == NULL)
    return ember_error("%s: tensor \"%s\": dtype %d has no safetensors name", path, s->name, (int)s->dtype);
  if (s->ndim < 0 || s->ndim > EMBER_MAX_DIMS)
    return ember_error("%s: tensor \"%s\": %d dims (at most %d)", path, s->name, s->ndim, EMBER_MAX_DIMS);
  for (int d = 0; d < s->ndim; d++)
    if (s->shape[d] < 0) return ember_error("%s: tensor \"%s\": negative size", path, s->name);
  return EMBER_OK;
}

/* A temporary file in path's directory, so that the final rename stays on one
** filesystem (and is atomic). */
static int make_temp(ember_st_writer *w) {
  const char *slash = strrchr(w->path, '/');
  size_t dirlen = slash ? (size_t)(slash - w->path + 1) : 0;
  const char *base = slash ? slash + 1 : w->path;
  w->tmp = malloc(dirlen + strlen(base) + 16);
  if (w->tmp == NULL) return -1;
  sprintf(w->tmp, "%.*s.%s.tmpXXXXXX", (int)dirlen, w->path, base);
  int fd = mkstemp(w->tmp);
  if (fd < 0) {
    free(w->tmp);
    w->tmp = NULL;
    return -1;
  }
  mode_t mask = umask(0);   /* mkstemp makes 0600; a saved file gets the usual 0666 & ~umask */
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  return fd;
}

ember_st_writer *ember_st_writer_open(const char *path, int n, const ember_st_spec *specs,
                                      int nmeta, const char *const *keys,
                                      const char *const *values) {
  for (int i = 0; i < n; i++)
    if (check_spec(path, &specs[i], i) != EMBER_OK) return NULL;
  for (int i = 0; i < nmeta; i++)
    if (!ember_utf8_valid(keys[i], strlen(keys[i])) || !ember_utf8_valid(values[i], strlen(values[i]))) {
      ember_error("%s: metadata must be UTF-8 text", path);
      return NULL;
    }
  ember_st_writer *w = calloc(1, sizeof *w);
  if (w == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  w->fd = -1;
  w->e = calloc(n ? (size_t)n : 1, sizeof *w->e);
  w->path = strdup(path);
  if (w->e == NULL || w->path == NULL) goto oom;
  for (int i = 0; i < n; i++) {
    w_entry *e = &w->e[i];
    if ((e->name = strdup(specs[i].name)) == NULL) goto oom;
    w->n = i + 1;
    e->dtype = specs[i].dtype;
    e->ndim = specs[i].ndim;
    if (e->ndim) memcpy(e->shape, specs[i].shape, e->ndim * sizeof *e->shape);
  }
  qsort(w->e, (size_t)n, sizeof *w->e, by_name);
  for (int i = 1; i < n; i++)
    if (strcmp(w->e[i].name, w->e[i - 1].name) == 0) {
      ember_error("%s: DuplicateTensorName: tensor \"%s\" is named twice", path, w->e[i].name);
      goto fail;
    }
  qsort(w->e, (size_t)n, sizeof *w->e, file_order);
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    w_entry *e = &w->e[i];
    uint64_t nel = 1, bits;
    int over = 0;
    for (int d = 0; d < e->ndim; d++) over |= __builtin_mul_overflow(nel, (uint64_t)e->shape[d], &nel);
    over |= __builtin_mul_overflow(nel, (uint64_t)ember_dtype_bits(e->dtype), &bits);
    if (over || bits / 8 > UINT64_MAX / 2 - off) {
      ember_error("%s: ValidationOverflow: the byte size of tensor \"%s\" overflows", path, e->name);
      goto fail;
    }
    if (bits % 8) {
      ember_error("%s: MisalignedSlice: tensor \"%s\" has %llu %s elements, which do not fill "
                  "whole bytes", path, e->name, (unsigned long long)nel, ember_st_dtype_name(e->dtype));
      goto fail;
    }
    e->begin = off;
    e->end = off += bits / 8;
  }
  buf b = {0};
  header_text(&b, w, nmeta, keys, values);
  if (b.oom) {
    free(b.p);
    goto oom;
  }
  if ((w->fd = make_temp(w)) < 0) {
    ember_error("%s: IoError: cannot create a file beside it: %s", path, strerror(errno));
    free(b.p);
    goto fail;
  }
  uint8_t len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)b.n >> (8 * i));
  w->data_start = 8 + b.n;
  ember_status st = ember_st_pwrite_full(w->fd, len8, 8, 0, path);
  if (st == EMBER_OK) st = ember_st_pwrite_full(w->fd, b.p, b.n, 8, path);
  /* the file's final size up front: a short disk fails here, not halfway through */
  if (st == EMBER_OK && off > 0 && posix_fallocate(w->fd, 0, (off_t)(w->data_start + off)) != 0 &&
      ftruncate(w->fd, (off_t)(w->data_start + off)) != 0)
    st = ember_error("%s: IoError: cannot size the file: %s", path, strerror(errno));
  free(b.p);
  if (st != EMBER_OK) goto fail;
  return w;
oom:
  ember_error("out of memory");
fail:
  ember_st_writer_abort(w);
  return NULL;
}

static w_entry *find_entry(ember_st_writer *w, const char *name) {
  for (int i = 0; i < w->n; i++)
    if (strcmp(w->e[i].name, name) == 0) return &w->e[i];
  return NULL;
}

ember_status ember_st_writer_write(ember_st_writer *w, const char *name, const ember_tensor *t) {
  w_entry *e = find_entry(w, name);
  if (e == NULL) return ember_error("%s: tensor \"%s\" was not declared", w->path, name);
  if (t->dtype != e->dtype)
    return ember_error("%s: tensor \"%s\" was declared %s but is %s", w->path, name,
                       ember_dtype_name(e->dtype), ember_dtype_name(t->dtype));
  if (t->ndim != e->ndim || memcmp(t->shape, e->shape, t->ndim * sizeof *t->shape) != 0) {
    char a[128], b[128];
    return ember_error("%s: tensor \"%s\" was declared of shape %s but has shape %s", w->path, name,
                       ember_shape_text(e->ndim, e->shape, a, sizeof a), ember_shape_str(t, b, sizeof b));
  }
  int on_device = t->storage->device != EMBER_CPU;
  if (!on_device && t->storage->data == NULL)
    return ember_error("%s: tensor \"%s\" is not in host memory", w->path, name);
  /* a device tensor comes over once, already contiguous */
  ember_tensor *c = on_device ? ember_to_device((ember_tensor *)t, EMBER_CPU)
                              : ember_contiguous((ember_tensor *)t);
  if (c == NULL) return EMBER_ERROR;
  ember_status st = ember_st_pwrite_full(w->fd, ember_tensor_data(c), ember_tensor_nbytes(c),
                                         w->data_start + e->begin, w->path);
  ember_tensor_release(c);
  if (st == EMBER_OK) e->written = 1;
  return st;
}

ember_status ember_st_writer_close(ember_st_writer *w) {
  for (int i = 0; i < w->n; i++)
    if (!w->e[i].written) {
      ember_error("%s: tensor \"%s\" was declared but never written; nothing was saved", w->path,
                  w->e[i].name);
      ember_st_writer_abort(w);
      return EMBER_ERROR;
    }
  if (fsync(w->fd) != 0 || close(w->fd) != 0) {
    w->fd = -1;
    ember_error("%s: IoError: cannot flush: %s", w->path, strerror(errno));
    ember_st_writer_abort(w);
    return EMBER_ERROR;
  }
  w->fd = -1;
  if (rename(w->tmp, w->path) != 0) {
    ember_error("%s: IoError: cannot rename into place: %s", w->path, strerror(errno));
    ember_st_writer_abort(w);
    return EMBER_ERROR;
  }
  free(w->tmp);
  w->tmp = NULL;
  free_writer(w);
  return EMBER_OK;
}

ember_status ember_st_save(const char *path, int n, const char *const *names,
                           ember_tensor *const *tensors, int nmeta,
                           const char *const *keys, const char *const *values) {
  ember_st_spec *specs = malloc((n ? (size_t)n : 1) * sizeof *specs);
  if (specs == NULL) return ember_error("out of memory");
  for (int i = 0; i < n; i++)
    specs[i] = (ember_st_spec){ names[i], tensors[i]->dtype, tensors[i]->ndim, tensors[i]->shape };
  ember_st_writer *w = ember_st_writer_open(path, n, specs, nmeta, keys, values);
  free(specs);
  if (w == NULL) return EMBER_ERROR;
  for (int i = 0; i < n; i++)
    if (ember_st_writer_write(w, names[i], tensors[i]) != EMBER_OK) {
      ember_st_writer_abort(w);
      return EMBER_ERROR;
    }
  return ember_st_writer_close(w);
}
