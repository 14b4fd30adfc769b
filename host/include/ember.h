/*
** ember.h — the public C API of ember: tensors, ops, and the embedded Lua host.
**
** Grouped by capability, as lua.h is:
**   1. status and errors        5. calling ops from the op table
**   2. dtypes                   6. the embedded Lua host (needs ember built with Lua)
**   3. storage                  7. versions
**   4. tensors and views
**
** Conventions. Every function that can fail returns an ember_status (EMBER_OK = 0)
** or NULL, and leaves a message that ember_last_error() returns; nothing aborts or
** prints. Dimensions and indices in the C API are 0-based and may be negative
** (counting from the end, as in PyTorch). Objects are reference counted: a function
** that returns a tensor gives the caller one reference, released with
** ember_tensor_release(). Strides and offsets count elements, not bytes.
*/
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0
#define EMBER_VERSION "0.1.0"

#define EMBER_MAX_DIMS 8

/* {====== 1. status and errors */

typedef enum ember_status { EMBER_OK = 0, EMBER_ERROR = -1 } ember_status;

/* The message of the last failure on this thread ("" when none). */
const char *ember_last_error(void);

/* Sets the message (printf format) and returns EMBER_ERROR, so a failing
** function can end with `return ember_error("...")`. */
ember_status ember_error(const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 1, 2)))
#endif
  ;

/* }====== */

/* {====== 2. dtypes */

/* ORDER DTYPE: keep in step with the traits table in host/core/dtype.c. */
typedef enum ember_dtype {
  EMBER_F32, EMBER_F64, EMBER_F16, EMBER_BF16,
  EMBER_I8, EMBER_I16, EMBER_I32, EMBER_I64, EMBER_U8, EMBER_BOOL,
  /* storage-only dtypes: they load, save, view and convert (t:to("f32")), but ops
  ** do not compute in them. F6 and F4 are sub-byte: packed, always contiguous. */
  EMBER_U16, EMBER_U32, EMBER_U64, EMBER_C64,
  EMBER_F8_E4M3, EMBER_F8_E5M2, EMBER_F8_E8M0, EMBER_F8_E4M3FNUZ, EMBER_F8_E5M2FNUZ,
  EMBER_F6_E2M3, EMBER_F6_E3M2, EMBER_F4,
  EMBER_DTYPE_COUNT,
  EMBER_COMPUTE_DTYPES = EMBER_U16,   /* dtypes below this one are computed on */
  EMBER_DTYPE_NONE = -1
} ember_dtype;

const char *ember_dtype_name(ember_dtype dt);          /* "f32" */
ember_dtype ember_dtype_from_name(const char *name);   /* EMBER_DTYPE_NONE if unknown */
size_t ember_dtype_size(ember_dtype dt);               /* bytes per element (sub-byte: 1) */
int ember_dtype_bits(ember_dtype dt);                  /* bits per element: 4, 6, 8 ... 64 */
size_t ember_dtype_nbytes(ember_dtype dt, int64_t n);  /* bytes for n packed elements */
int ember_dtype_is_float(ember_dtype dt);              /* f32 f64 f16 bf16, f8/f6/f4, c64 */
int ember_dtype_is_int(ember_dtype dt);                /* i8..i64, u8..u64 (not bool) */
int ember_dtype_is_storage_only(ember_dtype dt);       /* no op computes in it */
int ember_dtype_is_subbyte(ember_dtype dt);            /* f6, f4: packed below a byte */

/* IEEE binary16 and bfloat16 conversions; float -> half rounds to nearest even. */
float ember_f16_to_f32(uint16_t h);
uint16_t ember_f32_to_f16(float f);
float ember_bf16_to_f32(uint16_t h);
uint16_t ember_f32_to_bf16(float f);

/* The 8-, 6- and 4-bit float formats (F8_E4M3, F8_E5M2, F8_E8M0, F8_E4M3FNUZ,
** F8_E5M2FNUZ, F6_E2M3, F6_E3M2, F4): one code (its low bits) to float and back,
** rounding to nearest even; see host/core/minifloat.c for each format's overflow rule. */
float ember_minifloat_decode(ember_dtype dt, unsigned code);
unsigned ember_minifloat_encode(ember_dtype dt, float f);

