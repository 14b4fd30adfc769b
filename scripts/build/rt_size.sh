#!/bin/sh
# rt_size.sh — stripped sizes of the runtime libraries in $1 (make rt-size), each beside
# its goal: the runtime over an empty op table (rt-none), every CPU op (rt), and each
# build for one program (rt-<program>; the goal is the digits MLP's). A stripped copy
# is measured; the library itself keeps its symbols.
BUILD=${1:-build}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
fail=0

size() {   # folder, what, goal in KB (0: none)
  lib="$BUILD/$1/libember_rt.so"
  [ -f "$lib" ] || return 0
  cp "$lib" "$tmp" && strip --strip-all "$tmp"
  bytes=$(wc -c <"$tmp")
  kb=$(( (bytes + 1023) / 1024 ))
  if [ "$3" -eq 0 ]; then
    printf '%-28s %-30s %6d KB\n' "$1" "$2" "$kb"
    return 0
  fi
  verdict=ok
  [ "$kb" -le "$3" ] || { verdict=OVER; fail=1; }
  printf '%-28s %-30s %6d KB  goal %4d KB  %s\n' "$1" "$2" "$kb" "$3" "$verdict"
}

size rt-none "runtime, no ops" 50
size rt "every CPU op" 500
for d in "$BUILD"/rt-*/; do
  name=$(basename "$d")
  case "$name" in rt-none|rt-vk|rt-tools) continue ;; esac
  case "$name" in *-vk) size "$name" "one program's ops, Vulkan" 0; continue ;; esac
  size "$name" "the ops of one program" 150
done
size rt-vk "every op, with Vulkan" 0
exit $fail
