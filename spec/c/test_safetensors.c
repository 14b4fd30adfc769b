/*
** test_safetensors.c — the safetensors C API on its own, without Lua: the reference
** file all_dtypes.safetensors read through both backends and from memory, saved back
** byte for byte, sliced with steps; crafted files for the error names; the streaming
** writer fed out of order, checked against a header written out by hand here.
** Prints TAP lines ("ok N - what" / "not ok N - what"); exits non-zero on a failure.
**
** The expected values come from outside ember: the first four values, the float64
** sums and the metadata are expect.json's (written by the reference implementation);
** the last value of each tensor is the file's bytes as numpy reads them (the float8
** codes decoded by hand, noted beside each).
*/
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember.h"

#define REF "data/safetensors-reference/all_dtypes.safetensors"

static int ntest, nfail;

static void check(int ok, const char *what) {
  ntest++;
  if (!ok) nfail++;
  printf("%sok %d - %s\n", ok ? "" : "not ", ntest, what);
}

static void checkf(int ok, const char *fmt, const char *arg) {
  char buf[300];
  snprintf(buf, sizeof buf, fmt, arg);
  check(ok, buf);
}

/* The last error names `name` (the message is "<label>: Name: detail"). */
static void check_error(const char *name, const char *what) {
  const char *msg = ember_last_error();
  char buf[400];
  int ok = strstr(msg, name) != NULL;
  snprintf(buf, sizeof buf, "%s: %s%s%s", what, name, ok ? "" : " not in: ", ok ? "" : msg);
  check(ok, buf);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) return NULL;
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *p = malloc(size > 0 ? (size_t)size : 1);
  if (p && fread(p, 1, (size_t)size, fp) != (size_t)size) {
    free(p);
    p = NULL;
  }
  fclose(fp);
  *n = (size_t)size;
  return p;
}

/* {====== the reference file: what it holds */

typedef struct ref_tensor {
  const char *name, *st_dtype;
  ember_dtype dt;
  uint64_t begin, end;
  double first[4], last, sum;
} ref_tensor;

/* sorted by name, as ember_st_info_at lists them */
static const ref_tensor refs[] = {
  {"t_bf16", "BF16", EMBER_BF16, 540, 570, {2.453125, 1.3203125, -3.5, -6.71875}, -5.03125, -1.81640625},
  {"t_bool", "BOOL", EMBER_BOOL, 735, 750, {1, 0, 1, 1}, 1, 7},
  {"t_f16", "F16", EMBER_F16, 570, 600, {-1.6904296875, -0.332763671875, -3.935546875, -4.99609375},
   0.428955078125, -15.012451171875},
  {"t_f32", "F32", EMBER_F32, 360, 420, {5.38809061050415, 9.752832412719727, 0.8110331296920776,
   9.802165031433105}, 7.720792770385742, 52.744054317474365},
  {"t_f64", "F64", EMBER_F64, 240, 360, {-0.5871803760528564, 3.1445651054382324, 3.7872865200042725,
   -4.457376003265381}, 5.581803321838379, 11.297309041023254},
  /* last byte 0x51 = 0 1010 001: 1.125 * 2^(10-7) */
  {"t_float8_e4m3fn", "F8_E4M3", EMBER_F8_E4M3, 675, 690, {-5.5, 0.21875, 2.75, -4.5}, 9.0, -13.78125},
  /* last byte 0xaf = 1 01011 11: -1.75 * 2^(11-15) */
  {"t_float8_e5m2", "F8_E5M2", EMBER_F8_E5M2, 690, 705, {-6.0, -2.0, 0.125, 2.5}, -0.109375, -3.1484375},
  /* last byte 0x81: 2^(129-127) */
  {"t_float8_e8m0fnu", "F8_E8M0", EMBER_F8_E8M0, 660, 675, {8.0, 4.0, 0.5, 4.0}, 4.0, 58.75},
  {"t_i16", "I16", EMBER_I16, 630, 660, {24, 22, 3, 38}, 32, 465},
  {"t_i32", "I32", EMBER_I32, 480, 540, {100, 22, 46, 27}, 25, 640},
  {"t_i64", "I64", EMBER_I64, 120, 240, {16, 52, 17, 45}, 34, 415},
  {"t_i8", "I8", EMBER_I8, 705, 720, {0, 34, 35, 41}, 9, 557},
  {"t_u8", "U8", EMBER_U8, 720, 735, {29, 18, 1, 4}, 2, 420},
  {"t_uint16", "U16", EMBER_U16, 600, 630, {17, 29, 16, 6}, 49, 454},
  {"t_uint32", "U32", EMBER_U32, 420, 480, {37, 39, 2, 73}, 47, 646},
  {"t_uint64", "U64", EMBER_U64, 0, 120, {24, 50, 45, 50}, 16, 461},
};
#define NREFS ((int)(sizeof refs / sizeof refs[0]))

