/*
** fuzz_program.c — libFuzzer target for the runtime's loader (make fuzz; see
** spec/fuzz/run.sh). Each input is a program file in memory. The loader must either
** refuse it with a message or accept it; a program it accepts is executed on zeroed
** inputs at its bounds, which is where a plan the loader should have refused (a slot
** too small, a range past the arena, a shape the ops do not give) would write out of
** bounds and trip AddressSanitizer. The seeds (spec/fuzz/corpus_program) are programs
** ember.export wrote, so mutations land in the JSON that matters.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember_rt.h"
#include "rt.h"

#define CHECK(c) ((c) ? (void)0 : fail(#c, __LINE__))

static void fail(const char *what, int line) {
  fprintf(stderr, "fuzz_program.c:%d: check failed: %s\n", line, what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* the loader may keep pointers into the bytes: give it its own aligned copy */
  void *copy = aligned_alloc(64, (size + 64) / 64 * 64);
  if (copy == NULL) return 0;
  memcpy(copy, data, size);
  /* a mutated size can ask for terabytes: a budget keeps the run in memory */
  ember_rt_options opts = { .memory_limit = 16u << 20 };
  ember_rt_program *p = ember_rt_load_memory(copy, size, &opts);
  if (p == NULL) {
    CHECK(strlen(ember_rt_last_error()) > 0);
    free(copy);
    return 0;
  }
  /* an accepted program runs, or fails with a message (an index out of range); one
     whose values (views included) are huge would only be slow, so it is not run */
  for (int v = 0; v < p->nvalues; v++) {
    int64_t n = 1;
    for (int d = 0; d < p->values[v].ndim; d++) n *= p->values[v].max_shape[d];
    if (n > (1 << 20)) { ember_rt_free(p); free(copy); return 0; }
  }
  /* an accepted program runs, or fails with a message (an index out of range) */
  for (int i = 0; i < ember_rt_input_count(p); i++) {
    ember_rt_tensor_info info;
    CHECK(ember_rt_input_info(p, i, &info) == EMBER_RT_OK);
    CHECK(ember_rt_input_data(p, i) != NULL || info.elem_size == 0 || info.ndim > 0);
  }
  ember_rt_status st = ember_rt_execute(p);
  if (st != EMBER_RT_OK) CHECK(strlen(ember_rt_last_error()) > 0);
  for (int i = 0; st == EMBER_RT_OK && i < ember_rt_output_count(p); i++) {
    int nd;
    int64_t shape[8];
    CHECK(ember_rt_output_shape(p, i, &nd, shape) == EMBER_RT_OK);
    CHECK(ember_rt_output_data(p, i) != NULL);
  }
  ember_rt_free(p);
  free(copy);
  return 0;
}
