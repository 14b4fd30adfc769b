/*
** nn.h — CPU kernels of the nn family (host/cpu/nn.c; batch_norm in training: norm_batch.c).
*/
#ifndef EMBER_CPU_NN_H
#define EMBER_CPU_NN_H

#include "ops.h"

ember_status ember_cpu_linear(ember_call *c);
ember_status ember_cpu_softmax(ember_call *c);
ember_status ember_cpu_log_softmax(ember_call *c);
ember_status ember_cpu_layer_norm(ember_call *c);
ember_status ember_cpu_batch_norm(ember_call *c);
ember_status ember_cpu_batch_norm_train(ember_call *c);            /* norm_batch.c */
ember_status ember_cpu_batch_norm_train_backward(ember_call *c);   /* norm_batch.c */
ember_status ember_cpu_embedding(ember_call *c);
ember_status ember_cpu_dropout(ember_call *c);
ember_status ember_cpu_dropout_backward(ember_call *c);
ember_status ember_cpu_one_hot(ember_call *c);

#endif