/* t holds the values refs[i] describes: 3x5, first four, last, sum. */
static int values_match(const ember_tensor *t, const ref_tensor *r) {
  if (t == NULL || t->dtype != r->dt || t->ndim != 2 || t->shape[0] != 3 || t->shape[1] != 5) return 0;
  for (int k = 0; k < 4; k++)
    if (ember_tensor_get(t, k) != r->first[k]) return 0;
  if (ember_tensor_get(t, 14) != r->last) return 0;
  double s = 0;
  for (int k = 0; k < 15; k++) s += ember_tensor_get(t, k);
  return fabs(s - r->sum) <= 1e-9 * (1 + fabs(r->sum));
}

/* }====== */

/* {====== reading the reference file */

static void test_reference(ember_st_backend backend) {
  const char *bk = backend == EMBER_ST_MMAP ? "mmap" : "pread";
  char what[200];
  ember_safetensors *f = ember_st_open(REF, backend);
  checkf(f != NULL, "reference (%s): opens", bk);
  if (f == NULL) {
    printf("# %s\n", ember_last_error());
    return;
  }
  checkf(ember_st_count(f) == NREFS, "reference (%s): 16 tensors", bk);
  int names_ok = 1, info_ok = 1, find_ok = 1;
  for (int i = 0; i < NREFS && i < ember_st_count(f); i++) {
    const ember_st_info *in = ember_st_info_at(f, i);
    const ref_tensor *r = &refs[i];
    names_ok &= strcmp(in->name, r->name) == 0;
    info_ok &= in->dtype == r->dt && in->ndim == 2 && in->shape[0] == 3 && in->shape[1] == 5 &&
               in->begin == r->begin && in->end == r->end && in->shard == 0 &&
               strcmp(ember_st_dtype_name(in->dtype), r->st_dtype) == 0 &&
               ember_st_dtype_from_name(r->st_dtype) == r->dt;
    find_ok &= ember_st_find(f, r->name) == in;
  }
  checkf(names_ok, "reference (%s): names in sorted order", bk);
  checkf(info_ok, "reference (%s): dtype, shape and offsets of every tensor", bk);
  checkf(find_ok, "reference (%s): ember_st_find gives the same entry as info_at", bk);
  checkf(ember_st_find(f, "t_f33") == NULL && ember_st_find(f, "") == NULL,
         "reference (%s): ember_st_find of a missing name is NULL", bk);
  checkf(ember_st_info_at(f, -1) == NULL && ember_st_info_at(f, NREFS) == NULL,
         "reference (%s): info_at out of range is NULL", bk);

  checkf(ember_st_metadata_count(f) == 2, "reference (%s): two metadata entries", bk);
  checkf(ember_st_metadata_count(f) == 2 &&
         strcmp(ember_st_metadata_key(f, 0), "note") == 0 &&
         strcmp(ember_st_metadata_value(f, 0), "every dtype") == 0 &&
         strcmp(ember_st_metadata_key(f, 1), "format") == 0 &&
         strcmp(ember_st_metadata_value(f, 1), "pt") == 0,
         "reference (%s): metadata in header order: note, then format", bk);
  checkf(ember_st_metadata_key(f, 2) == NULL && ember_st_metadata_value(f, -1) == NULL,
         "reference (%s): metadata out of range is NULL", bk);

  ember_tensor *ts[NREFS];
  for (int i = 0; i < NREFS; i++) {
    ts[i] = ember_st_get(f, refs[i].name);
    snprintf(what, sizeof what, "reference (%s): %s values (first four, last, sum)", bk, refs[i].name);
    check(values_match(ts[i], &refs[i]), what);
  }
  /* mmap: views onto the mapping (the reference aligns every tensor); pread: heap copies */
  int kinds_ok = 1;
  for (int i = 0; i < NREFS; i++)
    kinds_ok &= ts[i] && ts[i]->storage->kind == (backend == EMBER_ST_MMAP ? EMBER_ALLOC_MMAP
                                                                            : EMBER_ALLOC_HEAP);
  checkf(kinds_ok, backend == EMBER_ST_MMAP ? "reference (%s): every tensor is a view onto the mapping"
                                            : "reference (%s): every tensor is read into the heap", bk);
  ember_tensor *again = ember_st_get(f, "t_f64");
  int same = again && ts[4] && ember_tensor_data(again) == ember_tensor_data(ts[4]);
  checkf(backend == EMBER_ST_MMAP ? same : !same,
         backend == EMBER_ST_MMAP ? "reference (%s): two gets share the same mapped bytes"
                                  : "reference (%s): two gets are two copies", bk);
  ember_tensor_release(again);

  ember_tensor *missing = ember_st_get(f, "nope");
  checkf(missing == NULL, "reference (%s): get of a missing name fails", bk);
  check_error("TensorNotFound", backend == EMBER_ST_MMAP ? "reference (mmap): get" : "reference (pread): get");

  /* the tensors outlive the file object: they hold the mapping */
  ember_st_close(f);
  int alive = 1;
  for (int i = 0; i < NREFS; i++) alive &= values_match(ts[i], &refs[i]);
  checkf(alive, "reference (%s): tensors read the same after ember_st_close", bk);
  for (int i = 0; i < NREFS; i++) ember_tensor_release(ts[i]);
}

