#!/bin/sh
# vk_h100.sh — the Vulkan benchmarks on the GPU machine (the `device` tool), one call:
#   device run, carry [".gl", ".debs", "build"]: sh scripts/bench/vk_h100.sh
# It unpacks the Vulkan loader and ember's runtime libraries, downloaded once here with
#   mkdir -p .gl .debs   (both git-ignored through .git/info/exclude)
#   (cd .gl && apt-get download libvulkan1)
#   (cd .debs && apt-get download liblua5.4-0 libopenblas0 libopenblas0-pthread \
#      libgfortran5 libreadline8 libgomp1)
# runs vk.lua and its torch peer in the same run, and writes the table to
# $OUT/vk_bench.txt.
set -e
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
mkdir -p /tmp/deps
for f in .debs/*.deb; do dpkg -x "$f" /tmp/deps; done
export LD_LIBRARY_PATH=/tmp/deps/usr/lib/x86_64-linux-gnu:/tmp/deps/usr/lib/x86_64-linux-gnu/openblas-pthread
export PATH=/tmp/deps/usr/bin:$PATH
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export LUA_PATH="stdlib/?.lua;stdlib/?/init.lua;;" EMBER_STDLIB="$PWD/stdlib" EMBER_VK_VALIDATION=0
OUT=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/vk_bench.txt" 2>&1 || true
build/ember scripts/bench/vk.lua > "$OUT/vk_raw.txt" 2>> "$OUT/vk_bench.txt"
python3 scripts/bench/vk_torch.py >> "$OUT/vk_raw.txt" 2>> "$OUT/vk_bench.txt"
build/ember scripts/bench/ratio.lua "$OUT/vk_raw.txt" vulkan | tee -a "$OUT/vk_bench.txt"
