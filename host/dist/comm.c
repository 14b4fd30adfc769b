/*
** comm.c — running works in order: on the caller's thread, on the communication thread,
** and under the watchdog's eye.
**
** MPI wants every rank to start its collectives in the same order. A blocking call
** first waits until everything queued before it has begun, then calls MPI's blocking
** form itself: no thread hand-off on the short path. Asynchronous works go to a queue
** that one thread starts in order with MPI's nonblocking forms and then tests, sleeping
** a little between tests. OpenMPI makes progress only inside MPI calls and spins while it
** waits; a thread parked in a blocking call would spin on a core the computation it
** overlaps needs (on 2 cores, DDP's step with overlap ran slower than without). One lock
** keeps two threads from ever being inside MPI at once (MPI_THREAD_SERIALIZED).
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist.h"

#define S dist_S

static void unlink_active(ember_dist_work *w) {
  for (ember_dist_work **p = &S.active; *p; p = &(*p)->active)
    if (*p == w) {
      *p = w->active;
      w->active = NULL;
      return;
    }
}

static void deadline_after(struct timespec *ts, double seconds) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  double t = (double)ts->tv_sec + 1e-9 * (double)ts->tv_nsec + seconds;
  ts->tv_sec = (time_t)t;
  ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

/* {====== agreement: every rank makes the same call */

