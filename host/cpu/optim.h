/*
** optim.h — CPU kernels of the fused optimizer updates (optim.c).
*/
#ifndef EMBER_CPU_OPTIM_H
#define EMBER_CPU_OPTIM_H

#include "ops.h"

typedef struct ember_sgd_args {
  double lr, momentum, dampening, weight_decay;
  int nesterov, maximize, first;   /* first: the momentum buffer starts as the update */
} ember_sgd_args;

typedef struct ember_adam_args {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;                    /* this update's step, from 1 */
  int maximize, decoupled;         /* decoupled: AdamW's weight decay */
} ember_adam_args;

/* p, grad, buf (NULL without momentum): n contiguous elements of dt (f32 or f64) */
void ember_cpu_sgd(ember_dtype dt, void *p, const void *grad, void *buf, int64_t n,
                   const ember_sgd_args *a);
/* vmax is NULL without amsgrad */
void ember_cpu_adam(ember_dtype dt, void *p, const void *grad, void *m, void *v, void *vmax,
                    int64_t n, const ember_adam_args *a);

#endif
