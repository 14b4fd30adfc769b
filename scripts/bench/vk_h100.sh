#!/bin/sh
# vk_h100.sh — the Vulkan benchmarks on the GPU machine (the `device` tool), one call:
#   make all ember-run-vk && make bench   (here: the build and the exported programs)
#   device run, carry [".gl", ".debs", "build"]: sh scripts/bench/vk_h100.sh
# It unpacks the Vulkan loader and ember's runtime libraries, downloaded once here with
#   mkdir -p .gl .debs   (both git-ignored through .git/info/exclude)
#   (cd .gl && apt-get download libvulkan1)
#   (cd .debs && apt-get download liblua5.4-0 libopenblas0 libopenblas0-pthread \
#      libgfortran5 libreadline8 libgomp1)
# runs vk.lua and its torch peer, and the exported digits CNN through ember-run on
# Vulkan beside torch CUDA, all in the same run, and writes the table to
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
# The exported digits CNN run by the runtime on Vulkan (weights uploaded at load, the
# graph recorded once; a run is set_input through mapped staging and execute), beside
# torch CUDA eager on the same model, weights and inputs (export_torch.py --cuda). The
# programs come from `make bench` (build/bench_export, carried in build/), or are made
# here when missing.
EXP=build/bench_export
[ -f $EXP/digits_cnn_b32.ember ] || build/ember scripts/bench/export.lua $EXP > /dev/null
for b in 1 32; do
  build/ember-run-vk $EXP/digits_cnn_b$b.ember $EXP/digits_cnn_b${b}_in.safetensors --device vulkan \
    --bench 1000 2>> "$OUT/vk_bench.txt" |
    awk -v b=$b '/p50/ { for (i = 1; i < NF; i++) if ($i == "p50") printf "ember exported CNN b%d\t%.9g\n", b, $(i + 1) / 1e6 }'
done >> "$OUT/vk_raw.txt"
python3 scripts/bench/export_torch.py $EXP --cuda >> "$OUT/vk_raw.txt" 2>> "$OUT/vk_bench.txt"
build/ember scripts/bench/ratio.lua "$OUT/vk_raw.txt" vulkan | tee -a "$OUT/vk_bench.txt"
