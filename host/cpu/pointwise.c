/*
** pointwise.c — runs a per-dtype elementwise loop table over a call's operands.
*/
#include <string.h>

#include "ops.h"
#include "pointwise.h"

ember_status ember_pw_run(ember_call *c, int nin, const ember_pw_loops *loops,
                          const double *p, int np) {
  ember_loop_fn loop = NULL;
  switch (c->compute) {
  case EMBER_F32: loop = loops->f32; break;
  case EMBER_F64: loop = loops->f64; break;
  case EMBER_I64: loop = loops->i64; break;
  case EMBER_U8: case EMBER_BOOL: loop = loops->u8; break;
  default: break;
  }
  if (loop == NULL)
    return ember_op_error(c, "no CPU kernel for dtype %s", ember_dtype_name(c->compute));
  ember_pw_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  if (p && np) memcpy(ctx.p, p, (size_t)np * sizeof *p);
  ember_iter_run(c->out[0], nin, (const ember_tensor *const *)c->in, loop, &ctx);
  return EMBER_OK;
}
