/*
** ops_index.c — op table entries of the index family.
*/
#include "ops.h"

const ember_op ember_ops_index[] = {
  { .name = NULL },
};
