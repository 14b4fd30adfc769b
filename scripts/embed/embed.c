/*
** embed.c — ember inside a C program: open a host, hand it a C array as a tensor
** (no copy), run Lua on it, and read the result back by pointer.
*/
#include <stdio.h>

#include "ember.h"

int main(void) {
  float data[6] = { 1, 2, 3, 4, 5, 6 };
  int64_t shape[2] = { 2, 3 };
  ember_host *h = ember_host_open();
  if (h == NULL) { fprintf(stderr, "%s\n", ember_last_error()); return 1; }
  ember_tensor *x = ember_tensor_from_data(data, EMBER_F32, 2, shape, NULL, NULL, NULL);
  if (x == NULL || ember_host_set_tensor(h, "x", x) != EMBER_OK) {
    fprintf(stderr, "%s\n", ember_last_error());
    return 1;
  }
  /* Lua writes into the caller's array in place, then computes a new tensor */
  if (ember_host_dostring(h, "x:mul_(2); y = (x + 1):sum(2)", "embed") != EMBER_OK) {
    fprintf(stderr, "%s\n", ember_last_error());
    return 1;
  }
  ember_tensor *y = ember_host_get_tensor(h, "y");
  if (y == NULL) { fprintf(stderr, "%s\n", ember_last_error()); return 1; }
  const float *yd = ember_tensor_data(y);
  printf("x doubled in place: %g %g %g %g %g %g\n", data[0], data[1], data[2], data[3], data[4], data[5]);
  printf("y = (x + 1):sum(2) = %g %g\n", yd[0], yd[1]);
  int ok = data[5] == 12 && yd[0] == 15 && yd[1] == 33;
  ember_tensor_release(y);
  ember_tensor_release(x);
  ember_host_close(h);
  printf("%s\n", ok ? "embed: ok" : "embed: WRONG");
  return ok ? 0 : 1;
}
