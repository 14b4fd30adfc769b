#!/bin/sh
# run.sh — runs every C unit test and every busted spec; prints "N passed, N failed".
# BUILD names the build folder; LUA the interpreter that runs busted (lua5.4, or a
# sanitized ember binary).
BUILD=${BUILD:-build}
LUA=${LUA:-lua5.4}
export LUA_CPATH="$BUILD/?.so;;"
export LUA_PATH="stdlib/?.lua;stdlib/?/init.lua;spec/support/?.lua;;"
export EMBER_BUILD="$BUILD"
# Vulkan specs run on lavapipe with the Khronos validation layer on; they demand zero
# messages from it (EMBER_VK_VALIDATION=0 runs them without)
export EMBER_VK_VALIDATION=${EMBER_VK_VALIDATION:-1}
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$BUILD"/ctest/test_*; do
  [ -x "$t" ] || continue
  "$t" >"$log" 2>&1
  rc=$?
  p=$(grep -c '^ok ' "$log")
  f=$(grep -c '^not ok ' "$log")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$f" -gt 0 ] && { echo "== $t"; grep -v '^ok ' "$log"; }
  pass=$((pass + p)); fail=$((fail + f))
done

if [ -x "$BUILD/embed_example" ]; then
  if "$BUILD/embed_example" >"$log" 2>&1; then pass=$((pass + 1))
  else echo "== embed_example"; cat "$log"; fail=$((fail + 1)); fi
fi

SPECS=${SPECS:-$(ls spec/*_spec.lua)}
for s in $SPECS; do
  "$LUA" /usr/bin/busted -o TAP "$s" >"$log" 2>&1
  rc=$?
  p=$(grep -c '^ok ' "$log")
  f=$(grep -c '^not ok ' "$log")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$f" -gt 0 ]; then echo "== $s"; grep -v '^ok ' "$log" | head -60; fi
  printf '%-40s %4d passed %4d failed\n' "$s" "$p" "$f"
  pass=$((pass + p)); fail=$((fail + f))
done

# the safetensors/JSON fuzzer (make fuzz) for FUZZ_SECONDS; 0 leaves it out
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  if make --no-print-directory -s fuzz BUILD="$BUILD" FUZZ_SECONDS="$FUZZ_SECONDS" >"$log" 2>&1; then
    pass=$((pass + 1)); grep '^fuzz:' "$log"
  else
    echo "== spec/fuzz"; cat "$log"; fail=$((fail + 1))
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