/* }====== */

/* {====== temporary files */

static char tmpdir[64];

static void path_in_tmp(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* How many names in the temporary directory start with '.' (a writer's leftover). */
static int hidden_files(void) {
  DIR *d = opendir(tmpdir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  if (d) closedir(d);
  return n;
}

static void clean_tmp(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  char p[400];
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    unlink(p);
  }
  if (d) closedir(d);
  rmdir(tmpdir);
}

/* }====== */

/* {====== saving: the reference writer's bytes */

static void test_save_identical(void) {
  size_t nref;
  unsigned char *ref = slurp(REF, &nref);
  check(ref != NULL && nref == 1870, "save: the reference file is 1870 bytes");
  ember_safetensors *f = ember_st_open(REF, EMBER_ST_PREAD);
  if (ref == NULL || f == NULL) {
    free(ref);
    ember_st_close(f);
    return;
  }
  /* the names in a scrambled order: the writer sorts them itself */
  const char *names[NREFS];
  ember_tensor *ts[NREFS];
  for (int i = 0; i < NREFS; i++) {
    names[i] = refs[(i * 7) % NREFS].name;
    ts[i] = ember_st_get(f, names[i]);
  }
  const char *keys[] = {"note", "format"}, *values[] = {"every dtype", "pt"};
  char out[300];
  path_in_tmp(out, sizeof out, "resaved.safetensors");
  ember_status st = ember_st_save(out, NREFS, names, ts, 2, keys, values);
  check(st == EMBER_OK, "save: all 16 tensors with the metadata");
  size_t nout;
  unsigned char *got = slurp(out, &nout);
  check(got && nout == nref && memcmp(got, ref, nref) == 0,
        "save: the bytes equal the reference writer's");
  free(got);
  check(hidden_files() == 0, "save: no temporary file is left beside it");

  /* the metadata's order is the caller's: the other order is a different header */
  const char *keys2[] = {"format", "note"}, *values2[] = {"pt", "every dtype"};
  ember_st_save(out, NREFS, names, ts, 2, keys2, values2);
  got = slurp(out, &nout);
  check(got && nout == nref && memcmp(got, ref, 8) == 0 && memcmp(got, ref, nref) != 0 &&
        memcmp(got + 8, "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"every dtype\"},", 53) == 0,
        "save: metadata keys are written in the order given");
  free(got);
  for (int i = 0; i < NREFS; i++) ember_tensor_release(ts[i]);
  ember_st_close(f);
  free(ref);
}

/* Saving over a file that is mapped at that moment: the rename leaves the old inode
** to the mapping, so tensors already taken keep their values. */
static void test_save_over_mapped(void) {
  char p[300];
  path_in_tmp(p, sizeof p, "over.safetensors");
  int64_t shape[1] = {4};
  ember_tensor *a = ember_tensor_empty(EMBER_F32, 1, shape);
  for (int i = 0; i < 4; i++) ember_tensor_set(a, i, i + 1);
  const char *name = "x";
  check(ember_st_save(p, 1, &name, &a, 0, NULL, NULL) == EMBER_OK, "save over mapped: first file");
  ember_safetensors *f = ember_st_open(p, EMBER_ST_MMAP);
  ember_tensor *view = f ? ember_st_get(f, "x") : NULL;
  for (int i = 0; i < 4; i++) ember_tensor_set(a, i, -10.0 * (i + 1));
  check(ember_st_save(p, 1, &name, &a, 0, NULL, NULL) == EMBER_OK, "save over mapped: second file");
  int old_ok = view && view->storage->kind == EMBER_ALLOC_MMAP;
  for (int i = 0; old_ok && i < 4; i++) old_ok = ember_tensor_get(view, i) == i + 1;
  check(old_ok, "save over mapped: the mapped tensor keeps the old values");
  ember_safetensors *g = ember_st_open(p, EMBER_ST_MMAP);
  ember_tensor *fresh = g ? ember_st_get(g, "x") : NULL;
  int new_ok = fresh != NULL;
  for (int i = 0; new_ok && i < 4; i++) new_ok = ember_tensor_get(fresh, i) == -10.0 * (i + 1);
  check(new_ok, "save over mapped: reopening reads the new values");
  /* private mapping: writing into a mapped tensor changes neither the file nor a fresh map */
  if (fresh) ember_tensor_set(fresh, 0, 99);
  ember_safetensors *h = ember_st_open(p, EMBER_ST_PREAD);
  ember_tensor *disk = h ? ember_st_get(h, "x") : NULL;
  check(disk && ember_tensor_get(disk, 0) == -10.0, "save over mapped: a write into a mapped tensor "
        "does not reach the file");
  ember_tensor_release(disk);
  ember_tensor_release(fresh);
  ember_tensor_release(view);
  ember_st_close(h);
  ember_st_close(g);
  ember_st_close(f);
  ember_tensor_release(a);
}

/* }====== */

/* {====== bytes in memory */

static void test_memory(void) {
  size_t n;
  unsigned char *bytes = slurp(REF, &n);
  if (bytes == NULL) {
    check(0, "memory: cannot read " REF);
    return;
  }
  ember_safetensors *f = ember_st_open_memory(bytes, n);
  check(f && ember_st_count(f) == NREFS, "memory: the reference bytes open, 16 tensors");
  if (f == NULL) {
    free(bytes);
    return;
  }
  check(ember_st_metadata_count(f) == 2 && strcmp(ember_st_metadata_key(f, 0), "note") == 0,
        "memory: metadata as from the file");
  int all = 1, views = 1;
  for (int i = 0; i < NREFS; i++) {
    ember_tensor *t = ember_st_get(f, refs[i].name);
    all &= values_match(t, &refs[i]);
    /* no copy: element 0 lies in the caller's bytes, at the data section + begin */
    views &= t && (unsigned char *)ember_tensor_data(t) == bytes + 8 + 1112 + refs[i].begin;
    ember_tensor_release(t);
  }
  check(all, "memory: every tensor's values");
  check(views, "memory: tensors point into the caller's bytes");
  ember_st_close(f);

  /* the same bytes one past an aligned address: wider tensors are copied, not
  ** misaligned views */
  unsigned char *shifted = malloc(n + 1);
  memcpy(shifted + 1, bytes, n);
  f = ember_st_open_memory(shifted + 1, n);
  all = 1;
  int copied = 1;
  for (int i = 0; f && i < NREFS; i++) {
    ember_tensor *t = ember_st_get(f, refs[i].name);
    all &= values_match(t, &refs[i]);
    unsigned char *p = t ? ember_tensor_data(t) : NULL;
    int inside = p >= shifted && p < shifted + n + 1;
    if (ember_dtype_size(refs[i].dt) > 1) copied &= !inside;
    ember_tensor_release(t);
  }
  check(f && all, "memory, misaligned: every tensor's values");
  check(f && copied, "memory, misaligned: tensors wider than a byte are copied");
  ember_st_close(f);
  free(shifted);
  free(bytes);
}

/* }====== */

/* {====== slices */

/* The slice equals the whole tensor at the selected positions (2-D source). */
static int slice_matches(const ember_tensor *s, const ember_tensor *whole, const int64_t *rows, int nr,
                         const int64_t *cols, int nc, int drop_rows) {
  if (s == NULL) return 0;
  if (drop_rows ? (s->ndim != 1 || s->shape[0] != nc)
                : (s->ndim != 2 || s->shape[0] != nr || s->shape[1] != nc)) return 0;
  for (int i = 0; i < nr; i++)
    for (int j = 0; j < nc; j++)
      if (ember_tensor_get(s, i * nc + j) != ember_tensor_get(whole, rows[i] * 5 + cols[j])) return 0;
  return 1;
}

static void test_slices_of(ember_safetensors *f, const char *label) {
  char what[200];
  static const char *names[] = {"t_f32", "t_i64", "t_u8", "t_bf16", "t_float8_e4m3fn"};
  for (int k = 0; k < 5; k++) {
    const char *nm = names[k];
    ember_tensor *whole = ember_st_get(f, nm);
    const ember_st_info *in = ember_st_find(f, nm);
    ember_st_range r[2];
    ember_tensor *s;

    r[0] = (ember_st_range){0, EMBER_ST_END, 2, 0};
    r[1] = (ember_st_range){1, EMBER_ST_END, 2, 0};
    s = ember_st_get_slice(f, nm, 2, r);
    {
      int64_t rows[] = {0, 2}, cols[] = {1, 3};
      snprintf(what, sizeof what, "slice (%s) %s: rows 0::2, cols 1::2", label, nm);
      check(slice_matches(s, whole, rows, 2, cols, 2, 0) && s->dtype == in->dtype, what);
    }
    ember_tensor_release(s);

    r[0] = (ember_st_range){-2, EMBER_ST_END, 1, 0};
    r[1] = (ember_st_range){0, -1, 3, 0};
    s = ember_st_get_slice(f, nm, 2, r);
    {
      int64_t rows[] = {1, 2}, cols[] = {0, 3};
      snprintf(what, sizeof what, "slice (%s) %s: rows -2:, cols 0:-1:3", label, nm);
      check(slice_matches(s, whole, rows, 2, cols, 2, 0), what);
    }
    ember_tensor_release(s);

    r[0] = (ember_st_range){1, 0, 1, 1};                /* row 1, dropped */
    r[1] = (ember_st_range){1, 100, 1, 0};             /* clamped to the end */
    s = ember_st_get_slice(f, nm, 2, r);
    {
      int64_t rows[] = {1}, cols[] = {1, 2, 3, 4};
      snprintf(what, sizeof what, "slice (%s) %s: row 1 dropped, cols 1:100 clamped", label, nm);
      check(slice_matches(s, whole, rows, 1, cols, 4, 1), what);
    }
    ember_tensor_release(s);

    r[0] = (ember_st_range){-1, 0, 1, 1};               /* the last row, by a negative index */
    s = ember_st_get_slice(f, nm, 1, r);              /* the dims past nranges are whole */
    {
      int64_t rows[] = {2}, cols[] = {0, 1, 2, 3, 4};
      snprintf(what, sizeof what, "slice (%s) %s: one range, row -1 dropped", label, nm);
      check(slice_matches(s, whole, rows, 1, cols, 5, 1), what);
    }
    ember_tensor_release(s);

    r[0] = (ember_st_range){0, EMBER_ST_END, 1, 0};
    r[1] = (ember_st_range){4, 2, 1, 0};               /* stop before start: empty */
    s = ember_st_get_slice(f, nm, 2, r);
    snprintf(what, sizeof what, "slice (%s) %s: an empty range gives 3x0", label, nm);
    check(s && s->ndim == 2 && s->shape[0] == 3 && s->shape[1] == 0, what);
    ember_tensor_release(s);
    ember_tensor_release(whole);
  }

  ember_st_range r[3] = {{0, EMBER_ST_END, 1, 0}, {0, EMBER_ST_END, 1, 0}, {0, EMBER_ST_END, 1, 0}};
  snprintf(what, sizeof what, "slice (%s): three ranges for a 2-D tensor fail", label);
  check(ember_st_get_slice(f, "t_f32", 3, r) == NULL, what);
  r[0].step = 0;
  snprintf(what, sizeof what, "slice (%s): step 0 fails", label);
  check(ember_st_get_slice(f, "t_f32", 1, r) == NULL, what);
  r[0] = (ember_st_range){3, 0, 1, 1};
  snprintf(what, sizeof what, "slice (%s): index 3 of a dim of 3 fails", label);
  check(ember_st_get_slice(f, "t_f32", 1, r) == NULL && strstr(ember_last_error(), "out of range"), what);
  r[0] = (ember_st_range){-4, 0, 1, 1};
  snprintf(what, sizeof what, "slice (%s): index -4 of a dim of 3 fails", label);
  check(ember_st_get_slice(f, "t_f32", 1, r) == NULL, what);
  snprintf(what, sizeof what, "slice (%s): a missing name", label);
  check(ember_st_get_slice(f, "t_nope", 0, NULL) == NULL, what);
  check_error("TensorNotFound", what);
}

static void test_slices(void) {
  ember_safetensors *f = ember_st_open(REF, EMBER_ST_MMAP);
  if (f) test_slices_of(f, "mmap");
  ember_st_close(f);
  f = ember_st_open(REF, EMBER_ST_PREAD);
  if (f) test_slices_of(f, "pread");
  ember_st_close(f);
  size_t n;
  unsigned char *bytes = slurp(REF, &n);
  f = bytes ? ember_st_open_memory(bytes, n) : NULL;
  if (f) test_slices_of(f, "memory");
  ember_st_close(f);
  free(bytes);
}

/* }====== */

/* {====== crafted files: error names */

/* 8-byte length, the header text, then ndata bytes of zeros. */
static unsigned char *craft(const char *header, size_t ndata, size_t *n) {
  size_t h = strlen(header);
  *n = 8 + h + ndata;
  unsigned char *p = calloc(1, *n);
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)h >> (8 * i));
  memcpy(p + 8, header, h);
  return p;
}

