/*
** ops_reduce.c — op table entries of the reduce family.
*/
#include "ops.h"

const ember_op ember_ops_reduce[] = {
  { .name = NULL },
};
