/*
** mpi_api.h — the seam between ember's collectives (host/dist) and an MPI library.
** libember_mpi.so (host/dist/mpi/mpi_shim.c) is the only code that includes mpi.h; it
** exports ember_mpi_api_get(), which returns this table. Everything here works on
** host buffers and plain counts; tensors, staging and threads are host/dist's.
** Every function returns 0 or an MPI error code that error_string turns into text.
** Ranks are 0-based. The caller makes sure two threads never call in at once.
*/
#ifndef EMBER_MPI_API_H
#define EMBER_MPI_API_H

#include <stddef.h>
#include <stdint.h>

#define EMBER_MPI_ABI 2

/* element types of reductions; moves go as bytes */
enum { EMBER_MPI_F32, EMBER_MPI_F64, EMBER_MPI_I8, EMBER_MPI_I16, EMBER_MPI_I32,
       EMBER_MPI_I64, EMBER_MPI_U8, EMBER_MPI_U64 };
enum { EMBER_MPI_SUM, EMBER_MPI_PROD, EMBER_MPI_MAX, EMBER_MPI_MIN };

typedef struct ember_mpi_api {
  int abi;                                /* EMBER_MPI_ABI */
  /* MPI_Init_thread at MPI_THREAD_SERIALIZED; errors return instead of aborting */
  int (*init)(int *rank, int *size, int *local_rank, int *local_size);
  int (*finalize)(void);
  void (*abort)(int code);
  void (*error_string)(int code, char *buf, size_t n);
  void (*library)(char *buf, size_t n);   /* the MPI library's name and version */

  int (*barrier)(void);
  int (*allreduce)(void *buf, size_t count, int type, int op);             /* in place */
  int (*bcast)(void *buf, size_t nbytes, int root);
  int (*allgather)(const void *in, void *out, size_t nbytes);              /* per rank */
  int (*reduce_scatter)(const void *in, void *out, size_t count, int type, int op); /* count per rank */
  int (*alltoall)(const void *in, void *out, size_t nbytes);               /* per rank */
  /* src -1: any sender; *from, *got: the sender and the bytes that came */
  int (*send)(const void *buf, size_t nbytes, int dst, int tag);
  int (*recv)(void *buf, size_t nbytes, int src, int tag, int *from, size_t *got);
  int (*isend)(const void *buf, size_t nbytes, int dst, int tag, void **req);
  int (*irecv)(void *buf, size_t nbytes, int src, int tag, void **req);
  /* the nonblocking forms of the collectives (counts within int): a request to test */
  int (*ibarrier)(void **req);
  int (*iallreduce)(void *buf, size_t count, int type, int op, void **req);
  int (*ibcast)(void *buf, size_t nbytes, int root, void **req);
  int (*iallgather)(const void *in, void *out, size_t nbytes, void **req);
  int (*ireduce_scatter)(const void *in, void *out, size_t count, int type, int op, void **req);
  int (*ialltoall)(const void *in, void *out, size_t nbytes, void **req);
  /* *done = 1 once req finished; req is freed then */
  int (*test)(void *req, int *done, int *from, size_t *got);
  int tag_max;                            /* largest tag MPI takes (set by init) */
} ember_mpi_api;

typedef const ember_mpi_api *(*ember_mpi_api_fn)(void);
#define EMBER_MPI_API_SYMBOL "ember_mpi_api_get"

#endif
