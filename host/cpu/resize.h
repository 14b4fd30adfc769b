/*
** resize.h — what pad and interpolate share with their gradients (resize.c defines
** it, resize_backward.c uses it too): a gradient must read exactly the sources its
** forward read, so both compute them with the same code.
*/
#ifndef EMBER_CPU_RESIZE_H
#define EMBER_CPU_RESIZE_H

#include "conv.h"

/* The index maps of the g->npad padded dims, output index -> source index (or -1 for
** the constant), one after another: dim j's map starts at at[j] and has padded[j]
** entries, for a dim of plain[j] elements before padding. A scratch block (give it
** back with ember_scratch_free), or NULL when out of memory. */
int64_t *ember_pad_maps(const ember_pad_geom *g, const int64_t *padded, const int64_t *plain,
                        int64_t *at);

/* The taps of one interpolated axis: output o reads source i0[o] with weight l0[o]
** and i1[o] with weight l1[o] (nearest: i1 = i0, l0 = 1, l1 = 0). */
typedef struct ember_taps {
  int64_t *i0, *i1;
  double *l0, *l1;
} ember_taps;

/* The taps of both axes of g (ty: height, tx: width) for dtype dt's arithmetic. On
** failure c's error is set and nothing is left to free. */
ember_status ember_interp_taps(ember_call *c, ember_dtype dt, const ember_interp_geom *g,
                               ember_taps *ty, ember_taps *tx);
void ember_interp_taps_free(ember_taps *ty, ember_taps *tx);

#endif
