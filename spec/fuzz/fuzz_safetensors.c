/*
** fuzz_safetensors.c — libFuzzer target for the safetensors reader and the strict
** JSON reader under it (make fuzz; see spec/fuzz/run.sh).
**
** Every input is taken three ways:
**   1. as JSON text, whole (ember_json_parse), and its parse tree checked;
**   2. as a safetensors file in memory (ember_st_open_memory): every tensor read,
**      converted to f32, sliced with ranges taken from the input's last bytes, and
**      each slice checked element by element against the whole tensor;
**   3. as the same file on disk (a memfd), through the mmap and the pread backends,
**      which must agree with (2): same error name, or same tensors and bytes;
**   4. when it starts with '{', as a sharded checkpoint's model.safetensors.index.json
**      beside two fixed shard files (a.safetensors, b.safetensors).
** A crash, a sanitizer report or a failed check (abort) is a finding. Checks compare
** against what the format and the API's comments say, computed here independently.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember.h"
#include "json.h"

#define MAX_NBYTES (64u << 20)  /* tensors bigger than this are not read (speed) */
#define MAX_NUMEL 4096          /* nor converted or compared element by element */

#define CHECK(c) ((c) ? (void)0 : fail(#c, __LINE__))

static void fail(const char *what, int line) {
  fprintf(stderr, "fuzz_safetensors.c:%d: check failed: %s\n", line, what);
  abort();
}

/* {====== input bytes as parameters: read backwards from the end */

typedef struct cursor { const uint8_t *p; size_t n, at; } cursor;

static uint8_t take(cursor *c) {
  if (c->n == 0) return 0;
  c->at = c->at == 0 ? c->n - 1 : c->at - 1;
  return c->p[c->at];
}

static const int64_t specials[] = { INT64_MIN, INT64_MAX, INT64_MIN + 1, -1, 0, 1,
                                    (int64_t)1 << 62, 1000000007 };
#define NSPECIAL ((int)(sizeof specials / sizeof specials[0]))

static ember_st_range make_range(cursor *c) {
  uint8_t b0 = take(c), b1 = take(c), b2 = take(c), b3 = take(c);
  ember_st_range r;
  r.drop = (b0 & 7) == 0;
  r.start = (b0 & 0x10) ? specials[b1 % NSPECIAL] : (int8_t)b1;
  r.stop = (b0 & 8) ? EMBER_ST_END : (b0 & 0x20) ? specials[b2 % NSPECIAL] : (int8_t)b2;
  r.step = (b3 & 0x80) ? specials[b3 % NSPECIAL] : 1 + (b3 & 3);
  return r;
}

/* }====== */

/* {====== JSON: the tree must be consistent with what json.h promises */

/* RFC 3629, written out independently of json.c. */
static int utf8_ok(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
    i += len;
  }
  return 1;
}

/* A number literal as RFC 8259 writes it. */
static int number_ok(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i < n && s[i] == '0') i++;
  else if (i < n && s[i] >= '1' && s[i] <= '9') while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  else return 0;
  if (i < n && s[i] == '.') {
    size_t d = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return 0;
  }
  return i == n;
}

static void check_u64(const ember_json *v) {
  uint64_t got = 0, want = 0;
  int ok = 1;
  for (size_t i = 0; i < v->len && ok; i++) {
    unsigned d = (unsigned char)v->str[i] - '0';
    if (d > 9 || want > (UINT64_MAX - d) / 10) ok = 0;
    else want = want * 10 + d;
  }
  int r = ember_json_u64(v, &got);
  CHECK(r == ok);
  if (ok) CHECK(got == want);
}

/* depth: containers around v; the parser allows max_depth of them, v included */
static void walk(const ember_json *v, int depth, int max_depth) {
  CHECK(depth <= max_depth);
  switch (v->type) {
    case EMBER_JSON_NULL: case EMBER_JSON_FALSE: case EMBER_JSON_TRUE: break;
    case EMBER_JSON_NUMBER:
      CHECK(v->str != NULL && number_ok(v->str, v->len));
      check_u64(v);
      break;
    case EMBER_JSON_STRING:
      CHECK(v->str != NULL && v->str[v->len] == '\0');
      CHECK(utf8_ok((const uint8_t *)v->str, v->len));
      break;
    case EMBER_JSON_ARRAY: case EMBER_JSON_OBJECT: {
      size_t n = 0;
      CHECK(depth < max_depth);
      for (const ember_json *m = v->child; m; m = m->next, n++) {
        if (v->type == EMBER_JSON_OBJECT) {
          CHECK(m->key != NULL && m->key[m->keylen] == '\0');
          CHECK(utf8_ok((const uint8_t *)m->key, m->keylen));
          if (strlen(m->key) == m->keylen) {   /* the first member of that name */
            const ember_json *first = v->child;
            while (first->keylen != m->keylen || memcmp(first->key, m->key, m->keylen)) first = first->next;
            CHECK(ember_json_get(v, m->key) == first);
          }
        }
        walk(m, depth + 1, max_depth);
      }
      CHECK(n == v->count);
      break;
    }
    default: CHECK(!"unknown JSON type");
  }
}

