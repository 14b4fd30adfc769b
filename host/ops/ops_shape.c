/*
** ops_shape.c — op table entries of the shape family.
*/
#include "ops.h"

const ember_op ember_ops_shape[] = {
  { .name = NULL },
};
