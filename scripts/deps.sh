#!/bin/sh
# deps.sh — install the Debian packages ember needs, only those that are missing.
# Runs apt-get update first when something has to be installed.
set -e
PKGS="gcc make pkg-config lua5.4 liblua5.4-dev libopenblas-dev lua-busted lua-dkjson
      libreadline-dev python3-torch python3-numpy clang libclang-rt-14-dev libomp-14-dev
      libvulkan-dev glslc mesa-vulkan-drivers vulkan-validationlayers
      libopenmpi-dev openmpi-bin iproute2"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