/* }====== */

/* {====== 3. storage */

typedef enum ember_device { EMBER_CPU = 0, EMBER_VULKAN = 1 } ember_device;

/* A refcounted block of memory that knows how to free itself. The allocator kind
** says who owns the bytes: ember's heap, a region of a mapped file, memory that
** belongs to the caller (released through a callback), or a device buffer. */
typedef enum ember_alloc_kind {
  EMBER_ALLOC_HEAP, EMBER_ALLOC_MMAP, EMBER_ALLOC_EXTERNAL, EMBER_ALLOC_DEVICE
} ember_alloc_kind;

typedef struct ember_storage ember_storage;
typedef struct ember_tensor ember_tensor;
typedef void (*ember_release_fn)(void *data, size_t nbytes, void *ctx);

struct ember_storage {
  int refcount;
  ember_alloc_kind kind;
  ember_device device;
  void *data;               /* host pointer (NULL for device-only storage) */
  size_t nbytes;
  ember_release_fn release; /* called once when the last reference goes */
  void *release_ctx;
  void *device_handle;      /* backend object for EMBER_ALLOC_DEVICE */
  int size_class;           /* heap only: which block cache it returns to (-1: none) */
  size_t block_bytes;       /* heap only: bytes of the whole block */
  unsigned version;         /* bumped by every in-place write; autograd compares it with
                               the version it saw when it saved a tensor for backward */
};

ember_storage *ember_storage_new(size_t nbytes);            /* heap, uninitialised */
/* Uninitialised storage on a device (ember_storage_new for EMBER_CPU). */
ember_storage *ember_storage_new_on(ember_device dev, size_t nbytes);
ember_storage *ember_storage_wrap(void *data, size_t nbytes, ember_alloc_kind kind,
                                  ember_release_fn release, void *ctx);
void ember_storage_retain(ember_storage *s);
void ember_storage_release(ember_storage *s);

/* A device other than the CPU is served by a backend (host/vk for Vulkan), started on
** first use. The core calls it for what needs the bytes: new storage and copies to,
** from and on the device (strided, broadcasting, converting). */
typedef struct ember_backend {
  const char *name;
  ember_storage *(*storage_new)(size_t nbytes);
  ember_status (*copy)(ember_tensor *dst, const ember_tensor *src);
  size_t (*bytes_in_use)(void);
} ember_backend;

/* The backend of dev, started if need be; NULL (error set) when it cannot run. */
const ember_backend *ember_backend_of(ember_device dev);
const char *ember_device_name(ember_device dev);           /* "cpu", "vulkan" */
ember_status ember_device_parse(const char *name, ember_device *dev);
/* The device new tensors go to when none is named (EMBER_DEVICE, else cpu). */
ember_device ember_default_device(void);
void ember_set_default_device(ember_device dev);

/* Bytes of heap and device storage alive now. The Lua host reads it to pace its garbage
** collector by memory the collector cannot see. */
size_t ember_heap_bytes(void);

/* }====== */

/* {====== 4. tensors and views */

typedef struct ember_tensor ember_tensor;

struct ember_tensor {
  int refcount;
  ember_dtype dtype;
  int ndim;
  int64_t shape[EMBER_MAX_DIMS];
  int64_t stride[EMBER_MAX_DIMS];  /* elements */
  int64_t offset;                  /* elements from storage->data */
  ember_storage *storage;
  unsigned flags;                  /* EMBER_TENSOR_* */
  void *autograd;                  /* owned by the autograd engine; NULL when unused */
};

/* A tensor made from a Lua number: it takes part in type promotion as PyTorch's
** "wrapped numbers" do (int tensor + 2.5 gives the default float dtype, f32 tensor
** + 2.5 stays f32). */
#define EMBER_TENSOR_WRAPPED_NUMBER 1u

