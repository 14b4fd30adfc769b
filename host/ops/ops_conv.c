/*
** ops_conv.c — op table entries of the convolution family: conv2d,
** conv_transpose2d, pooling, pad, interpolate.
*/
#include "ops.h"

const ember_op ember_ops_conv[] = {
  { .name = NULL },
};
