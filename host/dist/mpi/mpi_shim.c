/*
** mpi_shim.c — libember_mpi.so: ember's collectives spoken in MPI (see mpi_api.h).
** The only file of ember that includes mpi.h or links libmpi. ember loads it with
** dlopen when a job starts, so nothing else pays for MPI.
**
** ember keeps its own duplicate of MPI_COMM_WORLD, so that MPI calls a program makes
** itself never match ember's messages, and asks for MPI_ERRORS_RETURN on it, so that a
** failure comes back as an error instead of ending the process.
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "mpi_api.h"

static MPI_Comm comm = MPI_COMM_NULL;
static ember_mpi_api api;

static MPI_Datatype type_of(int t) {
  switch (t) {
    case EMBER_MPI_F32: return MPI_FLOAT;
    case EMBER_MPI_F64: return MPI_DOUBLE;
    case EMBER_MPI_I8: return MPI_INT8_T;
    case EMBER_MPI_I16: return MPI_INT16_T;
    case EMBER_MPI_I32: return MPI_INT32_T;
    case EMBER_MPI_I64: return MPI_INT64_T;
    case EMBER_MPI_U8: return MPI_UINT8_T;
    default: return MPI_UINT64_T;
  }
}

static size_t type_size(int t) {
  static const size_t sizes[] = { 4, 8, 1, 2, 4, 8, 1, 8 };
  return sizes[t];
}

static MPI_Op op_of(int op) {
  switch (op) {
    case EMBER_MPI_SUM: return MPI_SUM;
    case EMBER_MPI_PROD: return MPI_PROD;
    case EMBER_MPI_MAX: return MPI_MAX;
    default: return MPI_MIN;
  }
}

/* MPI counts are int; host/dist refuses larger moves before they get here, and the
** element-wise calls below go in pieces. */
#define PIECE ((size_t)1 << 30)

static int shim_init(int *rank, int *size, int *local_rank, int *local_size) {
  int provided = 0, rc;
  if ((rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided)) != MPI_SUCCESS) return rc;
  if (provided < MPI_THREAD_SERIALIZED) return MPI_ERR_OTHER;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm)) != MPI_SUCCESS) return rc;
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm, rank);
  MPI_Comm_size(comm, size);
  MPI_Comm node;
  if ((rc = MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &node)) != MPI_SUCCESS)
    return rc;
  MPI_Comm_rank(node, local_rank);
  MPI_Comm_size(node, local_size);
  MPI_Comm_free(&node);
  void *ub;
  int flag = 0;
  MPI_Comm_get_attr(comm, MPI_TAG_UB, &ub, &flag);
  api.tag_max = flag ? *(int *)ub : 32767;
  return MPI_SUCCESS;
}

static int shim_finalize(void) {
  if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  return MPI_Finalize();
}

static void shim_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static void shim_error_string(int code, char *buf, size_t n) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
    snprintf(text, sizeof text, "MPI error %d", code);
  snprintf(buf, n, "%s", text);
}

static void shim_library(char *buf, size_t n) {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  text[strcspn(text, ",\n")] = '\0';        /* the first clause is the name and version */
  snprintf(buf, n, "%s", text);
}

static int shim_barrier(void) { return MPI_Barrier(comm); }

static int shim_allreduce(void *buf, size_t count, int type, int op) {
  char *p = buf;
  size_t es = type_size(type);
  do {
    size_t k = count < PIECE ? count : PIECE;
    int rc = MPI_Allreduce(MPI_IN_PLACE, p, (int)k, type_of(type), op_of(op), comm);
    if (rc != MPI_SUCCESS) return rc;
    p += k * es;
    count -= k;
  } while (count > 0);
  return MPI_SUCCESS;
}

static int shim_bcast(void *buf, size_t nbytes, int root) {
  char *p = buf;
  do {
    size_t k = nbytes < PIECE ? nbytes : PIECE;
    int rc = MPI_Bcast(p, (int)k, MPI_BYTE, root, comm);
    if (rc != MPI_SUCCESS) return rc;
    p += k;
    nbytes -= k;
  } while (nbytes > 0);
  return MPI_SUCCESS;
}

static int shim_allgather(const void *in, void *out, size_t nbytes) {
  return MPI_Allgather(in, (int)nbytes, MPI_BYTE, out, (int)nbytes, MPI_BYTE, comm);
}