static void fuzz_json(const uint8_t *data, size_t size, int max_depth) {
  char err[256];
  err[0] = '\0';
  ember_json_doc *d = ember_json_parse((const char *)data, size, max_depth, err, sizeof err);
  if (d == NULL) {
    CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
    return;
  }
  CHECK(utf8_ok(data, size));   /* strict: invalid UTF-8 anywhere is refused */
  walk(ember_json_root(d), 0, max_depth);
  ember_json_free(d);
}

/* }====== */

/* {====== safetensors */

static int64_t numel_of(const ember_st_info *in) {
  int64_t n = 1;
  for (int d = 0; d < in->ndim; d++)
    if (__builtin_mul_overflow(n, in->shape[d], &n)) return -1;
  return n;
}

/* Touches every element: ASan sees any read outside the tensor's memory. */
static double sum_f32(ember_tensor *t) {
  ember_tensor *f = ember_to_dtype(t, EMBER_F32);
  double s = 0;
  if (f == NULL) return 0;   /* some dtypes do not convert (c64) */
  CHECK(f->dtype == EMBER_F32 && ember_tensor_numel(f) == ember_tensor_numel(t));
  for (int64_t i = 0, n = ember_tensor_numel(f); i < n; i++) s += ember_tensor_get(f, i);
  ember_tensor_release(f);
  return s;
}

/* Element i of a contiguous tensor, as raw bytes (sub-byte: the code). */
static uint64_t raw_at(const ember_tensor *t, int64_t i) {
  const uint8_t *p = ember_tensor_data(t);
  int bits = ember_dtype_bits(t->dtype);
  if (bits < 8) {   /* packed little-endian bit stream */
    uint64_t b0 = (uint64_t)i * bits, v = 0;
    for (int k = 0; k < bits; k++) v |= (uint64_t)(p[(b0 + k) / 8] >> ((b0 + k) % 8) & 1) << k;
    return v;
  }
  uint64_t v = 0;
  memcpy(&v, p + (size_t)i * (bits / 8), bits / 8);   /* little-endian host */
  return v;
}

/* Slices `name` with ranges from the cursor; when it succeeds, every element must be
** the whole tensor's element at the index Python's slicing rules give. */
static void try_slice(ember_safetensors *f, const ember_st_info *in, const ember_tensor *whole,
                      cursor *c) {
  int nd = in->ndim;
  int nr = take(c) % (nd + 2);   /* sometimes one too many */
  ember_st_range r[EMBER_MAX_DIMS + 1];
  for (int d = 0; d < nr && d <= EMBER_MAX_DIMS; d++) r[d] = make_range(c);
  if (nr > EMBER_MAX_DIMS + 1) nr = EMBER_MAX_DIMS + 1;
  ember_tensor *s = ember_st_get_slice(f, in->name, nr, r);
  /* the expected result, computed independently */
  int valid = nr <= nd && nd <= EMBER_MAX_DIMS;
  int64_t start[EMBER_MAX_DIMS], step[EMBER_MAX_DIMS], count[EMBER_MAX_DIMS];
  int64_t oshape[EMBER_MAX_DIMS];
  int ond = 0;
  for (int d = 0; d < nd && valid; d++) {
    int64_t size = in->shape[d];
    ember_st_range q = d < nr ? r[d] : (ember_st_range){0, EMBER_ST_END, 1, 0};
    if (q.drop) {
      int64_t i = q.start;
      if (i < 0) i = i < -size ? -1 : i + size;
      if (i < 0 || i >= size) { valid = 0; break; }
      start[d] = i, step[d] = 1, count[d] = 1;
      continue;
    }
    if (q.step < 1) { valid = 0; break; }
    int64_t a = q.start, b = q.stop;
    a = a < 0 ? (a < -size ? 0 : a + size) : (a > size ? size : a);
    b = b < 0 ? (b < -size ? 0 : b + size) : (b > size ? size : b);
    if (b < a) b = a;
    start[d] = a, step[d] = q.step;
    count[d] = b == a ? 0 : (b - a - 1) / q.step + 1;
    oshape[ond++] = count[d];
  }
  if (!valid) {
    CHECK(s == NULL);
    return;
  }
  if (s == NULL) {   /* only sub-byte dtypes may refuse a valid range */
    CHECK(ember_dtype_bits(in->dtype) < 8 && strstr(ember_last_error(), "MisalignedSlice"));
    return;
  }
  CHECK(s->dtype == in->dtype && s->ndim == ond && ember_tensor_is_contiguous(s));
  int64_t n = 1;
  for (int d = 0; d < ond; d++) CHECK(s->shape[d] == oshape[d]), n *= oshape[d];
  if (whole && n > 0 && n <= MAX_NUMEL) {   /* then the whole tensor's numel fits */
    int64_t stride[EMBER_MAX_DIMS], idx[EMBER_MAX_DIMS] = {0}, m = 1;
    for (int d = nd - 1; d >= 0; d--) stride[d] = m, m *= in->shape[d];
    for (int64_t i = 0; i < n; i++) {
      int64_t src = 0;
      for (int d = 0; d < nd; d++) src += (start[d] + idx[d] * step[d]) * stride[d];
      CHECK(raw_at(s, i) == raw_at(whole, src));
      for (int d = nd - 1; d >= 0 && ++idx[d] == count[d]; d--) idx[d] = 0;
    }
    sum_f32(s);
  }
  ember_tensor_release(s);
}