static void expect_open_error(const char *header, size_t ndata, const char *name, const char *what) {
  size_t n;
  unsigned char *p = craft(header, ndata, &n);
  ember_safetensors *f = ember_st_open_memory(p, n);
  check(f == NULL, what);
  check_error(name, what);
  ember_st_close(f);
  free(p);
}

static void test_errors(void) {
  unsigned char seven[7] = {0};
  check(ember_st_open_memory(seven, 7) == NULL, "error: 7 bytes");
  check_error("HeaderTooSmall", "error: 7 bytes");
  check(ember_st_open_memory(seven, 0) == NULL, "error: 0 bytes");
  check_error("HeaderTooSmall", "error: 0 bytes");

  unsigned char big[16] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0};   /* 100 000 001 */
  check(ember_st_open_memory(big, 16) == NULL, "error: a header of 100000001 bytes");
  check_error("HeaderTooLarge", "error: a header of 100000001 bytes");
  unsigned char past[16] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}'};     /* 9 > 16 - 8 - ... */
  check(ember_st_open_memory(past, 16) == NULL, "error: N = 9 with 8 bytes after it");
  check_error("InvalidHeaderLength", "error: N = 9 with 8 bytes after it");

  expect_open_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3,
                    "InvalidOffset", "error: the first tensor starts at 1");
  expect_open_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}", 5,
                    "InvalidOffset", "error: a gap between tensors");
  expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                    "TensorInvalidInfo", "error: 2 f32 in 4 bytes");
  expect_open_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 3,
                    "MetadataIncompleteBuffer", "error: a byte past the last tensor");
  expect_open_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                    "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2,
                    "DuplicateTensorName", "error: a name given twice");
  expect_open_error("{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    "InvalidHeaderDeserialization", "error: unknown dtype F31");
  expect_open_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1,
                    "InvalidHeaderDeserialization", "error: a negative size");
  expect_open_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],"
                    "\"data_offsets\":[0,0]}}", 0,
                    "ValidationOverflow", "error: 2^64 elements");
  expect_open_error("{\"\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                    "InvalidHeader", "error: a name that is not UTF-8");

  check(ember_st_open("data/safetensors-reference/no_such_file.safetensors", EMBER_ST_MMAP) == NULL,
        "error: a file that does not exist");
  check_error("IoError", "error: a file that does not exist");

  /* accepted: no tensors, a scalar, a zero-size tensor, extra fields, null metadata */
  size_t n;
  unsigned char *p = craft("{\"__metadata__\":null,\"s\":{\"dtype\":\"F64\",\"shape\":[],"
                           "\"data_offsets\":[0,8],\"extra\":[1,{}]},\"z\":{\"dtype\":\"I32\","
                           "\"shape\":[0,7],\"data_offsets\":[8,8]}}  ", 8, &n);
  p[n - 1] = 0x40;                                   /* f64 2.0 = 0x4000000000000000 */
  ember_safetensors *f = ember_st_open_memory(p, n);
  ember_tensor *s = f ? ember_st_get(f, "s") : NULL, *z = f ? ember_st_get(f, "z") : NULL;
  check(f && ember_st_count(f) == 2 && ember_st_metadata_count(f) == 0,
        "accepted: null metadata, an extra field, trailing spaces");
  check(s && s->ndim == 0 && ember_tensor_get(s, 0) == 2.0, "accepted: a scalar reads 2.0");
  check(z && z->ndim == 2 && z->shape[0] == 0 && z->shape[1] == 7 && ember_tensor_numel(z) == 0,
        "accepted: a 0x7 tensor");
  ember_tensor_release(s);
  ember_tensor_release(z);
  ember_st_close(f);
  free(p);
}