/* New contiguous tensor of the given shape (uninitialised / zeroed). */
ember_tensor *ember_tensor_empty(ember_dtype dt, int ndim, const int64_t *shape);
ember_tensor *ember_tensor_zeros(ember_dtype dt, int ndim, const int64_t *shape);
ember_tensor *ember_tensor_scalar(ember_dtype dt, double v);   /* 0-dim */
/* The same on a given device. */
ember_tensor *ember_tensor_empty_on(ember_device dev, ember_dtype dt, int ndim, const int64_t *shape);
ember_tensor *ember_tensor_zeros_on(ember_device dev, ember_dtype dt, int ndim, const int64_t *shape);
/* A copy of t on dev (t itself, retained, when it is there already). */
ember_tensor *ember_to_device(ember_tensor *t, ember_device dev);
static inline ember_device ember_tensor_device(const ember_tensor *t) { return t->storage->device; }

/* A tensor over memory the caller owns; `release(data, nbytes, ctx)` runs when ember
** no longer needs it (release may be NULL). strides may be NULL for contiguous. No copy. */
ember_tensor *ember_tensor_from_data(void *data, ember_dtype dt, int ndim,
                                     const int64_t *shape, const int64_t *stride,
                                     ember_release_fn release, void *ctx);

/* A view: new tensor header over the same storage. */
ember_tensor *ember_tensor_view_of(const ember_tensor *t, int ndim, const int64_t *shape,
                                   const int64_t *stride, int64_t offset);

void ember_tensor_retain(ember_tensor *t);
void ember_tensor_release(ember_tensor *t);

int64_t ember_tensor_numel(const ember_tensor *t);
int ember_tensor_is_contiguous(const ember_tensor *t);
void *ember_tensor_data(const ember_tensor *t);   /* host address of element 0 */
size_t ember_tensor_nbytes(const ember_tensor *t); /* numel * element size */

/* Shape text "2x3" (scalar: "[]"), written into buf; returns buf. */
char *ember_shape_str(const ember_tensor *t, char *buf, size_t n);

/* Element access as double, by flat 0-based index in logical (row-major) order. */
double ember_tensor_get(const ember_tensor *t, int64_t i);
ember_status ember_tensor_set(ember_tensor *t, int64_t i, double v);

/* Views. dims may be negative. Each returns NULL and sets the error on a bad shape. */
ember_tensor *ember_view(ember_tensor *t, int ndim, const int64_t *shape);     /* -1 inferred; needs compatible strides */
ember_tensor *ember_reshape(ember_tensor *t, int ndim, const int64_t *shape);  /* view when possible, else copy */
ember_tensor *ember_narrow(ember_tensor *t, int dim, int64_t start, int64_t length);
ember_tensor *ember_select(ember_tensor *t, int dim, int64_t index);
ember_tensor *ember_slice(ember_tensor *t, int dim, int64_t start, int64_t stop, int64_t step); /* [start, stop) */
ember_tensor *ember_transpose(ember_tensor *t, int d0, int d1);
ember_tensor *ember_permute(ember_tensor *t, int ndim, const int *dims);
ember_tensor *ember_expand(ember_tensor *t, int ndim, const int64_t *shape);   /* -1 keeps a dim */
ember_tensor *ember_squeeze(ember_tensor *t, int dim);     /* dim = EMBER_ALL_DIMS: every size-1 dim */
ember_tensor *ember_unsqueeze(ember_tensor *t, int dim);
ember_tensor *ember_flatten(ember_tensor *t, int start, int end);
ember_tensor *ember_contiguous(ember_tensor *t);           /* same tensor (retained) if already */
ember_tensor *ember_clone(ember_tensor *t);
ember_tensor *ember_to_dtype(ember_tensor *t, ember_dtype dt); /* same tensor (retained) if equal */
#define EMBER_ALL_DIMS 127

/* dst[...] = src, broadcasting src to dst's shape and converting dtypes. */
ember_status ember_copy_(ember_tensor *dst, const ember_tensor *src);
ember_status ember_fill_(ember_tensor *dst, double v);

/* }====== */

/* {====== 5. calling ops from the op table */

