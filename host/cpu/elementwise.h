/*
** elementwise.h — CPU kernels of the elementwise ops (host/cpu/elementwise.c).
*/
#ifndef EMBER_CPU_ELEMENTWISE_H
#define EMBER_CPU_ELEMENTWISE_H

#include "ops.h"

ember_status ember_cpu_add(ember_call *c);
ember_status ember_cpu_sub(ember_call *c);
ember_status ember_cpu_mul(ember_call *c);
ember_status ember_cpu_div(ember_call *c);
ember_status ember_cpu_neg(ember_call *c);
ember_status ember_cpu_exp(ember_call *c);

#endif
