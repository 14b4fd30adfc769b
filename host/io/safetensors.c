/*
** safetensors.c — reading safetensors files: the header's validation, the file
** object, whole tensors (views onto a mapping, or pread) and the dtype names.
**
** Layout: 8 bytes little-endian N, N bytes of UTF-8 JSON, then the data section.
** Validation follows the reference implementation step by step, so a broken file
** gets the error name the reference would give it; ember also refuses a tensor name
** given twice (the reference keeps the last one).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "json.h"
#include "st_internal.h"

/* {====== dtype names, in the safetensors order (the writer sorts by it) */

/* names held in place: a table of pointers costs the shared runtime a relocation each */
static const struct { char name[12]; ember_dtype dt; } st_dtypes[] = {
  {"BOOL", EMBER_BOOL}, {"F4", EMBER_F4}, {"F6_E2M3", EMBER_F6_E2M3},
  {"F6_E3M2", EMBER_F6_E3M2}, {"U8", EMBER_U8}, {"I8", EMBER_I8},
  {"F8_E5M2", EMBER_F8_E5M2}, {"F8_E4M3", EMBER_F8_E4M3}, {"F8_E8M0", EMBER_F8_E8M0},
  {"F8_E4M3FNUZ", EMBER_F8_E4M3FNUZ}, {"F8_E5M2FNUZ", EMBER_F8_E5M2FNUZ},
  {"I16", EMBER_I16}, {"U16", EMBER_U16}, {"F16", EMBER_F16}, {"BF16", EMBER_BF16},
  {"I32", EMBER_I32}, {"U32", EMBER_U32}, {"F32", EMBER_F32}, {"C64", EMBER_C64},
  {"F64", EMBER_F64}, {"I64", EMBER_I64}, {"U64", EMBER_U64},
};
#define NST_DTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

const char *ember_st_dtype_name(ember_dtype dt) {
  for (int i = 0; i < NST_DTYPES; i++)
    if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
  return NULL;
}

ember_dtype ember_st_dtype_from_name(const char *name) {
  for (int i = 0; i < NST_DTYPES; i++)
    if (strcmp(st_dtypes[i].name, name) == 0) return st_dtypes[i].dt;
  return EMBER_DTYPE_NONE;
}

int ember_st_dtype_rank(ember_dtype dt) {
  for (int i = 0; i < NST_DTYPES; i++)
    if (st_dtypes[i].dt == dt) return i;
  return -1;
}

/* }====== */

/* {====== the file object */

ember_safetensors *ember_st_new(ember_st_backend backend) {
  ember_safetensors *f = calloc(1, sizeof *f);
  if (f == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  f->refcount = 1;
  f->backend = backend;
  return f;
}

static void destroy(ember_safetensors *f) {
  for (int i = 0; i < f->nshards; i++) {
    st_shard *s = &f->shards[i];
    if (s->map) munmap(s->map, s->size);
    if (s->fd >= 0) close(s->fd);
    free(s->path);
  }
  for (int i = 0; i < f->ntensors; i++) {
    free((char *)f->tensors[i].name);
    free((int64_t *)f->tensors[i].shape);
  }
  for (int i = 0; i < f->nmeta; i++) {
    free(f->meta_keys[i]);
    free(f->meta_values[i]);
  }
  free(f->shards);
  free(f->tensors);
  free(f->meta_keys);
  free(f->meta_values);
  free(f);
}

void ember_st_retain(ember_safetensors *f) {
  __atomic_add_fetch(&f->refcount, 1, __ATOMIC_RELAXED);
}

void ember_st_close(ember_safetensors *f) {
  if (f && __atomic_sub_fetch(&f->refcount, 1, __ATOMIC_ACQ_REL) == 0) destroy(f);
}

int ember_st_count(const ember_safetensors *f) { return f->ntensors; }

const ember_st_info *ember_st_info_at(const ember_safetensors *f, int i) {
  return i >= 0 && i < f->ntensors ? &f->tensors[i] : NULL;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const ember_st_info *)a)->name, ((const ember_st_info *)b)->name);
}

