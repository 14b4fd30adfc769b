/*
** creation.h — CPU kernels of the creation family (host/cpu/creation.c): tensors made
** from a size and a rule (zeros, arange, eye) or from the Philox stream (rand, randn,
** randint). The *_like ops share these kernels: they only read attributes by name.
*/
#ifndef EMBER_CPU_CREATION_H
#define EMBER_CPU_CREATION_H

#include "ops.h"

/* Attribute `name` of the call, or NULL when the op has none by that name; lets one
** kernel serve zeros(size, dtype) and zeros_like(t, dtype), whose attrs differ. */
const ember_attr *ember_creation_attr(const ember_call *c, const char *name);

/* Whether a FLOAT attribute holds an integer as PyTorch's Python scalars do: a Lua
** integer (the bindings set .i only then), or integral text from C ("7", "7.0").
** A Lua float is not, except 0.0, which reads like the integer 0. */
int ember_creation_is_integral(const ember_attr *a);

/* arange's numbers after the one-argument form (arange(end) means start 0): the
** values as doubles, and exactly as integers when all three are integral. */
typedef struct ember_range {
  double start, end, step;
  int64_t istart, iend, istep;
  int integral;
} ember_range;
void ember_creation_range(const ember_call *c, ember_range *r);

/* randint's [low, high) after the one-bound form randint_like(t, high). */
void ember_creation_int_bounds(const ember_call *c, int64_t *low, int64_t *high);

/* full's fill_value as one element of dt at elem (8 bytes): integral values go to
** integer dtypes exactly, beyond 2^53 too. */
void ember_creation_fill_value(const ember_call *c, ember_dtype dt, void *elem);

/* v rounded to f16 or bf16 (dt) and back. */
float ember_creation_half_round(ember_dtype dt, float v);
/* An f16 or bf16 linspace's ends and step from start a, end b and n > 1 points, each
** operation rounded to dt as PyTorch's half arithmetic does. */
void ember_creation_linspace_half(ember_dtype dt, double a, double b, int64_t n, float *fa,
                                  float *fb, float *step);

ember_status ember_cpu_empty(ember_call *c);     /* leaves the memory as it is */
ember_status ember_cpu_zeros(ember_call *c);
ember_status ember_cpu_ones(ember_call *c);
ember_status ember_cpu_full(ember_call *c);      /* fill_value */
ember_status ember_cpu_arange(ember_call *c);    /* start, step (end only sizes it) */
ember_status ember_cpu_linspace(ember_call *c);  /* start, end */
ember_status ember_cpu_eye(ember_call *c);
ember_status ember_cpu_rand(ember_call *c);      /* uniform [0, 1) */
ember_status ember_cpu_randn(ember_call *c);     /* standard normal, Box-Muller */
ember_status ember_cpu_randint(ember_call *c);   /* uniform integers in [low, high) */

#endif