/* Reads everything f holds; returns a digest of the tensors' bytes. */
static uint64_t exercise(ember_safetensors *f, cursor *c, int slices) {
  uint64_t h = 1469598103934665603u;
  int n = ember_st_count(f);
  CHECK(n >= 0 && ember_st_info_at(f, n) == NULL && ember_st_info_at(f, -1) == NULL);
  for (int i = 0; i < n; i++) {
    const ember_st_info *in = ember_st_info_at(f, i);
    CHECK(in && in->name && ember_st_find(f, in->name) == in);
    if (i > 0) CHECK(strcmp(ember_st_info_at(f, i - 1)->name, in->name) < 0);
    CHECK(ember_st_dtype_name(in->dtype) != NULL);
    CHECK(ember_st_dtype_from_name(ember_st_dtype_name(in->dtype)) == in->dtype);
    CHECK(in->end >= in->begin);
    int64_t numel = numel_of(in);
    if (in->end - in->begin > MAX_NBYTES) continue;
    ember_tensor *t = ember_st_get(f, in->name);
    if (in->ndim > EMBER_MAX_DIMS) {
      CHECK(t == NULL);
      continue;
    }
    if (t == NULL) continue;   /* ember refuses shapes its tensors cannot hold */
    CHECK(t->dtype == in->dtype && t->ndim == in->ndim && ember_tensor_is_contiguous(t));
    for (int d = 0; d < in->ndim; d++) CHECK(t->shape[d] == in->shape[d]);
    CHECK(ember_tensor_numel(t) == numel);
    CHECK((uint64_t)ember_dtype_nbytes(in->dtype, numel) == in->end - in->begin);
    const uint8_t *p = ember_tensor_data(t);
    for (uint64_t k = 0; k < in->end - in->begin; k++) h = (h ^ p[k]) * 1099511628211u;
    if (numel <= MAX_NUMEL) sum_f32(t);
    for (int k = 0; k < slices; k++) try_slice(f, in, numel <= MAX_NUMEL ? t : NULL, c);
    ember_tensor_release(t);
  }
  CHECK(ember_st_get(f, "\x01no such tensor") == NULL);
  int nm = ember_st_metadata_count(f);
  for (int i = 0; i < nm; i++) {
    const char *k = ember_st_metadata_key(f, i), *v = ember_st_metadata_value(f, i);
    CHECK(k && v);
    size_t kl = strlen(k), vl = strlen(v);
    h = (h ^ kl ^ vl << 20) * 1099511628211u;
  }
  CHECK(ember_st_metadata_key(f, nm) == NULL && ember_st_metadata_value(f, -1) == NULL);
  return h;
}

/* The error's name: the word after the label ("<memory>: InvalidOffset: ..."). */
static void error_name(char *out, size_t n) {
  const char *e = ember_last_error(), *p = strstr(e, ": ");
  p = p ? p + 2 : e;
  size_t k = strcspn(p, ":");
  if (k >= n) k = n - 1;
  memcpy(out, p, k);
  out[k] = '\0';
}

static int memfd = -1;
static char memfd_path[64];

