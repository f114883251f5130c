#!/usr/bin/env bash
# Fresh Debian 12 -> installs packages, builds infera and runs the whole test suite:
#   1. release build: unit tests, ONNX conformance, real models (with ../shared), bad inputs;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build: the same tests but the slow model ones;
#   3. libFuzzer over the model loader for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh test
if [ -d ../shared/peers ]; then
  bash ../shared/peers/setup-ort.sh >/dev/null  # ONNX Runtime (npm) as the reference engine for model tests
fi
jobs=$(nproc)

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERA_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/../tests/lsan.supp ctest --output-on-failure -j "$jobs" -LE models)

if [ -f tests/fuzz/run_fuzz.sh ]; then
  echo "== libFuzzer: model loader"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERA_FUZZ=ON \
    -DINFERA_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j "$jobs"
  bash tests/fuzz/run_fuzz.sh build-fuzz "${INFERA_FUZZ_SECONDS:-120}"
fi
