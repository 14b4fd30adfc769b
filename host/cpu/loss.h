/*
** loss.h — CPU kernels of the fused losses (loss.c).
*/
#ifndef EMBER_CPU_LOSS_H
#define EMBER_CPU_LOSS_H

#include "ops.h"

ember_status ember_cpu_cross_entropy(ember_call *c);
ember_status ember_cpu_cross_entropy_backward(ember_call *c);

#endif