/* }====== */

/* {====== the streaming writer */

static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_writer(void) {
  char path[300];
  path_in_tmp(path, sizeof path, "stream.safetensors");
  /* declared in one order, laid out by dtype (I64, F32, F16, U8, BOOL), written in a third */
  int64_t sw[2] = {2, 3}, sa[1] = {4}, sm[1] = {5}, sz[2] = {0, 3};
  ember_st_spec specs[] = {
    {"w", EMBER_F32, 2, sw}, {"m", EMBER_BOOL, 1, sm}, {"s", EMBER_F16, 0, NULL},
    {"a", EMBER_I64, 1, sa}, {"z", EMBER_U8, 2, sz},
  };
  const char *keys[] = {"k2", "k1"}, *values[] = {"v\"2\n", "v1"};
  ember_st_writer *w = ember_st_writer_open(path, 5, specs, 2, keys, values);
  check(w != NULL, "writer: opens with five declared tensors");
  if (w == NULL) {
    printf("# %s\n", ember_last_error());
    return;
  }

  ember_tensor *m = ember_tensor_empty(EMBER_BOOL, 1, sm);
  const int mv[5] = {1, 0, 0, 1, 1};
  for (int i = 0; i < 5; i++) ember_tensor_set(m, i, mv[i]);
  ember_tensor *z = ember_tensor_empty(EMBER_U8, 2, sz);
  ember_tensor *s = ember_tensor_scalar(EMBER_F16, 1.5);
  int64_t s32[2] = {3, 2};
  ember_tensor *base = ember_tensor_empty(EMBER_F32, 2, s32);  /* [[1,2],[3,4],[5,6]] */
  for (int i = 0; i < 6; i++) ember_tensor_set(base, i, i + 1);
  ember_tensor *wt = ember_transpose(base, 0, 1);              /* [[1,3,5],[2,4,6]], strided */
  ember_tensor *a = ember_tensor_empty(EMBER_I64, 1, sa);
  const int64_t av[4] = {1, -2, 3, (int64_t)1 << 40};
  for (int i = 0; i < 4; i++) ((int64_t *)ember_tensor_data(a))[i] = av[i];

  check(ember_st_writer_write(w, "m", m) == EMBER_OK, "writer: write m (bool) first");
  check(ember_st_writer_write(w, "z", z) == EMBER_OK, "writer: write z (0x3 u8)");
  check(ember_st_writer_write(w, "s", s) == EMBER_OK, "writer: write s (f16 scalar)");
  check(wt && !ember_tensor_is_contiguous(wt) && ember_st_writer_write(w, "w", wt) == EMBER_OK,
        "writer: write w from a transposed (strided) view");
  check(ember_st_writer_write(w, "x", a) != EMBER_OK, "writer: an undeclared name fails");
  check(strstr(ember_last_error(), "not declared") != NULL, "writer: ... and says so");
  check(ember_st_writer_write(w, "a", m) != EMBER_OK, "writer: the wrong dtype fails");
  check(ember_st_writer_write(w, "w", base) != EMBER_OK, "writer: the wrong shape (3x2 for 2x3) fails");
  check(ember_st_writer_write(w, "a", a) == EMBER_OK, "writer: write a (i64) last");
  check(hidden_files() == 1, "writer: one temporary file while writing");
  check(access(path, F_OK) != 0, "writer: the destination does not exist before close");
  check(ember_st_writer_close(w) == EMBER_OK, "writer: close");
  check(hidden_files() == 0, "writer: the temporary file is renamed away");

  /* the whole file, written out by hand */
  const char *hdr =
    "{\"__metadata__\":{\"k2\":\"v\\\"2\\n\",\"k1\":\"v1\"},"
    "\"a\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[32,56]},"
    "\"s\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[56,58]},"
    "\"z\":{\"dtype\":\"U8\",\"shape\":[0,3],\"data_offsets\":[58,58]},"
    "\"m\":{\"dtype\":\"BOOL\",\"shape\":[5],\"data_offsets\":[58,63]}}";
  size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
  size_t nwant = 8 + padded + 63;
  unsigned char *want = malloc(nwant);
  put_le(want, padded, 8);
  memcpy(want + 8, hdr, hl);
  memset(want + 8 + hl, ' ', padded - hl);
  unsigned char *d = want + 8 + padded;
  for (int i = 0; i < 4; i++) put_le(d + 8 * i, (uint64_t)av[i], 8);
  const uint32_t fbits[6] = {0x3f800000, 0x40400000, 0x40a00000,    /* 1 3 5 */
                             0x40000000, 0x40800000, 0x40c00000};   /* 2 4 6 */
  for (int i = 0; i < 6; i++) put_le(d + 32 + 4 * i, fbits[i], 4);
  put_le(d + 56, 0x3e00, 2);                                        /* f16 1.5 */
  for (int i = 0; i < 5; i++) d[58 + i] = (unsigned char)mv[i];
  size_t ngot;
  unsigned char *got = slurp(path, &ngot);
  check(got && ngot == nwant && memcmp(got, want, nwant) == 0,
        "writer: the file's bytes equal the hand-written header and data");
  free(got);
  free(want);

  /* and it reads back */
  ember_safetensors *f = ember_st_open(path, EMBER_ST_MMAP);
  ember_tensor *rw = f ? ember_st_get(f, "w") : NULL;
  int ok = rw && rw->ndim == 2 && rw->shape[0] == 2 && rw->shape[1] == 3;
  const double wv[6] = {1, 3, 5, 2, 4, 6};
  for (int i = 0; ok && i < 6; i++) ok = ember_tensor_get(rw, i) == wv[i];
  check(ok, "writer: w reads back as the transposed values");
  check(f && ember_st_metadata_count(f) == 2 && strcmp(ember_st_metadata_value(f, 0), "v\"2\n") == 0,
        "writer: metadata with a quote and a newline reads back");
  ember_tensor_release(rw);
  ember_st_close(f);

  /* a close with a tensor missing saves nothing: the old file stays whole */
  size_t nold;
  unsigned char *old = slurp(path, &nold);
  w = ember_st_writer_open(path, 2, specs, 0, NULL, NULL);
  check(w && ember_st_writer_write(w, "w", wt) == EMBER_OK, "writer: a second writer over the file");
  check(w && ember_st_writer_close(w) != EMBER_OK, "writer: close with m never written fails");
  check(strstr(ember_last_error(), "never written") != NULL, "writer: ... naming the missing tensor");
  got = slurp(path, &ngot);
  check(got && old && ngot == nold && memcmp(got, old, nold) == 0,
        "writer: the failed close leaves the old file whole");
  free(got);
  check(hidden_files() == 0, "writer: the failed close removes its temporary file");
  w = ember_st_writer_open(path, 1, specs, 0, NULL, NULL);
  if (w) ember_st_writer_write(w, "w", wt);
  ember_st_writer_abort(w);
  got = slurp(path, &ngot);
  check(w && got && ngot == nold && memcmp(got, old, nold) == 0 && hidden_files() == 0,
        "writer: abort leaves the old file whole and no temporary file");
  free(got);
  free(old);

  ember_st_spec dup[2] = {{"d", EMBER_F32, 1, sa}, {"d", EMBER_I64, 1, sa}};
  check(ember_st_writer_open(path, 2, dup, 0, NULL, NULL) == NULL, "writer: a name declared twice");
  check_error("DuplicateTensorName", "writer: a name declared twice");
  ember_st_spec meta[1] = {{"__metadata__", EMBER_F32, 1, sa}};
  check(ember_st_writer_open(path, 1, meta, 0, NULL, NULL) == NULL, "writer: __metadata__ as a name");
  int64_t odd[1] = {3};
  ember_st_spec f4[1] = {{"q", EMBER_F4, 1, odd}};
  check(ember_st_writer_open(path, 1, f4, 0, NULL, NULL) == NULL, "writer: 3 f4 values (1.5 bytes)");
  check_error("MisalignedSlice", "writer: 3 f4 values");
  check(hidden_files() == 0, "writer: refused declarations leave no file");

  ember_tensor_release(a);
  ember_tensor_release(wt);
  ember_tensor_release(base);
  ember_tensor_release(s);
  ember_tensor_release(z);
  ember_tensor_release(m);
}

/* }====== */

int main(void) {
  strcpy(tmpdir, "/tmp/ember-st-XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    printf("not ok 1 - cannot make a temporary directory\n1..1\n");
    return 1;
  }
  test_reference(EMBER_ST_MMAP);
  test_reference(EMBER_ST_PREAD);
  test_save_identical();
  test_save_over_mapped();
  test_memory();
  test_slices();
  test_errors();
  test_writer();
  clean_tmp();
  printf("1..%d\n", ntest);
  return nfail ? 1 : 0;
}
