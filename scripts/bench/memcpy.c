/* memcpy.c — the peer of the bandwidth benchmark: memcpy of n f32 (as bytes read +
** written per second, best of several runs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 16u << 20;
  size_t bytes = n * 4;
  char *a = malloc(bytes), *b = malloc(bytes);
  memset(a, 1, bytes);
  memset(b, 2, bytes);
  double best = 1e30;
  for (int r = 0; r < 10; r++) {
    double t0 = now();
    memcpy(b, a, bytes);
    double t = now() - t0;
    if (t < best) best = t;
  }
  printf("%.9g\n", 2.0 * bytes / best);
  return b[bytes / 2] == 1 ? 0 : 1;
}