static uint64_t call_hash(const dist_call *c) {
  const unsigned char *p = (const unsigned char *)c;
  uint64_t h = 1469598103934665603ull;               /* FNV-1a */
  for (size_t i = 0; i < sizeof *c; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void mpi_failure(ember_dist_work *w, const char *what, int rc) {
  char text[256];
  S.mpi->error_string(rc, text, sizeof text);
  w->failed = 1;
  snprintf(w->msg, sizeof w->msg, "%s: %s failed: %s", dist_kind_name(w->kind), what, text);
}

/* Appends "rank 1: ..." / "ranks 2-4: ..." runs of equal calls to msg. */
static void describe_ranks(char *msg, size_t n, const dist_call *all, int size) {
  size_t len = strlen(msg);
  for (int r = 0; r < size && len + 1 < n;) {
    int e = r;
    while (e + 1 < size && memcmp(&all[e + 1], &all[r], sizeof *all) == 0) e++;
    char call[160];
    dist_call_str(&all[r], call, sizeof call);
    if (e == r) snprintf(msg + len, n - len, "%s rank %d: %s", r ? ";" : "", r + 1, call);
    else snprintf(msg + len, n - len, "%s ranks %d-%d: %s", r ? ";" : "", r + 1, e + 1, call);
    len = strlen(msg);
    r = e + 1;
  }
}

/* 0 when every rank made w's call, w->agree holding the MAX over ranks of its hash and
** of the hash's complement; else w fails, the same way on every rank. */
static int agreed(ember_dist_work *w) {
  uint64_t mine = call_hash(&w->call);
  if (w->agree[0] == mine && w->agree[1] == ~mine) return 0;   /* max == min: all the same */
  dist_call *all = calloc((size_t)S.size, sizeof *all);
  w->failed = 1;
  if (all == NULL) {
    snprintf(w->msg, sizeof w->msg, "%s: the ranks' calls differ (out of memory naming them)",
             dist_kind_name(w->kind));
    return -1;
  }
  int rc = S.mpi->allgather(&w->call, all, sizeof *all);
  if (rc != 0) {
    free(all);
    mpi_failure(w, "gathering the ranks' calls", rc);
    return -1;
  }
  snprintf(w->msg, sizeof w->msg, "%s: the ranks' calls differ:", dist_kind_name(w->kind));
  describe_ranks(w->msg, sizeof w->msg, all, S.size);
  free(all);
  return -1;
}

static void agree_fill(ember_dist_work *w) {
  uint64_t h = call_hash(&w->call);
  w->agree[0] = h;
  w->agree[1] = ~h;
}

/* The agreement with a blocking allreduce. */
static int agree(ember_dist_work *w) {
  agree_fill(w);
  int rc = S.mpi->allreduce(w->agree, 2, EMBER_MPI_U64, EMBER_MPI_MAX);
  if (rc != 0) {
    mpi_failure(w, "the check that ranks agree", rc);
    return -1;
  }
  return agreed(w);
}

/* }====== */

void dist_execute(ember_dist_work *w) {
  if (!S.is_mpi) {
    dist_execute_local(w);
    return;
  }
  const ember_mpi_api *m = S.mpi;
  if (w->check && agree(w) != 0) return;
  if (w->check_only) return;
  int rc = 0;
  switch (w->kind) {
    case DIST_BARRIER: rc = m->barrier(); break;
    case DIST_ALLREDUCE: rc = m->allreduce(w->recvbuf, w->count, w->type, w->op); break;
    case DIST_BROADCAST: rc = m->bcast(w->recvbuf, w->count, w->peer); break;
    case DIST_ALLGATHER: rc = m->allgather(w->sendbuf, w->recvbuf, w->count); break;
    case DIST_REDUCE_SCATTER:
      rc = m->reduce_scatter(w->sendbuf, w->recvbuf, w->count, w->type, w->op);
      break;
    case DIST_ALL_TO_ALL: rc = m->alltoall(w->sendbuf, w->recvbuf, w->count); break;
    case DIST_SEND: rc = m->send(w->sendbuf, w->count, w->peer, w->tag); break;
    case DIST_RECV: rc = m->recv(w->recvbuf, w->count, w->peer, w->tag, &w->source, &w->got); break;
  }
  if (rc != 0) mpi_failure(w, "MPI", rc);
}

/* {====== the nonblocking steps of the communication thread */

/* Starts w's operation; an element-wise count past int goes the blocking way, in
** pieces (then w->req stays NULL: w is done). */
static void start_op(ember_dist_work *w) {
  const ember_mpi_api *m = S.mpi;
  int rc = 0;
  w->phase = PHASE_OP;
  if (w->check_only) return;
  if (w->count > (size_t)INT_MAX) {
    int check = w->check;
    w->check = 0;
    dist_execute(w);
    w->check = check;
    return;
  }
  switch (w->kind) {
    case DIST_BARRIER: rc = m->ibarrier(&w->req); break;
    case DIST_ALLREDUCE: rc = m->iallreduce(w->recvbuf, w->count, w->type, w->op, &w->req); break;
    case DIST_BROADCAST: rc = m->ibcast(w->recvbuf, w->count, w->peer, &w->req); break;
    case DIST_ALLGATHER: rc = m->iallgather(w->sendbuf, w->recvbuf, w->count, &w->req); break;
    case DIST_REDUCE_SCATTER:
      rc = m->ireduce_scatter(w->sendbuf, w->recvbuf, w->count, w->type, w->op, &w->req);
      break;
    case DIST_ALL_TO_ALL: rc = m->ialltoall(w->sendbuf, w->recvbuf, w->count, &w->req); break;
    case DIST_SEND: rc = m->isend(w->sendbuf, w->count, w->peer, w->tag, &w->req); break;
    case DIST_RECV: rc = m->irecv(w->recvbuf, w->count, w->peer, w->tag, &w->req); break;
  }
  if (rc != 0) {
    w->req = NULL;
    mpi_failure(w, "MPI", rc);
  }
}

/* Starts w: its agreement first when it has one, else its operation. */
static void start(ember_dist_work *w) {
  if (!w->check) {
    start_op(w);
    return;
  }
  w->phase = PHASE_CHECK;
  agree_fill(w);
  int rc = S.mpi->iallreduce(w->agree, 2, EMBER_MPI_U64, EMBER_MPI_MAX, &w->req);
  if (rc != 0) {
    w->req = NULL;
    mpi_failure(w, "the check that ranks agree", rc);
  }
}

/* w's request finished: after the agreement, the operation starts. */
static void advance(ember_dist_work *w) {
  if (w->phase == PHASE_CHECK && agreed(w) == 0) start_op(w);
}

/* }====== */

/* {====== the caller's side */

void dist_run_blocking(ember_dist_work *w) {
  if (!S.is_mpi) {
    dist_execute_local(w);
    w->state = W_DONE;
    return;
  }
  pthread_mutex_lock(&S.lock);
  if (S.head || S.opening) {           /* waiting on the communication thread: it naps short */
    S.waiters++;
    pthread_cond_signal(&S.wake);
    while (S.head || S.opening) pthread_cond_wait(&S.done, &S.lock);
    S.waiters--;
  }
  S.blocking = dist_kind_name(w->kind);
  S.blocking_call = w->call;
  S.blocking_since = dist_now();
  pthread_mutex_unlock(&S.lock);
  pthread_mutex_lock(&S.mpi_lock);
  dist_execute(w);
  pthread_mutex_unlock(&S.mpi_lock);
  pthread_mutex_lock(&S.lock);
  S.blocking = NULL;
  w->state = W_DONE;
  pthread_mutex_unlock(&S.lock);
}

void dist_enqueue(ember_dist_work *w) {
  w->since = dist_now();
  if (!S.is_mpi) {               /* a world of one is done at once, but for a recv */
    dist_local_start(w);
    return;
  }
  pthread_mutex_lock(&S.lock);
  w->state = W_QUEUED;
  w->next = NULL;
  if (S.tail) S.tail->next = w;
  else S.head = w;
  S.tail = w;
  w->active = S.active;
  S.active = w;
  pthread_cond_signal(&S.wake);
  pthread_mutex_unlock(&S.lock);
}

int dist_is_done(ember_dist_work *w) {
  if (!S.is_mpi) return w->state == W_DONE;
  pthread_mutex_lock(&S.lock);
  int done = w->state == W_DONE;
  pthread_mutex_unlock(&S.lock);
  return done;
}

void dist_wait_done(ember_dist_work *w) {
  if (!S.is_mpi) {
    if (w->state != W_DONE) dist_local_give_up(w);
    return;
  }
  pthread_mutex_lock(&S.lock);
  if (w->state != W_DONE) {
    S.waiters++;                       /* the communication thread naps short now */
    pthread_cond_signal(&S.wake);
    while (w->state != W_DONE) pthread_cond_wait(&S.done, &S.lock);
    S.waiters--;
  }
  pthread_mutex_unlock(&S.lock);
}

void dist_drain_all(void) {
  pthread_mutex_lock(&S.lock);
  S.waiters++;
  pthread_cond_signal(&S.wake);
  while (S.active) pthread_cond_wait(&S.done, &S.lock);
  S.waiters--;
  pthread_mutex_unlock(&S.lock);
}

/* }====== */

/* {====== the communication thread */

#define MAX_POLL 64

/* After w's step: done when it failed or has no request left; the work being opened
** stops holding the queue once its operation has started. */
static void settle(ember_dist_work *w) {
  if (w->failed || w->req == NULL) {
    w->state = W_DONE;
    unlink_active(w);
  } else {
    w->state = W_POSTED;
  }
  if (S.opening == w && (w->state == W_DONE || w->phase == PHASE_OP)) S.opening = NULL;
}

/* Tests the posted works once, moving each that finished a step on; returns how many
** moved. Called and returns with S.lock held. */
static int poll_posted(void) {
  ember_dist_work *posted[MAX_POLL];
  int n = 0, moved = 0;
  for (ember_dist_work *w = S.active; w && n < MAX_POLL; w = w->active)
    if (w->state == W_POSTED) posted[n++] = w;
  pthread_mutex_unlock(&S.lock);
  int done[MAX_POLL];
  pthread_mutex_lock(&S.mpi_lock);
  for (int i = 0; i < n; i++) {
    ember_dist_work *w = posted[i];
    int from = -1;
    size_t got = 0;
    done[i] = 0;
    int rc = S.mpi->test(w->req, &done[i], &from, &got);
    if (!done[i]) continue;
    w->req = NULL;
    if (rc != 0) mpi_failure(w, w->phase == PHASE_CHECK ? "the check that ranks agree" : "MPI", rc);
    else if (w->kind == DIST_RECV && w->phase == PHASE_OP) w->source = from, w->got = got;
    else advance(w);
  }
  pthread_mutex_unlock(&S.mpi_lock);
  pthread_mutex_lock(&S.lock);
  for (int i = 0; i < n; i++)
    if (done[i]) {
      settle(posted[i]);
      moved++;
    }
  if (moved) pthread_cond_broadcast(&S.done);
  return moved;
}

static int any_posted(void) {
  for (ember_dist_work *w = S.active; w; w = w->active)
    if (w->state == W_POSTED) return 1;
  return 0;
}

/* The longest sleep between tests. While the caller computes (DDP's backward), a
** long one: each test costs microseconds of a core the computation needs (on the DDP
** step of docs/benchmarks.md a 50 us cap left it 10% slower than a 500 us one). While
** a caller waits for a work, a short one: then only the latency counts. */
#define NAP_COMPUTING 1e-3
#define NAP_WAITED 20e-6

static void *comm_main(void *arg) {
  (void)arg;
  double nap = 1e-6;
  pthread_mutex_lock(&S.lock);
  for (;;) {
    if (S.head && S.opening == NULL) {       /* the next work starts in queue order */
      ember_dist_work *w = S.head;
      S.head = w->next;
      if (S.head == NULL) S.tail = NULL;
      w->state = W_RUNNING;
      S.opening = w;
      pthread_mutex_unlock(&S.lock);
      pthread_mutex_lock(&S.mpi_lock);
      start(w);
      pthread_mutex_unlock(&S.mpi_lock);
      pthread_mutex_lock(&S.lock);
      settle(w);
      pthread_cond_broadcast(&S.done);
      nap = 1e-6;
      continue;
    }
    if (any_posted()) {
      if (poll_posted()) {
        nap = 1e-6;
        continue;
      }
      struct timespec ts;
      deadline_after(&ts, nap);
      pthread_cond_timedwait(&S.wake, &S.lock, &ts);
      double cap = S.waiters ? NAP_WAITED : NAP_COMPUTING;
      nap = nap * 2 < cap ? nap * 2 : cap;
      continue;
    }
    if (S.stop) break;
    pthread_cond_wait(&S.wake, &S.lock);
  }
  pthread_mutex_unlock(&S.lock);
  return NULL;
}

/* }====== */

/* {====== the watchdog */

/* Ends the job: the calls of every rank wait on this one. The message is the last
** thing this process does, so it goes straight to stderr. */
static void expire(const char *what, const dist_call *call, double waited) {
  char desc[192], msg[640];
  if (call && call->ndim >= 0 && call->kind != DIST_BARRIER && what != NULL && strcmp(what, "finalize") != 0)
    dist_call_str(call, desc, sizeof desc);
  else
    snprintf(desc, sizeof desc, "%s", what);
  int n = snprintf(msg, sizeof msg,
                   "ember.dist: rank %d of %d: %s waited %.1f s for the other ranks: a rank has "
                   "died or is not making the same calls in the same order; ending the job\n",
                   S.rank + 1, S.size, desc, waited);
  if (n > 0 && write(2, msg, (size_t)n) < 0) { /* nothing more can be done */ }
  S.mpi->abort(1);
  _exit(1);
}

static void *watch_main(void *arg) {
  (void)arg;
  double period = S.timeout / 4 < 1 ? S.timeout / 4 : 1;
  pthread_mutex_lock(&S.lock);
  while (!S.stop) {
    double now = dist_now();
    if (S.blocking && now - S.blocking_since > S.timeout)
      expire(S.blocking, &S.blocking_call, now - S.blocking_since);
    for (ember_dist_work *w = S.active; w; w = w->active)
      if (now - w->since > S.timeout) expire(dist_kind_name(w->kind), &w->call, now - w->since);
    struct timespec ts;
    deadline_after(&ts, period);
    pthread_cond_timedwait(&S.watch, &S.lock, &ts);
  }
  pthread_mutex_unlock(&S.lock);
  return NULL;
}

/* }====== */

static ember_status init_clock_cond(pthread_cond_t *c) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(c, &a);
  pthread_condattr_destroy(&a);
  return rc == 0 ? EMBER_OK : ember_error("dist: cannot make a condition variable");
}

ember_status dist_threads_start(void) {
  /* timed waits count on the monotonic clock, as dist_now does */
  if (init_clock_cond(&S.wake) != EMBER_OK || init_clock_cond(&S.watch) != EMBER_OK)
    return EMBER_ERROR;
  S.stop = 0;
  int rc = pthread_create(&S.comm_thread, NULL, comm_main, NULL);
  if (rc != 0) return ember_error("dist.init: cannot start the communication thread: %s", strerror(rc));
  rc = pthread_create(&S.watchdog, NULL, watch_main, NULL);
  if (rc != 0) {
    pthread_mutex_lock(&S.lock);
    S.stop = 1;
    pthread_cond_broadcast(&S.wake);
    pthread_mutex_unlock(&S.lock);
    pthread_join(S.comm_thread, NULL);
    return ember_error("dist.init: cannot start the watchdog thread: %s", strerror(rc));
  }
  S.threads = 1;
  return EMBER_OK;
}

void dist_threads_stop(void) {
  if (!S.threads) return;
  pthread_mutex_lock(&S.lock);
  S.stop = 1;
  pthread_cond_broadcast(&S.wake);
  pthread_cond_broadcast(&S.watch);
  pthread_mutex_unlock(&S.lock);
  pthread_join(S.comm_thread, NULL);
  pthread_join(S.watchdog, NULL);
  S.threads = 0;
}
