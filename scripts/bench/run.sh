#!/bin/sh
# run.sh — every benchmark of `make bench`: one line per figure, each beside its peer
# measured in the same run, with the ratio. Speed goals live here, never in tests.
BUILD=${BUILD:-build}
export LUA_CPATH="$BUILD/?.so;;"
export LUA_PATH="stdlib/?.lua;stdlib/?/init.lua;;"
PY=/usr/bin/python3
B=scripts/bench
set -e
cc -O2 -o "$BUILD/bench_sgemm" $B/sgemm.c -lopenblas
cc -O2 -o "$BUILD/bench_memcpy" $B/memcpy.c
echo "== dispatch (64-element f32, per call)"
"$BUILD/ember" $B/dispatch.lua > "$BUILD/bench_dispatch.txt"
$PY $B/dispatch.py >> "$BUILD/bench_dispatch.txt"
"$BUILD/ember" $B/ratio.lua "$BUILD/bench_dispatch.txt"
echo "== matmul f32 (ember from Lua vs C calling cblas_sgemm)"
"$BUILD/ember" $B/matmul.lua "$BUILD/bench_sgemm"
echo "== bandwidth, 16M f32 (bytes read+written per second)"
"$BUILD/ember" $B/bandwidth.lua "$BUILD/bench_memcpy"
echo "== start-up (wall time and peak RSS)"
$PY $B/startup.py "$BUILD/ember"
