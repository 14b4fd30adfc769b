/*
** ops_linalg.c — op table entries of the linalg family.
*/
#include "ops.h"

const ember_op ember_ops_linalg[] = {
  { .name = NULL },
};
