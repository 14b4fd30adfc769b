/*
** registry.c — gathers the family tables into one op table, finds ops by name and
** holds each attribute's parsed default.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

static const ember_op *family_tables[] = {
  ember_ops_creation, ember_ops_elementwise, ember_ops_reduce, ember_ops_linalg,
  ember_ops_nn, ember_ops_shape, ember_ops_index, ember_ops_view, ember_ops_conv, ember_ops_loss,
  ember_ops_optim, ember_ops_fused,
};

#define MAX_OPS 512

static const ember_op *all_ops[MAX_OPS];
static ember_attr (*defaults)[EMBER_MAX_ATTRS];   /* defaults[op index][attr] */
static int nops;
static const char *registry_error;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void ensure(void);

static int by_name(const void *a, const void *b) {
  return strcmp((*(const ember_op *const *)a)->name, (*(const ember_op *const *)b)->name);
}

/* op pointer -> index, open addressing: the dispatcher asks on every call */
#define SLOTS 1024
static const ember_op *slot_op[SLOTS];
static int slot_index[SLOTS];

static unsigned slot_of(const ember_op *op) {
  return (unsigned)(((uintptr_t)op >> 3) * 2654435761u) % SLOTS;
}

static void index_ops(void) {
  for (int i = 0; i < nops; i++) {
    unsigned h = slot_of(all_ops[i]);
    while (slot_op[h]) h = (h + 1) % SLOTS;
    slot_op[h] = all_ops[i];
    slot_index[h] = i;
  }
}

static int op_index(const ember_op *op) {
  ensure();
  for (unsigned h = slot_of(op); slot_op[h]; h = (h + 1) % SLOTS)
    if (slot_op[h] == op) return slot_index[h];
  return -1;
}

static void build(void) {
  for (size_t f = 0; f < sizeof family_tables / sizeof family_tables[0]; f++)
    for (const ember_op *op = family_tables[f]; op->name; op++) {
      if (nops == MAX_OPS) { registry_error = "op table: more than MAX_OPS entries"; return; }
      all_ops[nops++] = op;
    }
  qsort(all_ops, nops, sizeof all_ops[0], by_name);
  index_ops();
  for (int i = 1; i < nops; i++)
    if (strcmp(all_ops[i]->name, all_ops[i - 1]->name) == 0) registry_error = all_ops[i]->name;
}

static void ensure(void) {
  pthread_once(&once, build);
}

/* The defaults are parsed apart from the table, on their first use: the runtime reads
** every attribute from the program file and never asks, so it links no attribute parser. */
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void parse_defaults(void) {
  ensure();
  defaults = calloc(nops > 0 ? (size_t)nops : 1, sizeof *defaults);
  if (defaults == NULL) {
    registry_error = "op table: out of memory for the defaults";
    return;
  }
  for (int i = 0; i < nops; i++) {
    const ember_op *op = all_ops[i];
    for (int k = 0; op->attrs && op->attrs[k].name; k++) {
      const ember_attr_def *d = &op->attrs[k];
      if (d->dflt && ember_attr_parse(op, d, d->dflt, &defaults[i][k]) != EMBER_OK)
        registry_error = op->name;
    }
  }
}

int ember_ops_count(void) {
  ensure();
  return nops;
}

const ember_op *ember_op_at(int i) {
  ensure();
  return i >= 0 && i < nops ? all_ops[i] : NULL;
}

const ember_op *ember_op_find(const char *name) {
  ensure();
  int lo = 0, hi = nops - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    int c = strcmp(name, all_ops[mid]->name);
    if (c == 0) return all_ops[mid];
    if (c < 0) hi = mid - 1; else lo = mid + 1;
  }
  return NULL;
}

const ember_attr *ember_op_defaults(const ember_op *op) {
  pthread_once(&defaults_once, parse_defaults);
  int i = op_index(op);
  return i < 0 || defaults == NULL ? NULL : defaults[i];
}

const ember_attr *ember_op_default(const ember_op *op, int k) {
  pthread_once(&defaults_once, parse_defaults);
  int i = op_index(op);
  return i < 0 || defaults == NULL ? NULL : &defaults[i][k];
}

int ember_op_attr_count(const ember_op *op) {
  int n = 0;
  while (op->attrs && op->attrs[n].name) n++;
  return n;
}

int ember_op_attr_index(const ember_op *op, const char *name) {
  for (int k = 0; op->attrs && op->attrs[k].name; k++)
    if (strcmp(op->attrs[k].name, name) == 0) return k;
  return -1;
}

/* Non-NULL names the first entry that is duplicated or has a bad default. */
const char *ember_ops_check(void) {
  pthread_once(&defaults_once, parse_defaults);
  return registry_error;
}

int ember_op_count(void) { return ember_ops_count(); }
const char *ember_op_name(int i) { const ember_op *op = ember_op_at(i); return op ? op->name : NULL; }