/* Every op is one entry of the op table (host/ops/ops.h). From C, call an op by name:
** inputs are tensors (NULL for an absent optional input), attributes are given as a
** string "name=value,name=value" in the op's own terms, e.g.
**     ember_tensor *out;
**     ember_op_run("sum", 1, &x, "dim=0,keepdim=true", &out, 1);
** Returns the number of outputs written (<= maxout) or -1 on error. */
int ember_op_run(const char *name, int nin, ember_tensor *const *in, const char *attrs,
                 ember_tensor **out, int maxout);

/* Number of ops in the table, and the name of op i (0-based). */
int ember_op_count(void);
const char *ember_op_name(int i);

/* Seeds the counter-based RNG (Philox 4x32-10) used by rand/randn/randint/dropout. */
void ember_manual_seed(uint64_t seed);

/* }====== */

/* {====== 7. safetensors files */

/* A safetensors file (or a sharded checkpoint: a directory or its
** model.safetensors.index.json), open for lazy reading. The header is validated in
** full on open; a failure's message is "<path>: <Name>: <detail>", with the name the reference
** implementation calls it (HeaderTooSmall, HeaderTooLarge, InvalidHeaderLength,
** InvalidHeader, InvalidHeaderDeserialization, InvalidOffset, ValidationOverflow,
** MisalignedSlice, TensorInvalidInfo, MetadataIncompleteBuffer), plus
** DuplicateTensorName, TensorNotFound and IoError. The file object is refcounted:
** tensors read from a mapped file are views onto the mapping and keep it alive. */
typedef struct ember_safetensors ember_safetensors;

typedef enum ember_st_backend {
  EMBER_ST_MMAP,     /* map the file; tensors are views onto it (copy-on-write) */
  EMBER_ST_PREAD     /* read each tensor with pread (network filesystems) */
} ember_st_backend;

typedef struct ember_st_info {
  const char *name;
  ember_dtype dtype;
  int ndim;
  const int64_t *shape;
  uint64_t begin, end;   /* byte offsets in the data section */
  int shard;             /* which file of a sharded checkpoint (0 otherwise) */
} ember_st_info;

ember_safetensors *ember_st_open(const char *path, ember_st_backend backend);
/* The same over bytes in memory that the caller keeps alive while the object lives. */
ember_safetensors *ember_st_open_memory(const void *data, size_t n);
void ember_st_retain(ember_safetensors *f);
void ember_st_close(ember_safetensors *f);   /* drops the caller's reference */

int ember_st_count(const ember_safetensors *f);
const ember_st_info *ember_st_info_at(const ember_safetensors *f, int i);   /* sorted by name */
const ember_st_info *ember_st_find(const ember_safetensors *f, const char *name);
int ember_st_metadata_count(const ember_safetensors *f);                 /* header order */
const char *ember_st_metadata_key(const ember_safetensors *f, int i);
const char *ember_st_metadata_value(const ember_safetensors *f, int i);

/* The whole tensor: a view onto the mapping, or a fresh tensor read from the file. */
ember_tensor *ember_st_get(ember_safetensors *f, const char *name);

/* Part of a tensor, read without touching the rest: per dim, elements start,
** start+step, ... below stop (0-based; negative start/stop count from the end; step
** >= 1); `drop` removes the dim (an integer index). Dims past nranges are whole. */
typedef struct ember_st_range { int64_t start, stop, step; int drop; } ember_st_range;
#define EMBER_ST_END INT64_MAX   /* stop: to the end of the dim */
ember_tensor *ember_st_get_slice(ember_safetensors *f, const char *name, int nranges,
                                 const ember_st_range *ranges);

/* The safetensors dtype name ("F32", "F8_E4M3") of an ember dtype, and back. */
const char *ember_st_dtype_name(ember_dtype dt);
ember_dtype ember_st_dtype_from_name(const char *name);

