/*
** attr.c — attribute values from text: the defaults written in the op table and the
** "name=value,..." strings of ember_op_run. Lists are written "1,2" inside a single
** attribute; in a whole attribute string they are written with ':' ("dim=0:1").
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

static ember_status parse_list(const ember_op *op, const ember_attr_def *d, const char *text,
                               ember_attr *a) {
  const char *p = text;
  a->n = 0;
  while (*p) {
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno)
      return ember_error("%s: attribute %s: cannot read \"%s\" as a list of integers",
                         op->name, d->name, text);
    if (a->n == EMBER_MAX_INTS)
      return ember_error("%s: attribute %s: more than %d values", op->name, d->name,
                         EMBER_MAX_INTS);
    a->v[a->n++] = v;
    p = end;
    while (*p == ',' || *p == ':' || *p == ' ') p++;
  }
  a->present = 1;
  return EMBER_OK;
}

ember_status ember_attr_parse(const ember_op *op, const ember_attr_def *d, const char *text,
                              ember_attr *a) {
  memset(a, 0, sizeof *a);
  if (strcmp(text, "none") == 0 && d->kind != EMBER_ATTR_STR) return EMBER_OK;
  char *end;
  a->present = 1;
  switch (d->kind) {
  case EMBER_ATTR_INT: case EMBER_ATTR_DIM: case EMBER_ATTR_INDEX:
    errno = 0;
    a->i = strtoll(text, &end, 10);
    if (end == text || *end || errno)
      return ember_error("%s: attribute %s: \"%s\" is not an integer", op->name, d->name, text);
    a->f = (double)a->i;
    return EMBER_OK;
  case EMBER_ATTR_FLOAT:
    a->f = strtod(text, &end);
    if (end == text || *end)
      return ember_error("%s: attribute %s: \"%s\" is not a number", op->name, d->name, text);
    a->i = (int64_t)(a->f == a->f && a->f < 9e18 && a->f > -9e18 ? a->f : 0);
    return EMBER_OK;
  case EMBER_ATTR_BOOL:
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) a->i = 1;
    else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0) a->i = 0;
    else return ember_error("%s: attribute %s: \"%s\" is not true or false", op->name, d->name, text);
    return EMBER_OK;
  case EMBER_ATTR_DIMS: case EMBER_ATTR_DIMS_VA: case EMBER_ATTR_INTS: case EMBER_ATTR_SIZE:
    return parse_list(op, d, text, a);
  case EMBER_ATTR_STR:
    a->s = text;
    return EMBER_OK;
  case EMBER_ATTR_DTYPE:
    a->i = ember_dtype_from_name(text);
    if (a->i == EMBER_DTYPE_NONE)
      return ember_error("%s: attribute %s: unknown dtype \"%s\"", op->name, d->name, text);
    return EMBER_OK;
  }
  return ember_error("%s: attribute %s: unknown kind", op->name, d->name);
}