/* The same bytes as a file, through both backends: they must agree with memory. */
static void fuzz_file(const uint8_t *data, size_t size, int mem_ok, uint64_t digest,
                      int count, const char *mem_err) {
  if (memfd < 0) {
    memfd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
    if (memfd < 0) return;
    snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
  }
  if (ftruncate(memfd, 0) != 0 || (size && pwrite(memfd, data, size, 0) != (ssize_t)size)) return;
  for (int b = 0; b < 2; b++) {
    ember_safetensors *f = ember_st_open(memfd_path, b ? EMBER_ST_PREAD : EMBER_ST_MMAP);
    if (!mem_ok) {
      char name[64];
      CHECK(f == NULL);
      error_name(name, sizeof name);
      if (strcmp(name, mem_err) != 0) {
        fprintf(stderr, "memory: %s\nfile: %s\n", mem_err, ember_last_error());
        CHECK(!"the file and memory readers disagree on the error");
      }
      continue;
    }
    CHECK(f != NULL);
    CHECK(ember_st_count(f) == count);
    cursor none = { NULL, 0, 0 };
    CHECK(exercise(f, &none, 0) == digest);
    /* mmap: a tensor keeps the mapping alive after the file object is closed */
    ember_tensor *t = count ? ember_st_get(f, ember_st_info_at(f, 0)->name) : NULL;
    ember_st_close(f);
    if (t) {
      volatile uint8_t sink = 0;
      const uint8_t *p = ember_tensor_data(t);
      for (size_t k = 0, n = ember_tensor_nbytes(t); k < n && k < MAX_NBYTES; k++) sink ^= p[k];
      (void)sink;
      ember_tensor_release(t);
    }
  }
}

/* The shards an index may name: x (F32 [2]) in a; y (I16 [3]) and z (U8 []) in b. */
static const char shard_a[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
static const char shard_b[] = "{\"y\":{\"dtype\":\"I16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                              "\"z\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[6,7]}}";
static char shard_dir[64], index_path[128];

static void cleanup_dir(void) {
  char p[160];
  const char *names[] = { "a.safetensors", "b.safetensors", "model.safetensors.index.json" };
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", shard_dir, names[i]);
    unlink(p);
  }
  rmdir(shard_dir);
}

static int write_file(const char *path, const void *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  if (fp == NULL) return -1;
  int ok = fwrite(p, 1, n, fp) == n;
  return (fclose(fp) == 0 && ok) ? 0 : -1;
}

static int write_shard(const char *name, const char *hdr, size_t ndata) {
  char path[160], buf[256];
  size_t n = strlen(hdr);
  for (int i = 0; i < 8; i++) buf[i] = (char)(n >> 8 * i);
  memcpy(buf + 8, hdr, n);
  for (size_t i = 0; i < ndata; i++) buf[8 + n + i] = (char)(i * 29 + 3);
  snprintf(path, sizeof path, "%s/%s", shard_dir, name);
  return write_file(path, buf, 8 + n + ndata);
}

static void fuzz_index(const uint8_t *data, size_t size) {
  if (shard_dir[0] == '\0') {
    const char *tmp = getenv("TMPDIR");
    snprintf(shard_dir, sizeof shard_dir, "%s/ember-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(shard_dir) == NULL) { shard_dir[0] = '\0'; return; }
    atexit(cleanup_dir);
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", shard_dir);
    if (write_shard("a.safetensors", shard_a, 8) || write_shard("b.safetensors", shard_b, 7)) return;
  }
  if (index_path[0] == '\0' || write_file(index_path, data, size) != 0) return;
  ember_safetensors *f = ember_st_open(size & 1 ? shard_dir : index_path, EMBER_ST_MMAP);
  if (f == NULL) {
    CHECK(ember_last_error()[0] != '\0');
    return;
  }
  cursor c = { data, size, 0 };
  for (int i = 0; i < ember_st_count(f); i++) {
    const ember_st_info *in = ember_st_info_at(f, i);
    CHECK(in->shard >= 0 && in->shard < 2);
  }
  exercise(f, &c, 1);
  ember_st_close(f);
}

/* }====== */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_json(data, size, 64);
  if (size >= 8) {   /* the header alone, as the reader sees it */
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = hn << 8 | data[i];
    if (hn <= size - 8) fuzz_json(data + 8, (size_t)hn, 1 + data[0] % 64);
  }
  ember_safetensors *f = ember_st_open_memory(data, size);
  char mem_err[64] = "";
  uint64_t digest = 0;
  int count = 0;
  if (f) {
    cursor c = { data, size, 0 };
    count = ember_st_count(f);
    digest = exercise(f, &c, 2);
    ember_st_close(f);
  } else {
    CHECK(ember_last_error()[0] != '\0');
    error_name(mem_err, sizeof mem_err);
  }
  fuzz_file(data, size, f != NULL, digest, count, mem_err);
  if (size > 0 && data[0] == '{') fuzz_index(data, size);
  return 0;
}
