/*
** index.h — CPU kernels of the index ops (host/cpu/index.c): index_select, gather,
** scatter, scatter_add, masked_fill, masked_select, nonzero, topk, sort.
*/
#ifndef EMBER_CPU_INDEX_H
#define EMBER_CPU_INDEX_H

#include "ops.h"

ember_status ember_cpu_index_select(ember_call *c);
ember_status ember_cpu_gather(ember_call *c);
ember_status ember_cpu_scatter(ember_call *c);
ember_status ember_cpu_scatter_add(ember_call *c);
ember_status ember_cpu_masked_fill(ember_call *c);
ember_status ember_cpu_masked_select(ember_call *c);
ember_status ember_cpu_nonzero(ember_call *c);
ember_status ember_cpu_topk(ember_call *c);
ember_status ember_cpu_sort(ember_call *c);

#endif
