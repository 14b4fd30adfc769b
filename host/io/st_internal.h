/*
** st_internal.h — what the safetensors reader's files share: the file object, its
** shards and the header parser.
*/
#ifndef ember_st_internal_h
#define ember_st_internal_h

#include "ember.h"

/* The largest header the reference accepts; a bigger one is refused before reading. */
#define EMBER_ST_MAX_HEADER 100000000u

typedef struct st_shard {
  char *path;
  int fd;                 /* pread backend: open; -1 otherwise */
  const uint8_t *base;    /* mapped or caller's bytes: the whole file (NULL for pread) */
  void *map;              /* what to munmap (NULL when not ours) */
  size_t size;            /* bytes in the file */
  uint64_t data_start;    /* 8 + header length */
} st_shard;

struct ember_safetensors {
  int refcount;
  ember_st_backend backend;
  int nshards;
  st_shard *shards;
  int ntensors, captensors;
  ember_st_info *tensors;     /* sorted by name once open */
  int nmeta, capmeta;
  char **meta_keys, **meta_values;
};

ember_safetensors *ember_st_new(ember_st_backend backend);

/* Opens one file as shard number f->nshards, adding its tensors (and, when
** with_metadata, its __metadata__) to f. */
ember_status ember_st_add_file(ember_safetensors *f, const char *path, int with_metadata);

/* Sorts the tensors by name and refuses a name given twice. */
ember_status ember_st_finish(ember_safetensors *f, const char *label);

ember_status ember_st_add_metadata(ember_safetensors *f, const char *key, size_t keylen,
                                   const char *value, size_t valuelen);

/* Sharded checkpoints: path is a directory or an index JSON file. */
ember_safetensors *ember_st_open_sharded(const char *path, ember_st_backend backend);

/* The safetensors dtype order the writer sorts by (BOOL lowest, U64 highest). */
int ember_st_dtype_rank(ember_dtype dt);

/* pread/pwrite of exactly n bytes, retrying on short transfers and EINTR. */
ember_status ember_st_pread_full(int fd, void *buf, size_t n, uint64_t off, const char *label);
ember_status ember_st_pwrite_full(int fd, const void *buf, size_t n, uint64_t off, const char *label);

#endif
