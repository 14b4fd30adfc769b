/*
** ops_creation.c — op table entries of the creation family.
*/
#include "ops.h"

const ember_op ember_ops_creation[] = {
  { .name = NULL },
};