static int shim_reduce_scatter(const void *in, void *out, size_t count, int type, int op) {
  return MPI_Reduce_scatter_block(in, out, (int)count, type_of(type), op_of(op), comm);
}

static int shim_alltoall(const void *in, void *out, size_t nbytes) {
  return MPI_Alltoall(in, (int)nbytes, MPI_BYTE, out, (int)nbytes, MPI_BYTE, comm);
}

static int shim_send(const void *buf, size_t nbytes, int dst, int tag) {
  return MPI_Send(buf, (int)nbytes, MPI_BYTE, dst, tag, comm);
}

static int shim_recv(void *buf, size_t nbytes, int src, int tag, int *from, size_t *got) {
  MPI_Status st;
  int rc = MPI_Recv(buf, (int)nbytes, MPI_BYTE, src < 0 ? MPI_ANY_SOURCE : src, tag, comm, &st);
  if (rc != MPI_SUCCESS) return rc;
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  *from = st.MPI_SOURCE;
  *got = (size_t)n;
  return MPI_SUCCESS;
}

static int start(int rc, MPI_Request *r, void **req) {
  if (rc != MPI_SUCCESS) {
    free(r);
    return rc;
  }
  *req = r;
  return MPI_SUCCESS;
}

static int shim_isend(const void *buf, size_t nbytes, int dst, int tag, void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Isend(buf, (int)nbytes, MPI_BYTE, dst, tag, comm, r), r, req);
}

static int shim_irecv(void *buf, size_t nbytes, int src, int tag, void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Irecv(buf, (int)nbytes, MPI_BYTE, src < 0 ? MPI_ANY_SOURCE : src, tag, comm, r),
               r, req);
}

static int shim_ibarrier(void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Ibarrier(comm, r), r, req);
}

static int shim_iallreduce(void *buf, size_t count, int type, int op, void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)count, type_of(type), op_of(op), comm, r), r, req);
}

static int shim_ibcast(void *buf, size_t nbytes, int root, void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Ibcast(buf, (int)nbytes, MPI_BYTE, root, comm, r), r, req);
}

static int shim_iallgather(const void *in, void *out, size_t nbytes, void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Iallgather(in, (int)nbytes, MPI_BYTE, out, (int)nbytes, MPI_BYTE, comm, r), r, req);
}

static int shim_ireduce_scatter(const void *in, void *out, size_t count, int type, int op, void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Ireduce_scatter_block(in, out, (int)count, type_of(type), op_of(op), comm, r), r, req);
}

static int shim_ialltoall(const void *in, void *out, size_t nbytes, void **req) {
  MPI_Request *r = malloc(sizeof *r);
  if (r == NULL) return MPI_ERR_NO_MEM;
  return start(MPI_Ialltoall(in, (int)nbytes, MPI_BYTE, out, (int)nbytes, MPI_BYTE, comm, r), r, req);
}

static int shim_test(void *req, int *done, int *from, size_t *got) {
  MPI_Request *r = req;
  MPI_Status st;
  int rc = MPI_Test(r, done, &st);
  if (rc != MPI_SUCCESS) {
    *done = 1;
    free(r);
    return rc;
  }
  if (*done) {
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    *from = st.MPI_SOURCE;
    *got = (size_t)n;
    free(r);
  }
  return MPI_SUCCESS;
}

const ember_mpi_api *ember_mpi_api_get(void) {
  api.abi = EMBER_MPI_ABI;
  api.init = shim_init;
  api.finalize = shim_finalize;
  api.abort = shim_abort;
  api.error_string = shim_error_string;
  api.library = shim_library;
  api.barrier = shim_barrier;
  api.allreduce = shim_allreduce;
  api.bcast = shim_bcast;
  api.allgather = shim_allgather;
  api.reduce_scatter = shim_reduce_scatter;
  api.alltoall = shim_alltoall;
  api.send = shim_send;
  api.recv = shim_recv;
  api.isend = shim_isend;
  api.irecv = shim_irecv;
  api.ibarrier = shim_ibarrier;
  api.iallreduce = shim_iallreduce;
  api.ibcast = shim_ibcast;
  api.iallgather = shim_iallgather;
  api.ireduce_scatter = shim_ireduce_scatter;
  api.ialltoall = shim_ialltoall;
  api.test = shim_test;
  if (api.tag_max == 0) api.tag_max = 32767;
  return &api;
}
