#!/usr/bin/env bash
# Copies Debian's Abseil (headers, shared libraries, CMake config) into .gpu/usr so tools/gpu_check.sh can build
# the ML core on a GPU machine that has no Abseil. Run here, then carry .gpu to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu && mkdir -p .gpu/usr/include .gpu/usr/lib/x86_64-linux-gnu/cmake
cp -r /usr/include/absl .gpu/usr/include/
cp -a /usr/lib/x86_64-linux-gnu/libabsl_*.so* .gpu/usr/lib/x86_64-linux-gnu/
cp -r /usr/lib/x86_64-linux-gnu/cmake/absl .gpu/usr/lib/x86_64-linux-gnu/cmake/
du -sh .gpu
