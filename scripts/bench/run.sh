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
echo "== training step, batch 32, SGD with momentum (ember from Lua vs torch eager)"
"$BUILD/ember" $B/train.lua > "$BUILD/bench_train.txt"
$PY $B/train.py >> "$BUILD/bench_train.txt"
"$BUILD/ember" $B/ratio.lua "$BUILD/bench_train.txt"
echo "== exported digits models, one inference (ember-run vs torch eager vs eager ember from Lua)"
"$BUILD/ember" $B/export.lua "$BUILD/bench_export" > "$BUILD/bench_export.txt"
$PY $B/export_torch.py "$BUILD/bench_export" >> "$BUILD/bench_export.txt"
"$BUILD/ember" $B/export.lua report "$BUILD/bench_export.txt"
echo "== runtime library sizes, stripped (goals: no ops 50 KB, every CPU op 500 KB, the digits MLP's ops 150 KB)"
make --no-print-directory -s rt-size BUILD="$BUILD" PROGRAM="$BUILD/bench_export/digits_mlp_b1.ember" | grep KB
echo "== matmul f32 (ember from Lua vs C calling cblas_sgemm)"
"$BUILD/ember" $B/matmul.lua "$BUILD/bench_sgemm"
echo "== bandwidth, 16M f32 (bytes read+written per second)"
"$BUILD/ember" $B/bandwidth.lua "$BUILD/bench_memcpy"
BUILD="$BUILD" sh $B/dist.sh
echo "== start-up (wall time and peak RSS)"
$PY $B/startup.py "$BUILD/ember"
echo "== safetensors, 1 GiB f32 in 195 tensors (ember vs torch.load/torch.save and numpy mmap)"
ST_TMP=${TMPDIR:-/tmp}
if [ "$(df -Pk "$ST_TMP" | awk 'NR == 2 { print $4 }')" -lt $((4 * 1024 * 1024)) ]; then
  echo "skipped: needs 4 GiB free under $ST_TMP"
else
  ST_DIR=$(mktemp -d "$ST_TMP/ember-bench-st.XXXXXX")
  trap 'rm -rf "$ST_DIR"' EXIT
  "$BUILD/ember" $B/safetensors.lua "$ST_DIR" > "$BUILD/bench_safetensors.txt"
  $PY $B/safetensors.py "$ST_DIR" >> "$BUILD/bench_safetensors.txt"
  rm -rf "$ST_DIR"
  "$BUILD/ember" $B/safetensors.lua report "$BUILD/bench_safetensors.txt"
fi
