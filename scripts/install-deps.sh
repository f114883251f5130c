#!/usr/bin/env bash
# Installs the Debian 12 packages infera needs. `build` (default): to build and run; `test`: also what the tests use.
set -euo pipefail
what=${1:-build}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
packages=(cmake ninja-build g++ pkg-config libprotobuf-dev protobuf-compiler libonnx-dev
          nlohmann-json3-dev libcli11-dev libfmt-dev libdnnl-dev
          libjpeg-dev libpng-dev zlib1g-dev)
if [ "$what" = test ]; then
  packages+=(libgtest-dev libonnx-testdata python3-numpy python3-onnx python3-pil python3-sklearn
             python3-torch python3-torchvision clang libclang-rt-14-dev libomp-dev chromium)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
