#!/usr/bin/env bash
# Configures (once) and builds skillsd into build/ (Release, Ninja, ccache when present).
# Extra arguments go to the first CMake configure, e.g. deploy/build.sh -DSKILLSD_BUILD_BENCHMARKS=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SKILLSD_BUILD_DIR:-build}
JOBS=${SKILLSD_JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