/* Writing. The header is laid out as the reference writer lays it out: tensors sorted
** by dtype alignment (descending) then name, compact JSON with __metadata__ first,
** padded with spaces to a multiple of 8 bytes. The bytes go to a temporary file in
** the destination's directory, renamed over `path` on close: a crash or an error
** leaves any old file whole. The streaming writer declares every tensor up front and
** takes their data in any order, so a checkpoint never has to fit in memory. */
typedef struct ember_st_writer ember_st_writer;
typedef struct ember_st_spec {
  const char *name;
  ember_dtype dtype;
  int ndim;
  const int64_t *shape;
} ember_st_spec;

ember_st_writer *ember_st_writer_open(const char *path, int n, const ember_st_spec *specs,
                                      int nmeta, const char *const *keys,
                                      const char *const *values);
/* t must have the declared dtype and shape (any strides). */
ember_status ember_st_writer_write(ember_st_writer *w, const char *name, const ember_tensor *t);
/* Checks every tensor was written, syncs and renames into place; frees w either way. */
ember_status ember_st_writer_close(ember_st_writer *w);
/* Discards the temporary file; frees w. */
void ember_st_writer_abort(ember_st_writer *w);
/* Declares, writes and closes in one call. keys == NULL writes no __metadata__; a
** non-NULL keys with nmeta == 0 writes an empty one. */
ember_status ember_st_save(const char *path, int n, const char *const *names,
                           ember_tensor *const *tensors, int nmeta,
                           const char *const *keys, const char *const *values);

/* }====== */

/* {====== 6. the embedded Lua host */

/* An ember Lua state: a Lua 5.4 state with the `ember` module loaded and the
** standard library path set. Available when ember is built with Lua (libember). */
typedef struct ember_host ember_host;

ember_host *ember_host_open(void);
void ember_host_close(ember_host *h);
ember_status ember_host_dostring(ember_host *h, const char *code, const char *chunkname);
ember_status ember_host_dofile(ember_host *h, const char *path);

/* Pass tensors in and out by pointer, without copying: set_tensor makes the global
** `name` a Lua tensor sharing t's storage; get_tensor returns a new reference to the
** tensor held by global `name` (NULL and an error if it is not a tensor). */
ember_status ember_host_set_tensor(ember_host *h, const char *name, ember_tensor *t);
ember_tensor *ember_host_get_tensor(ember_host *h, const char *name);

/* The underlying lua_State, for programs that want the Lua C API. */
void *ember_host_lua(ember_host *h);

/* }====== */

/* {====== 8. autograd
**
** Every op call with an input that requires grad records a node: the op, its
** attributes, the tensors its backward rule reads, and edges to the nodes that made
** its inputs. ember_backward walks the nodes from a root, newest first, calling each
** op's backward rule from the op table, and accumulates into the .grad of leaves.
** Grad mode is per thread. Backward rules run with grad mode off (no double backward). */

int ember_grad_enabled(void);
int ember_set_grad_enabled(int on);                 /* returns the previous mode */

int ember_requires_grad(const ember_tensor *t);
/* Only leaves take it; only float tensors can require grad. */
ember_status ember_set_requires_grad(ember_tensor *t, int on);
int ember_is_leaf(const ember_tensor *t);           /* no history (grad_fn) */
const char *ember_grad_fn_name(const ember_tensor *t);   /* "mul", ... or NULL */

ember_tensor *ember_grad(const ember_tensor *t);    /* borrowed; NULL when none */
/* Replace t's .grad (NULL clears); g must have t's shape; takes a new reference. */
ember_status ember_set_grad(ember_tensor *t, ember_tensor *g);

/* A new tensor sharing t's storage, with no history and requires_grad off. */
ember_tensor *ember_detach(ember_tensor *t);

/* Backpropagate from root. grad: the gradient of root (NULL: 1 for a one-element
** root). Without retain_graph the graph's saved tensors are freed on the way. */
ember_status ember_backward(ember_tensor *root, ember_tensor *grad, int retain_graph);

