#!/usr/bin/env bash
# Fresh Debian 12 -> installs packages, builds infera, runs the demo model shipped in models/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DINFERA_TESTS=OFF >/dev/null
cmake --build build --target infera-cli
./build/infera
