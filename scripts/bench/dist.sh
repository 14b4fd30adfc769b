#!/bin/sh
# dist.sh — the collectives and DDP figures of `make bench` (run.sh calls it; BUILD names
# the build folder). Each figure beside its peer measured in the same run:
# - allreduce (f32, sum, 2 ranks on this host): ember.dist.allreduce from Lua, with its
#   default check that ranks agree and with check = false, against a C program calling
#   MPI_Allreduce (allreduce_mpi.c) at MPI_THREAD_SINGLE and at MPI_THREAD_SERIALIZED (the
#   level ember asks for), same mpirun flags; each the median of 3 runs.
# - DDP training step, buckets overlapping the backward against one allreduce after it,
#   on the two hosts of scripts/dist/twohosts.sh (network namespaces, MPI over TCP)
#   with delay and a rate on the link; needs root, and says so instead when it is not.
BUILD=${BUILD:-build}
B=scripts/bench
export LUA_CPATH="$BUILD/?.so;;"
export LUA_PATH="stdlib/?.lua;stdlib/?/init.lua;;"
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
SIZES="4096 65536 1048576 16777216 268435456"
set -e

mpicc -O2 -o "$BUILD/bench_allreduce_mpi" $B/allreduce_mpi.c
echo "== allreduce f32 sum, 2 ranks on this host (ember.dist.allreduce from Lua vs C calling MPI_Allreduce)"
out="$BUILD/bench_allreduce.txt"
: >"$out"
for _ in 1 2 3; do
  $MPIRUN -np 2 "$BUILD/bench_allreduce_mpi" $SIZES >>"$out"
  $MPIRUN -np 2 "$BUILD/bench_allreduce_mpi" -s $SIZES >>"$out"
  $MPIRUN -np 2 "$BUILD/ember" $B/allreduce.lua check $SIZES >>"$out"
  $MPIRUN -np 2 "$BUILD/ember" $B/allreduce.lua nocheck $SIZES >>"$out"
done
"$BUILD/ember" $B/allreduce.lua report "$out"

# an MLP of 4 layers 512x512 (4 MB of f32 gradients; bucket_cap_mb = 1 gives 5 buckets),
# 3072 rows per rank, one thread per rank (the ranks share this machine's cores): its
# backward and its allreduce over a 400 Mbit/s link take about as long as each other,
# the case overlap is for
NETEM="1ms 400mbit"
STEP="512 4 3072 1 3"
echo "== DDP step, overlap vs one allreduce after backward, two hosts (netem $NETEM each way)"
export TWOHOSTS_ID="b$$" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
TWO="sh scripts/dist/twohosts.sh"
if ! msg=$($TWO up 2>&1); then
  echo "pending: the two hosts need root and ip netns: $msg"
  exit 0
fi
trap '$TWO down >/dev/null 2>&1' EXIT
dir=$(mktemp -d)
$TWO netem $NETEM
$TWO run 2 "$BUILD/ember" spec/dist/net_ddp.lua step "$dir" $STEP "(one per host)"
$TWO run 4 "$BUILD/ember" spec/dist/net_ddp.lua step "$dir" $STEP "(two per host)"
rm -rf "$dir"
