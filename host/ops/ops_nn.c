/*
** ops_nn.c — op table entries of the nn family.
*/
#include "ops.h"

const ember_op ember_ops_nn[] = {
  { .name = NULL },
};
