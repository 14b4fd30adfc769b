/*
** ember_rt.h — the ember runtime: runs a program file that ember.export wrote, from C,
** without Lua. Link libember_rt (and OpenBLAS, libgomp, libm).
**
**     ember_rt_program *p = ember_rt_load("digits.ember", NULL);
**     if (!p) { fprintf(stderr, "%s\n", ember_rt_last_error()); ... }
**     ember_rt_set_input(p, 0, pixels, sizeof pixels);     // f32, 1 x 64
**     ember_rt_execute(p);
**     const int64_t *cls = ember_rt_output_data(p, 1);     // argmax, 0-based
**     ember_rt_free(p);
**
** Conventions. Every function that can fail returns an ember_rt_status (EMBER_RT_OK = 0)
** or NULL and leaves a message for ember_rt_last_error(). Index values (token ids,
** class targets, argmax results) are 0-based here, whatever base the program was traced
** with. Input and output positions are 0-based. ember_rt_execute allocates nothing: the
** arena (every intermediate and the kernels' scratch) is sized at export and made once,
** at load or by the caller (ember_rt_set_arena). A program is used by one thread at a
** time; two programs may run on two threads.
*/
#ifndef EMBER_RT_H
#define EMBER_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ember_rt_status {
  EMBER_RT_OK = 0,
  EMBER_RT_ERROR_IO = 1,         /* the file cannot be opened or read */
  EMBER_RT_ERROR_FORMAT = 2,     /* not a program file, or one that fails validation */
  EMBER_RT_ERROR_VERSION = 3,    /* a program version this runtime does not know */
  EMBER_RT_ERROR_UNSUPPORTED = 4,/* an op this build of the runtime leaves out; a device it lacks */
  EMBER_RT_ERROR_ARGUMENT = 5,   /* a bad position, size, dtype or shape from the caller */
  EMBER_RT_ERROR_MEMORY = 6,     /* out of memory at load; an arena that is too small */
  EMBER_RT_ERROR_EXECUTE = 7,    /* a kernel failed (an index out of range in the data) */
  EMBER_RT_ERROR_DEVICE = 8,     /* the device failed */
} ember_rt_status;

typedef struct ember_rt_program ember_rt_program;

/* The message of the last failure on this thread, and the code's name ("format"). */
const char *ember_rt_last_error(void);
const char *ember_rt_status_name(ember_rt_status st);

/* {====== loading */

typedef enum ember_rt_device { EMBER_RT_CPU = 0, EMBER_RT_VULKAN = 1 } ember_rt_device;

typedef struct ember_rt_options {
  ember_rt_device device;   /* EMBER_RT_CPU by default */
  int no_arena;             /* 1: do not allocate the arena; call ember_rt_set_arena (cpu only:
                               on Vulkan the arena is a device buffer) */
  int threads;              /* kernel threads; 0: the OpenMP default */
  size_t memory_limit;      /* refuse a program whose arena and input buffers need more
                               bytes than this (EMBER_RT_ERROR_MEMORY); 0: no limit */
} ember_rt_options;

/* Maps the file (weights are used in place from the mapping), validates it in full and
** resolves every op to its kernel. opts may be NULL. */
ember_rt_program *ember_rt_load(const char *path, const ember_rt_options *opts);
/* The same over bytes the caller keeps alive and unchanged while the program lives. */
ember_rt_program *ember_rt_load_memory(const void *data, size_t n, const ember_rt_options *opts);
void ember_rt_free(ember_rt_program *p);

/* }====== */

/* {====== what the program takes and gives */

typedef struct ember_rt_tensor_info {
  const char *name;
  const char *dtype;         /* "f32", "i64": ember's dtype names */
  int ndim;
  const int64_t *shape;      /* now: the last set or executed shape; at load: the bounds */
  const int64_t *max_shape;  /* the upper bounds of dynamic dims (static dims: the size) */
  const char *const *dim_names; /* per dim: the dynamic dim's name, or NULL when static */
  int is_index;              /* holds 0-based index values */
  size_t elem_size;
} ember_rt_tensor_info;

int ember_rt_input_count(const ember_rt_program *p);
int ember_rt_output_count(const ember_rt_program *p);
ember_rt_status ember_rt_input_info(const ember_rt_program *p, int i, ember_rt_tensor_info *info);
ember_rt_status ember_rt_output_info(const ember_rt_program *p, int i, ember_rt_tensor_info *info);
int ember_rt_input_index(const ember_rt_program *p, const char *name);   /* -1 if none */
int ember_rt_output_index(const ember_rt_program *p, const char *name);

/* Bytes of the arena (intermediates and scratch, 64-byte aligned) and of the weights. */
size_t ember_rt_arena_size(const ember_rt_program *p);
size_t ember_rt_weights_size(const ember_rt_program *p);
/* Use memory the caller owns (at least ember_rt_arena_size bytes, 64-byte aligned) as
** the arena; replaces the one made at load. */
ember_rt_status ember_rt_set_arena(ember_rt_program *p, void *arena, size_t n);

/* }====== */

/* {====== running */

/* Copy input i from data (contiguous, the input's dtype); the input's shape is its
** bounds' shape, or set one first with ember_rt_set_input_shape (dynamic dims). */
ember_rt_status ember_rt_set_input(ember_rt_program *p, int i, const void *data, size_t nbytes);
ember_rt_status ember_rt_set_input_shape(ember_rt_program *p, int i, int ndim, const int64_t *shape);
/* Where input i's bytes live (write them there yourself instead of set_input). */
void *ember_rt_input_data(ember_rt_program *p, int i);

ember_rt_status ember_rt_execute(ember_rt_program *p);

/* Output i after execute: its bytes (contiguous, valid until the next execute) and shape. */
const void *ember_rt_output_data(ember_rt_program *p, int i);
ember_rt_status ember_rt_output_shape(const ember_rt_program *p, int i, int *ndim, int64_t *shape);
ember_rt_status ember_rt_get_output(ember_rt_program *p, int i, void *data, size_t nbytes);

/* }====== */

/* {====== profiling */

/* With profiling on, execute times every node; ember_rt_profile reads node i's op name,
** its total time in seconds and how often it ran since profiling was turned on. */
void ember_rt_set_profiling(ember_rt_program *p, int on);
int ember_rt_node_count(const ember_rt_program *p);
ember_rt_status ember_rt_profile(const ember_rt_program *p, int i, const char **op,
                                 double *seconds, int64_t *calls);

/* }====== */

#ifdef __cplusplus
}
#endif

#endif