/* Hooks. A tensor hook sees the gradient of t as it is computed and may set *replace
** to a new gradient (a new reference) to use instead. A post-accumulate hook runs on
** a leaf once its .grad holds everything this backward gives it. free_ctx (may be
** NULL) runs when the hook is removed or t goes. Both return a handle > 0, or 0 and
** an error. */
typedef ember_status (*ember_grad_hook)(void *ctx, ember_tensor *grad, ember_tensor **replace);
typedef ember_status (*ember_leaf_hook)(void *ctx, ember_tensor *leaf);
int ember_register_hook(ember_tensor *t, ember_grad_hook fn, void *ctx, void (*free_ctx)(void *));
int ember_register_post_accumulate_hook(ember_tensor *t, ember_leaf_hook fn, void *ctx,
                                        void (*free_ctx)(void *));
void ember_remove_hook(ember_tensor *t, int handle);

/* Queue fn(ctx) to run once the outermost running backward has run every node (so
** after every post-accumulate hook) and before ember_backward returns; callbacks run
** in the order queued, each once, and one queued by a callback runs too. A failing
** callback makes that backward fail with its error; the callbacks after it are freed
** without running, as they are when backward itself fails. Only while a backward runs
** on this thread (from a hook or a custom backward); otherwise an error. free_ctx (may
** be NULL) runs after fn, or instead of it; also when this call fails. */
ember_status ember_autograd_queue_callback(ember_status (*fn)(void *ctx), void *ctx,
                                           void (*free_ctx)(void *));

/* A differentiable function defined outside the op table (Lua's
** ember.autograd.Function): out[0..nout) were computed from in[0..nin) with grad
** mode off; this links them into the graph. backward gets the outputs' gradients
** (NULL where none flowed) and fills grad_in (new references, NULL for none). */
typedef ember_status (*ember_custom_backward)(void *ctx, int nout, ember_tensor *const *grad_out,
                                              int nin, ember_tensor **grad_in);
ember_status ember_autograd_custom(const char *name, int nin, ember_tensor *const *in, int nout,
                                   ember_tensor *const *out, ember_custom_backward fn, void *ctx,
                                   void (*free_ctx)(void *));

/* }====== */

/* {====== 9. the Vulkan device
** Tensors go there with ember_to_device(t, EMBER_VULKAN); ops on them are recorded
** and run in batches. The device is chosen at first use: EMBER_VK_DEVICE (index or a
** piece of the name), else the first discrete GPU, integrated, virtual, then a CPU
** driver. See docs/vulkan.md. */

/* Submit what is recorded and wait for everything submitted. */
ember_status ember_vk_sync(void);

typedef struct ember_vk_info {
  const char *name, *type;    /* "NVIDIA H100 80GB HBM3", "discrete" */
  int index;                  /* in the driver's device order, 0-based */
  int has_f16, has_f64;       /* 16-bit storage, 64-bit floats */
  int subgroup_size;
  int coopmat;                /* cooperative matrices matmul uses: 0 none, 2 NV */
  int coopmat_m, coopmat_n, coopmat_k;
  int coopmat_khr_m, coopmat_khr_n, coopmat_khr_k;  /* VK_KHR_cooperative_matrix's f16 shape */
  int validation;             /* the Khronos validation layer is on */
  int transfer_queue;         /* a separate transfer queue exists */
  int failed;                 /* the device was lost: every Vulkan call errors */
  unsigned validation_messages;
  size_t memory_in_use;       /* bytes of device memory tensors hold */
  size_t max_buffer_range;    /* the largest tensor the device can bind, in bytes */
  int blocks;                 /* device memory allocations held */
  uint64_t submits;           /* command batches submitted so far */
} ember_vk_info;

/* Starts the backend if need be; EMBER_ERROR (with the reason) when no device runs. */
ember_status ember_vk_get_info(ember_vk_info *out);

/* }====== */

