/* allreduce_mpi.c — the peer of ember.dist.allreduce: MPI_Allreduce (f32, sum) called
** directly from C, timed the way scripts/bench/allreduce.lua times ember.
**   mpirun -np N allreduce_mpi [-s] [-rREPS] BYTES...   one line per size on the first
**                                                 rank: "mpi BYTES<TAB>seconds per call"
** -s joins at MPI_THREAD_SERIALIZED, the level ember asks for (it calls MPI from a
** second thread too), and names its lines "mpiser": OpenMPI 4.1's small allreduce costs
** more at any level above MPI_THREAD_SINGLE, so this peer shows ember's own cost.
** Each size: a few warm-up calls, then the best of 5 rounds, a round being `reps` calls
** between barriers divided by reps (reps shrinks as the size grows). The result is
** checked (every rank starts from its rank + 1, so each element sums to N(N+1)/2) so the
** figure is for a reduction that really happened. Buffers get the memory ember gives a
** large tensor (2 MiB aligned, transparent huge pages advised), so the two figures differ
** by ember's call, not by page size. */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static float *alloc_floats(long n) {
  size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
  if (bytes < HUGE_PAGE) return malloc(bytes);
  bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  float *p = aligned_alloc(HUGE_PAGE, bytes);
  if (p != NULL) madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

static int reps_for(long bytes) {
  if (bytes <= 65536) return 200;
  if (bytes <= (1L << 20)) return 50;
  if (bytes <= (16L << 20)) return 10;
  return 3;
}

int main(int argc, char **argv) {
  int rank, size, bad = 0, fixed_reps = 0, provided;
  int serialized = argc > 1 && argv[1][0] == '-' && argv[1][1] == 's';
  MPI_Init_thread(&argc, &argv, serialized ? MPI_THREAD_SERIALIZED : MPI_THREAD_SINGLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (int a = 1; a < argc; a++) {
    if (argv[a][0] == '-' && argv[a][1] == 'r') { fixed_reps = atoi(argv[a] + 2); continue; }
    if (argv[a][0] == '-' && argv[a][1] == 's') continue;
    long bytes = atol(argv[a]), n = bytes / 4;
    int reps = fixed_reps > 0 ? fixed_reps : reps_for(bytes);
    float *buf = alloc_floats(n);
    double best = 1e30;
    if (buf == NULL) { fprintf(stderr, "allreduce_mpi: out of memory\n"); MPI_Abort(MPI_COMM_WORLD, 1); }
    for (long i = 0; i < n; i++) buf[i] = 0.0f;
    for (int w = 0; w < 3; w++) MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (int round = 0; round < 5; round++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      for (int r = 0; r < reps; r++)
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      double t = (MPI_Wtime() - t0) / reps;
      if (t < best) best = t;
    }
    /* the check: one more call from known values */
    for (long i = 0; i < n; i++) buf[i] = (float)(rank + 1);
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (long i = 0; i < n; i++)
      if (buf[i] != (float)(size * (size + 1) / 2)) { bad = 1; break; }
    if (rank == 0) printf("%s %ld\t%.9g\n", serialized ? "mpiser" : "mpi", bytes, best);
    fflush(stdout);
    free(buf);
  }
  if (bad) fprintf(stderr, "allreduce_mpi: rank %d: wrong sum\n", rank);
  MPI_Finalize();
  return bad;
}
