/*
** dist.h — internal API of host/dist, ember's collectives (public API: ember.h §10).
**
** A call becomes a work: what the caller's thread prepared (its tensors, the staging
** buffers that stand in for them, the call's description) and what the transport does
** with raw host buffers. dist.c holds the job's state and loads MPI; collect.c turns
** tensor calls into works and finishes them; comm.c runs works, in order, on the
** caller's thread or the communication thread, and watches them; local.c is the
** transport of a world of one.
*/
#ifndef EMBER_DIST_H
#define EMBER_DIST_H

#include <pthread.h>

#include "ember.h"
#include "mpi_api.h"

typedef enum dist_kind {
  DIST_BARRIER, DIST_ALLREDUCE, DIST_BROADCAST, DIST_ALLGATHER, DIST_REDUCE_SCATTER,
  DIST_ALL_TO_ALL, DIST_SEND, DIST_RECV
} dist_kind;

/* What every rank must agree on: compared through a hash, gathered when they differ. */
typedef struct dist_call {
  int32_t kind, dtype, op, root, ndim, pad;
  int64_t shape[EMBER_MAX_DIMS];
} dist_call;

typedef enum work_state { W_QUEUED, W_RUNNING, W_POSTED, W_DONE } work_state;
enum { PHASE_CHECK, PHASE_OP };

typedef struct ember_dist_work ember_dist_work;
struct ember_dist_work {
  dist_kind kind;
  dist_call call;
  int check;                  /* agree on `call` first */
  int check_only;             /* a refused call: take part in the agreement, nothing more */
  int phase;                  /* on the communication thread: PHASE_CHECK, then PHASE_OP */
  uint64_t agree[2];          /* the agreement's buffer: the call's hash, and its complement */
  /* the caller's side: tensors held until the end, staging that stands in for them */
  ember_tensor *user_in, *user_out;
  ember_tensor *stage_in, *stage_out;
  int divide;                 /* AVG: divide the result by the world size */
  int finished;               /* results written back, tensors let go */
  /* the transport's side: host buffers and counts */
  const void *sendbuf;
  void *recvbuf;
  size_t count;               /* elements of a reduction; bytes of a move (per rank) */
  int type, op;               /* EMBER_MPI_* */
  int peer, tag;
  /* shared with the communication thread, under dist_state.lock */
  work_state state;
  int failed;
  char msg[1024];
  void *req;                  /* a posted send/recv */
  int source;
  size_t got;
  double since;               /* when it was made, for the watchdog */
  ember_dist_work *next;      /* queue */
  ember_dist_work *active;    /* every work not done yet */
};

typedef struct dist_state {
  int initialized, is_mpi;
  int rank, size, local_rank, local_size;
  double timeout;
  int check;
  const ember_mpi_api *mpi;
  /* communication thread, watchdog and the order of work */
  pthread_mutex_t lock;       /* everything below */
  pthread_cond_t wake;        /* the communication thread: work came, or stop */
  pthread_cond_t done;        /* callers: a work finished, or the queue drained */
  pthread_cond_t watch;       /* the watchdog's sleep */
  pthread_mutex_t mpi_lock;   /* held around every MPI call: MPI_THREAD_SERIALIZED */
  ember_dist_work *head, *tail;     /* queued, not yet begun */
  ember_dist_work *active;          /* not done: queued, running, posted */
  ember_dist_work *opening;   /* a work the communication thread has taken whose
                                 operation has not been started yet */
  int stop;
  int waiters;                /* callers blocked in a wait */
  pthread_t comm_thread, watchdog;
  int threads;                /* 1 once both run */
  const char *blocking;       /* a call the caller's thread is inside, for the watchdog */
  dist_call blocking_call;
  double blocking_since;
} dist_state;

extern dist_state dist_S;

double dist_now(void);
/* "allreduce f32 [3, 4] sum" */
void dist_call_str(const dist_call *c, char *buf, size_t n);
const char *dist_kind_name(dist_kind k);

/* comm.c */
ember_status dist_threads_start(void);
void dist_threads_stop(void);
/* Runs w to completion on this thread, with MPI's blocking calls, once every queued
** work has begun. */
void dist_run_blocking(ember_dist_work *w);
/* Queues w for the communication thread. */
void dist_enqueue(ember_dist_work *w);
/* 1 when w is done (under the lock). */
int dist_is_done(ember_dist_work *w);
void dist_wait_done(ember_dist_work *w);
/* Waits until every work has finished (finalize). */
void dist_drain_all(void);
/* The transport step of w, with blocking calls and the MPI lock held; sets w->failed
** and w->msg. */
void dist_execute(ember_dist_work *w);

/* local.c: the same step in a world of one; an asynchronous receive waits there for
** a later send (start), or fails when waited for with none (give_up) */
void dist_execute_local(ember_dist_work *w);
void dist_local_start(ember_dist_work *w);
void dist_local_give_up(ember_dist_work *w);

#endif