/* {====== 10. collectives (host/dist; docs/dist.md)
** Under an MPI launcher (mpirun) ember_dist_init joins the job through MPI, which is
** loaded then (libember_mpi.so, the only file that links libmpi); without one the
** world is this process alone and every collective is done locally. Ranks are 0-based
** here (the Lua layer adds 1). Every collective takes any dtype ops compute in, on any
** device: a tensor MPI cannot use as it is (a Vulkan tensor, a strided view, f16, bf16,
** bool) goes through a host staging buffer. Collectives must be called in the same
** order on every rank; a call whose tensors differ across ranks is an error on every
** rank (the check costs one small allreduce; ember_dist_options.check turns it off).
** A call that waits longer than the timeout for the other ranks ends the job with a
** message naming the call: a rank has died or stopped making the same calls. */

typedef enum ember_reduce_op {
  EMBER_REDUCE_SUM, EMBER_REDUCE_AVG, EMBER_REDUCE_MAX, EMBER_REDUCE_MIN, EMBER_REDUCE_PROD
} ember_reduce_op;

typedef struct ember_dist_options {
  double timeout;        /* seconds; 0: $EMBER_DIST_TIMEOUT, else 600 */
  int check;             /* -1: $EMBER_DIST_CHECK, else on; 0: off; 1: on */
  const char *backend;   /* NULL: "mpi" under a launcher, else "local"; or either by name */
} ember_dist_options;

/* Joins the job (once; later calls return EMBER_OK). opts may be NULL. */
ember_status ember_dist_init(const ember_dist_options *opts);
int ember_dist_initialized(void);
int ember_dist_rank(void);          /* 0-based; 0 before init */
int ember_dist_world_size(void);    /* 1 before init */
int ember_dist_local_rank(void);    /* among the ranks on this host */
int ember_dist_local_size(void);
const char *ember_dist_backend(void);   /* "mpi", "local", or "none" before init */
/* Turns the ranks' agreement check on (1) or off (0) for the calls that follow on this
** thread's job; returns the setting it replaces. DDP turns it off for its buckets,
** whose layout it checked once. */
int ember_dist_set_check(int on);
/* Waits for outstanding work, then leaves the job; ember_dist_abort ends every rank. */
ember_status ember_dist_finalize(void);
void ember_dist_abort(int code);

/* An operation in flight. Each call below runs to completion when async is NULL, else
** starts the operation and stores a work in *async that the caller must free. Tensors
** are held by the work until it completes; results are in place at completion. */
typedef struct ember_dist_work ember_dist_work;

ember_status ember_dist_barrier(ember_dist_work **async);
/* t = op over ranks of t, in place. AVG needs a float dtype; on bool, SUM and MAX are
** "or", PROD and MIN "and". f16 and bf16 are reduced in f32 and rounded once. */
ember_status ember_dist_allreduce(ember_tensor *t, ember_reduce_op op, ember_dist_work **async);
ember_status ember_dist_broadcast(ember_tensor *t, int root, ember_dist_work **async);
/* out holds world_size * numel(in) elements of in's dtype: rank r's in is the r-th block. */
ember_status ember_dist_allgather(ember_tensor *out, ember_tensor *in, ember_dist_work **async);
/* in holds world_size blocks of numel(out) elements; out = op over ranks of block rank. */
ember_status ember_dist_reduce_scatter(ember_tensor *out, ember_tensor *in, ember_reduce_op op,
                                       ember_dist_work **async);
/* in and out hold world_size equal blocks: block r of in goes to rank r, block r of
** out came from rank r. */
ember_status ember_dist_all_to_all(ember_tensor *out, ember_tensor *in, ember_dist_work **async);
/* Point to point; tag >= 0. recv: src -1 takes any sender; the message must have
** exactly t's size in bytes. */
ember_status ember_dist_send(ember_tensor *t, int dst, int tag, ember_dist_work **async);
ember_status ember_dist_recv(ember_tensor *t, int src, int tag, ember_dist_work **async);

/* 1 when done (results in place), 0 while running, -1 (error set) when it failed. */
int ember_dist_test(ember_dist_work *w);
ember_status ember_dist_wait(ember_dist_work *w);
int ember_dist_work_source(const ember_dist_work *w);   /* recv: the sender, 0-based */
void ember_dist_work_free(ember_dist_work *w);          /* waits first if still running */

/* }====== */

#ifdef __cplusplus
}
#endif

#endif
