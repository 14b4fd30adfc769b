/*
** local.c — the transport of a world of one: what each collective leaves when this
** process is every rank. Reductions and broadcasts leave the tensor as it is; gathers
** and scatters copy this rank's block; a send waits in a mailbox for the matching recv.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

typedef struct letter {
  int tag;
  size_t nbytes;
  struct letter *next;
  unsigned char bytes[];
} letter;

static letter *mailbox;          /* in the order sent: MPI's messages do not overtake */
static ember_dist_work *posted;  /* asynchronous receives not matched yet, in order */

static size_t wire_size(int type) {
  static const size_t sizes[] = { 4, 8, 1, 2, 4, 8, 1, 8 };
  return sizes[type];
}

static void deliver(ember_dist_work *r, const void *bytes, size_t nbytes) {
  size_t n = nbytes < r->count ? nbytes : r->count;
  if (n) memcpy(r->recvbuf, bytes, n);
  r->source = 0;
  r->got = nbytes;
}

static void post(ember_dist_work *w) {
  for (ember_dist_work **p = &posted; *p; p = &(*p)->next)
    if ((*p)->tag == w->tag) {            /* a receive is waiting for it */
      ember_dist_work *r = *p;
      *p = r->next;
      deliver(r, w->sendbuf, w->count);
      r->state = W_DONE;
      return;
    }
  letter *l = malloc(sizeof *l + w->count), **end = &mailbox;
  if (l == NULL) {
    w->failed = 1;
    snprintf(w->msg, sizeof w->msg, "send: out of memory holding %zu bytes", w->count);
    return;
  }
  l->tag = w->tag;
  l->nbytes = w->count;
  l->next = NULL;
  if (w->count) memcpy(l->bytes, w->sendbuf, w->count);
  while (*end) end = &(*end)->next;
  *end = l;
}

static void nothing_sent(ember_dist_work *w) {
  w->failed = 1;
  snprintf(w->msg, sizeof w->msg, "recv: nothing was sent with tag %d; in a world of one "
           "this rank is the only sender, so the receive would wait forever", w->tag);
}

/* Takes the first letter with w's tag; 0 when there is none. */
static int take(ember_dist_work *w) {
  letter **p = &mailbox;
  while (*p && (*p)->tag != w->tag) p = &(*p)->next;
  if (*p == NULL) return 0;
  letter *l = *p;
  *p = l->next;
  deliver(w, l->bytes, l->nbytes);
  free(l);
  return 1;
}

void dist_execute_local(ember_dist_work *w) {
  switch (w->kind) {
    case DIST_BARRIER: case DIST_ALLREDUCE: case DIST_BROADCAST: break;
    case DIST_ALLGATHER: case DIST_ALL_TO_ALL:
      if (w->count) memmove(w->recvbuf, w->sendbuf, w->count);
      break;
    case DIST_REDUCE_SCATTER:
      if (w->count) memmove(w->recvbuf, w->sendbuf, w->count * wire_size(w->type));
      break;
    case DIST_SEND: post(w); break;
    case DIST_RECV: if (!take(w)) nothing_sent(w); break;
  }
}

void dist_local_start(ember_dist_work *w) {
  if (w->kind == DIST_RECV && !take(w)) {   /* wait for a send this process makes later */
    ember_dist_work **end = &posted;
    while (*end) end = &(*end)->next;
    w->next = NULL;
    *end = w;
    w->state = W_POSTED;
    return;
  }
  if (w->kind != DIST_RECV) dist_execute_local(w);   /* a recv took its letter above */
  w->state = W_DONE;
}

void dist_local_give_up(ember_dist_work *w) {
  for (ember_dist_work **p = &posted; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  nothing_sent(w);
  w->state = W_DONE;
}