const ember_st_info *ember_st_find(const ember_safetensors *f, const char *name) {
  ember_st_info key = { .name = name };
  if (f->ntensors == 0) return NULL;
  return bsearch(&key, f->tensors, (size_t)f->ntensors, sizeof key, by_name);
}

int ember_st_metadata_count(const ember_safetensors *f) { return f->nmeta; }
const char *ember_st_metadata_key(const ember_safetensors *f, int i) {
  return i >= 0 && i < f->nmeta ? f->meta_keys[i] : NULL;
}
const char *ember_st_metadata_value(const ember_safetensors *f, int i) {
  return i >= 0 && i < f->nmeta ? f->meta_values[i] : NULL;
}

static char *dup_bytes(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

ember_status ember_st_add_metadata(ember_safetensors *f, const char *key, size_t keylen,
                                   const char *value, size_t valuelen) {
  if (f->nmeta == f->capmeta) {
    int cap = f->capmeta ? 2 * f->capmeta : 8;
    char **k = realloc(f->meta_keys, cap * sizeof *k);
    if (k) f->meta_keys = k;
    char **v = realloc(f->meta_values, cap * sizeof *v);
    if (v) f->meta_values = v;
    if (k == NULL || v == NULL) return ember_error("out of memory");
    f->capmeta = cap;
  }
  char *k = dup_bytes(key, keylen), *v = dup_bytes(value, valuelen);
  if (k == NULL || v == NULL) {
    free(k);
    free(v);
    return ember_error("out of memory");
  }
  f->meta_keys[f->nmeta] = k;
  f->meta_values[f->nmeta] = v;
  f->nmeta++;
  return EMBER_OK;
}

static ember_status add_tensor(ember_safetensors *f, const ember_st_info *info) {
  if (f->ntensors == f->captensors) {
    int cap = f->captensors ? 2 * f->captensors : 16;
    ember_st_info *t = realloc(f->tensors, cap * sizeof *t);
    if (t == NULL) return ember_error("out of memory");
    f->tensors = t;
    f->captensors = cap;
  }
  f->tensors[f->ntensors++] = *info;
  return EMBER_OK;
}

ember_status ember_st_finish(ember_safetensors *f, const char *label) {
  if (f->ntensors) qsort(f->tensors, (size_t)f->ntensors, sizeof *f->tensors, by_name);
  for (int i = 1; i < f->ntensors; i++)
    if (strcmp(f->tensors[i].name, f->tensors[i - 1].name) == 0)
      return ember_error("%s: DuplicateTensorName: tensor \"%s\" is named twice", label,
                         f->tensors[i].name);
  return EMBER_OK;
}

/* }====== */

/* {====== header parsing and validation */

/* One tensor entry as parsed, before validation against the others. */
typedef struct parsed {
  ember_st_info info;
} parsed;

static ember_status deser(const char *label, const char *fmt, const char *arg) {
  char msg[300];
  snprintf(msg, sizeof msg, fmt, arg);
  return ember_error("%s: InvalidHeaderDeserialization: %s", label, msg);
}

/* Fills info from a tensor's JSON object (name already set). */
static ember_status parse_info(const char *label, const ember_json *v, ember_st_info *info) {
  const char *name = info->name;
  if (v->type != EMBER_JSON_OBJECT) return deser(label, "tensor \"%s\" is not an object", name);
  const ember_json *dtype = NULL, *shape = NULL, *offsets = NULL;
  for (const ember_json *m = v->child; m; m = m->next) {
    const ember_json **slot = strcmp(m->key, "dtype") == 0 ? &dtype
                            : strcmp(m->key, "shape") == 0 ? &shape
                            : strcmp(m->key, "data_offsets") == 0 ? &offsets : NULL;
    if (slot == NULL) continue;   /* unknown fields are allowed, as the reference allows */
    if (*slot) return deser(label, "tensor \"%s\" repeats a field", name);
    *slot = m;
  }
  if (!dtype) return deser(label, "tensor \"%s\": missing field dtype", name);
  if (!shape) return deser(label, "tensor \"%s\": missing field shape", name);
  if (!offsets) return deser(label, "tensor \"%s\": missing field data_offsets", name);
  if (dtype->type != EMBER_JSON_STRING || (info->dtype = ember_st_dtype_from_name(dtype->str)) < 0)
    return deser(label, "tensor \"%s\": unknown dtype", name);
  if (shape->type != EMBER_JSON_ARRAY)
    return deser(label, "tensor \"%s\": shape is not an array", name);
  int64_t *dims = malloc((shape->count ? shape->count : 1) * sizeof *dims);
  if (dims == NULL) return ember_error("out of memory");
  info->shape = dims;
  info->ndim = (int)shape->count;
  if ((size_t)info->ndim != shape->count) return deser(label, "tensor \"%s\": too many dims", name);
  int k = 0;
  for (const ember_json *d = shape->child; d; d = d->next) {
    uint64_t u;
    if (!ember_json_u64(d, &u))
      return deser(label, "tensor \"%s\": shape entries must be non-negative integers", name);
    if (u > INT64_MAX)
      return ember_error("%s: ValidationOverflow: tensor \"%s\" has a dim beyond 2^63", label, name);
    dims[k++] = (int64_t)u;
  }
  if (offsets->type != EMBER_JSON_ARRAY || offsets->count != 2 ||
      !ember_json_u64(offsets->child, &info->begin) || !ember_json_u64(offsets->child->next, &info->end))
    return deser(label, "tensor \"%s\": data_offsets must be two non-negative integers", name);
  return EMBER_OK;
}

static int by_offsets(const void *a, const void *b) {
  const ember_st_info *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* The reference's checks over tensors sorted by offsets: contiguous from 0, each
** size equal to shape x dtype, all without overflow. Returns the data section's end. */
static ember_status check_offsets(const char *label, ember_st_info *t, int n, uint64_t *end) {
  if (n) qsort(t, (size_t)n, sizeof *t, by_offsets);
  uint64_t start = 0;
  for (int i = 0; i < n; i++) {
    if (t[i].begin != start || t[i].end < t[i].begin)
      return ember_error("%s: InvalidOffset: tensor \"%s\" has data_offsets [%llu, %llu] but "
                         "the previous tensor ends at %llu", label, t[i].name,
                         (unsigned long long)t[i].begin, (unsigned long long)t[i].end,
                         (unsigned long long)start);
    start = t[i].end;
    uint64_t nel = 1;
    for (int d = 0; d < t[i].ndim; d++)
      if (__builtin_mul_overflow(nel, (uint64_t)t[i].shape[d], &nel))
        return ember_error("%s: ValidationOverflow: the shape of tensor \"%s\" overflows", label, t[i].name);
    uint64_t bits;
    if (__builtin_mul_overflow(nel, (uint64_t)ember_dtype_bits(t[i].dtype), &bits))
      return ember_error("%s: ValidationOverflow: the byte size of tensor \"%s\" overflows", label, t[i].name);
    if (bits % 8)
      return ember_error("%s: MisalignedSlice: tensor \"%s\" holds %llu %s elements, which do not "
                         "fill whole bytes", label, t[i].name, (unsigned long long)nel,
                         ember_st_dtype_name(t[i].dtype));
    if (t[i].end - t[i].begin != bits / 8)
      return ember_error("%s: TensorInvalidInfo: tensor \"%s\" (%s) needs %llu bytes but its "
                         "data_offsets span %llu", label, t[i].name, ember_st_dtype_name(t[i].dtype),
                         (unsigned long long)(bits / 8), (unsigned long long)(t[i].end - t[i].begin));
  }
  *end = start;
  return EMBER_OK;
}

static ember_status parse_metadata(ember_safetensors *f, const char *label, const ember_json *m,
                                   int keep) {
  if (m->type == EMBER_JSON_NULL) return EMBER_OK;
  if (m->type != EMBER_JSON_OBJECT) return deser(label, "%s is not an object", "__metadata__");
  for (const ember_json *e = m->child; e; e = e->next) {
    if (e->type != EMBER_JSON_STRING)
      return deser(label, "__metadata__ value for \"%s\" is not a string", e->key);
    for (const ember_json *g = m->child; g != e; g = g->next)
      if (g->keylen == e->keylen && memcmp(g->key, e->key, e->keylen) == 0)
        return deser(label, "__metadata__ repeats the key \"%s\"", e->key);
    if (keep && ember_st_add_metadata(f, e->key, e->keylen, e->str, e->len) != EMBER_OK)
      return EMBER_ERROR;
  }
  return EMBER_OK;
}

/* Parses and validates shard s's header (bytes hdr[0..n)), adding its tensors. */
static ember_status parse_header(ember_safetensors *f, int shard, const char *hdr, size_t n,
                                 int with_metadata) {
  st_shard *s = &f->shards[shard];
  const char *label = s->path;
  if (!ember_utf8_valid(hdr, n))
    return ember_error("%s: InvalidHeader: the header is not valid UTF-8", label);
  char err[200];
  /* 128 levels: serde_json's own recursion limit, so ember accepts what the reference does */
  ember_json_doc *doc = ember_json_parse(hdr, n, 128, err, sizeof err);
  if (doc == NULL) return ember_error("%s: InvalidHeaderDeserialization: %s", label, err);
  ember_json *root = ember_json_root(doc);
  ember_status st = EMBER_OK;
  int first = f->ntensors, seen_meta = 0;
  if (root->type != EMBER_JSON_OBJECT) {
    st = deser(label, "the header is %s, not an object", "a JSON value");
    goto done;
  }
  for (const ember_json *m = root->child; m && st == EMBER_OK; m = m->next) {
    if (strcmp(m->key, "__metadata__") == 0 && m->keylen == 12) {
      st = seen_meta++ ? deser(label, "%s is given twice", "__metadata__")
                       : parse_metadata(f, label, m, with_metadata);
      continue;
    }
    ember_st_info info = { .shard = shard };
    if (strlen(m->key) != m->keylen) {
      st = deser(label, "a tensor name contains %s", "a NUL character");
      break;
    }
    if ((info.name = dup_bytes(m->key, m->keylen)) == NULL) {
      st = ember_error("out of memory");
      break;
    }
    st = add_tensor(f, &info);
    if (st != EMBER_OK) {
      free((char *)info.name);
      break;
    }
    st = parse_info(label, m, &f->tensors[f->ntensors - 1]);
  }
  /* a name given twice is its own error, whatever its offsets say */
  if (st == EMBER_OK) {
    int n_here = f->ntensors - first;
    ember_st_info *t = n_here ? f->tensors + first : NULL;
    if (n_here) qsort(t, (size_t)n_here, sizeof *t, by_name);
    for (int i = 1; i < n_here && st == EMBER_OK; i++)
      if (strcmp(t[i].name, t[i - 1].name) == 0)
        st = ember_error("%s: DuplicateTensorName: tensor \"%s\" is named twice", label, t[i].name);
    uint64_t end = 0;
    if (st == EMBER_OK) st = check_offsets(label, t, n_here, &end);
    if (st == EMBER_OK && end + s->data_start != s->size)
      st = ember_error("%s: MetadataIncompleteBuffer: the tensors end at byte %llu of the data "
                       "section but the file holds %llu bytes of data", label,
                       (unsigned long long)end, (unsigned long long)(s->size - s->data_start));
  }
done:
  ember_json_free(doc);
  return st;
}

/* }====== */

/* {====== opening */

ember_status ember_st_pread_full(int fd, void *buf, size_t n, uint64_t off, const char *label) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = pread(fd, p, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ember_error("%s: IoError: read failed: %s", label, strerror(errno));
    if (r == 0) return ember_error("%s: IoError: the file ended early (was it changed?)", label);
    p += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return EMBER_OK;
}

/* Checks the 8-byte length against the file size; *n gets the header length. */
static ember_status header_length(const char *label, const uint8_t *first8, size_t size, uint64_t *n) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | first8[i];
  if (v > EMBER_ST_MAX_HEADER)
    return ember_error("%s: HeaderTooLarge: the header claims %llu bytes (the limit is %u)", label,
                       (unsigned long long)v, EMBER_ST_MAX_HEADER);
  if (8 + v > size)
    return ember_error("%s: InvalidHeaderLength: the header claims %llu bytes but the file has "
                       "only %zu after the length", label, (unsigned long long)v, size - 8);
  *n = v;
  return EMBER_OK;
}

static st_shard *new_shard(ember_safetensors *f, const char *path) {
  st_shard *s = realloc(f->shards, (f->nshards + 1) * sizeof *s);
  if (s == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  f->shards = s;
  s = &f->shards[f->nshards];
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->path = dup_bytes(path, strlen(path));
  if (s->path == NULL) {
    ember_error("out of memory");
    return NULL;
  }
  f->nshards++;
  return s;
}

ember_status ember_st_add_file(ember_safetensors *f, const char *path, int with_metadata) {
  st_shard *s = new_shard(f, path);
  if (s == NULL) return EMBER_ERROR;
  int shard = f->nshards - 1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ember_error("%s: IoError: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return ember_error("%s: IoError: not a regular file", path);
  }
  s->size = (size_t)sb.st_size;
  s->fd = fd;
  if (s->size < 8)
    return ember_error("%s: HeaderTooSmall: the file has %zu bytes, fewer than the 8 of the "
                       "header length", path, s->size);
  uint8_t first8[8];
  uint64_t n;
  if (ember_st_pread_full(fd, first8, 8, 0, path) != EMBER_OK ||
      header_length(path, first8, s->size, &n) != EMBER_OK)
    return EMBER_ERROR;
  s->data_start = 8 + n;
  char *hdr = malloc(n ? n : 1);
  if (hdr == NULL) return ember_error("out of memory");
  ember_status st = ember_st_pread_full(fd, hdr, n, 8, path);
  if (st == EMBER_OK) st = parse_header(f, shard, hdr, n, with_metadata);
  free(hdr);
  if (st != EMBER_OK) return st;
  if (f->backend == EMBER_ST_MMAP && s->size > 0) {
    /* private and writable: an in-place op on a loaded tensor changes this process's
    ** copy of the page, never the file, and cannot fault */
    void *m = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return ember_error("%s: IoError: mmap failed: %s", path, strerror(errno));
    s->map = m;
    s->base = m;
    close(fd);
    s->fd = -1;
  }
  return EMBER_OK;
}

ember_safetensors *ember_st_open(const char *path, ember_st_backend backend) {
#ifndef EMBER_RT   /* the runtime opens programs, which are single files */
  struct stat sb;
  size_t len = strlen(path);
  if ((stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) ||
      (len >= 11 && strcmp(path + len - 11, ".index.json") == 0))
    return ember_st_open_sharded(path, backend);
#endif
  ember_safetensors *f = ember_st_new(backend);
  if (f == NULL) return NULL;
  if (ember_st_add_file(f, path, 1) != EMBER_OK || ember_st_finish(f, path) != EMBER_OK) {
    destroy(f);
    return NULL;
  }
  return f;
}

ember_safetensors *ember_st_open_memory(const void *data, size_t n) {
  const char *label = "<memory>";
  ember_safetensors *f = ember_st_new(EMBER_ST_MMAP);
  if (f == NULL) return NULL;
  st_shard *s = new_shard(f, label);
  uint64_t hn;
  if (s == NULL) goto fail;
  s->base = data;
  s->size = n;
  if (n < 8) {
    ember_error("%s: HeaderTooSmall: %zu bytes, fewer than the 8 of the header length", label, n);
    goto fail;
  }
  if (header_length(label, data, n, &hn) != EMBER_OK) goto fail;
  s->data_start = 8 + hn;
  if (parse_header(f, 0, (const char *)data + 8, hn, 1) != EMBER_OK) goto fail;
  if (ember_st_finish(f, label) != EMBER_OK) goto fail;
  return f;
fail:
  destroy(f);
  return NULL;
}

/* }====== */

/* {====== reading tensors */

static const ember_st_info *lookup(const ember_safetensors *f, const char *name) {
  const ember_st_info *info = ember_st_find(f, name);
  if (info == NULL)
    ember_error("%s: TensorNotFound: no tensor named \"%s\"", f->nshards ? f->shards[0].path : "?", name);
  else if (info->ndim > EMBER_MAX_DIMS) {
    ember_error("%s: tensor \"%s\" has %d dims; ember tensors have at most %d",
                f->shards[info->shard].path, name, info->ndim, EMBER_MAX_DIMS);
    return NULL;
  }
  int64_t span = 1;     /* as ember tensors require: nonzero sizes multiply without overflow */
  for (int d = 0; info && d < info->ndim; d++)
    if (info->shape[d] > 1 && (__builtin_mul_overflow(span, info->shape[d], &span) || span > INT64_MAX / 16)) {
      ember_error("%s: tensor \"%s\": shape too large for an ember tensor", f->shards[info->shard].path, name);
      return NULL;
    }
  return info;
}

static void release_file(void *data, size_t nbytes, void *ctx) {
  (void)data;
  (void)nbytes;
  ember_st_close(ctx);
}

/* Copies bytes [off, off+n) of shard s's data section into dst. */
static ember_status read_bytes(ember_safetensors *f, const st_shard *s, void *dst, size_t n, uint64_t off) {
  (void)f;
  if (n == 0) return EMBER_OK;
  if (s->base) {
    memcpy(dst, s->base + s->data_start + off, n);
    return EMBER_OK;
  }
  return ember_st_pread_full(s->fd, dst, n, s->data_start + off, s->path);
}

ember_tensor *ember_st_get(ember_safetensors *f, const char *name) {
  const ember_st_info *info = lookup(f, name);
  if (info == NULL) return NULL;
  const st_shard *s = &f->shards[info->shard];
  size_t nbytes = (size_t)(info->end - info->begin);
  if (s->base) {
    uint8_t *p = (uint8_t *)s->base + s->data_start + info->begin;
    size_t align = ember_dtype_size(info->dtype) > 8 ? 8 : ember_dtype_size(info->dtype);
    if (((uintptr_t)p % align) == 0) {   /* a misaligned tensor is copied instead */
      ember_st_retain(f);
      ember_tensor *t = ember_tensor_from_data(p, info->dtype, info->ndim, info->shape, NULL,
                                               release_file, f);
      if (t == NULL) {
        ember_st_close(f);
        return NULL;
      }
      if (s->map) t->storage->kind = EMBER_ALLOC_MMAP;
      return t;
    }
  }
  ember_tensor *t = ember_tensor_empty(info->dtype, info->ndim, info->shape);
  if (t && read_bytes(f, s, ember_tensor_data(t), nbytes, info->begin) != EMBER_OK) {
    ember_tensor_release(t);
    return NULL;
  }
  return t;
}

/* }====== */

/* {====== slices: only the bytes the ranges select are read */

typedef struct run_reader {
  ember_safetensors *f;
  const st_shard *s;
  const ember_st_info *info;
  uint8_t *dst;
  uint64_t dst_bits;
  uint64_t pending_off, pending_len;   /* elements, in the tensor's row-major order */
} run_reader;

static ember_status flush_run(run_reader *r) {
  if (r->pending_len == 0) return EMBER_OK;
  int bits = ember_dtype_bits(r->info->dtype);
  uint64_t b0 = r->pending_off * bits, nb = r->pending_len * bits;
  if (b0 % 8 || nb % 8 || r->dst_bits % 8)
    return ember_error("%s: MisalignedSlice: this slice of %s tensor \"%s\" does not start and "
                       "end on byte boundaries", r->s->path, ember_st_dtype_name(r->info->dtype),
                       r->info->name);
  ember_status st = read_bytes(r->f, r->s, r->dst + r->dst_bits / 8, nb / 8, r->info->begin + b0 / 8);
  r->dst_bits += nb;
  r->pending_len = 0;
  return st;
}

static ember_status add_run(run_reader *r, uint64_t off, uint64_t len) {
  if (r->pending_len && r->pending_off + r->pending_len == off) {
    r->pending_len += len;     /* adjacent in the file: one read */
    return EMBER_OK;
  }
  if (flush_run(r) != EMBER_OK) return EMBER_ERROR;
  r->pending_off = off;
  r->pending_len = len;
  return EMBER_OK;
}

ember_tensor *ember_st_get_slice(ember_safetensors *f, const char *name, int nranges,
                                 const ember_st_range *ranges) {
  const ember_st_info *info = lookup(f, name);
  if (info == NULL) return NULL;
  int nd = info->ndim;
  if (nranges > nd) {
    ember_error("slice: %d ranges for tensor \"%s\" with %d dims", nranges, name, nd);
    return NULL;
  }
  int64_t start[EMBER_MAX_DIMS], step[EMBER_MAX_DIMS], count[EMBER_MAX_DIMS], stride[EMBER_MAX_DIMS];
  int64_t oshape[EMBER_MAX_DIMS];
  int ond = 0;
  for (int d = 0; d < nd; d++) {
    int64_t size = info->shape[d];
    ember_st_range r = d < nranges ? ranges[d] : (ember_st_range){0, EMBER_ST_END, 1, 0};
    if (r.drop) {
      int64_t i = r.start < 0 ? r.start + size : r.start;
      if (i < 0 || i >= size) {
        ember_error("slice: index %lld out of range for dim %d of tensor \"%s\" (size %lld)",
                    (long long)r.start, d + 1, name, (long long)size);
        return NULL;
      }
      start[d] = i, step[d] = 1, count[d] = 1;
      continue;
    }
    if (r.step < 1) {
      ember_error("slice: step must be positive (dim %d of tensor \"%s\")", d + 1, name);
      return NULL;
    }
    int64_t a = r.start < 0 ? r.start + size : r.start;
    int64_t b = r.stop == EMBER_ST_END ? size : r.stop < 0 ? r.stop + size : r.stop;
    a = a < 0 ? 0 : a > size ? size : a;
    b = b < a ? a : b > size ? size : b;
    start[d] = a, step[d] = r.step;
    count[d] = b > a ? (b - a - 1) / r.step + 1 : 0;   /* no b - a + step overflow */
    oshape[ond++] = count[d];
  }
  ember_contiguous_strides(nd, info->shape, stride);
  ember_tensor *out = ember_tensor_empty(info->dtype, ond, oshape);
  if (out == NULL) return NULL;
  for (int d = 0; d < nd; d++)
    if (count[d] == 0) return out;
  /* the innermost dims taken whole, plus one more taken with step 1, are one run */
  int k = nd;
  while (k > 0 && start[k - 1] == 0 && step[k - 1] == 1 && count[k - 1] == info->shape[k - 1]) k--;
  int64_t run = 1;
  for (int d = k; d < nd; d++) run *= count[d];
  if (k > 0 && step[k - 1] == 1) run *= count[--k];
  run_reader r = { f, &f->shards[info->shard], info, ember_tensor_data(out), 0, 0, 0 };
  int64_t idx[EMBER_MAX_DIMS] = {0};
  for (;;) {
    int64_t off = 0;
    for (int d = 0; d < nd; d++)
      off += (start[d] + (d < k ? idx[d] : 0) * step[d]) * stride[d];
    if (add_run(&r, (uint64_t)off, (uint64_t)run) != EMBER_OK) goto fail;
    int d = k - 1;
    while (d >= 0 && ++idx[d] == count[d]) idx[d--] = 0;
    if (d < 0) break;
  }
  if (flush_run(&r) != EMBER_OK) goto fail;
  return out;
fail:
  ember_tensor_release(out);
  return NULL;
}

/* }====== */
