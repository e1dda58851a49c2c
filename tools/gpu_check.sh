#!/usr/bin/env bash
# GPU check of the ML core (never part of CI). On a machine with an NVIDIA GPU, a pip PyTorch (with its
# LibTorch) and `transformers`, and no internet:
#   1. builds model/ alone (SKILLSD_ML_CORE_ONLY) against the LibTorch inside that PyTorch;
#   2. makes a random tiny Qwen3 checkpoint with `transformers`, and compares our logits with theirs on the GPU
#      in float32 and bfloat16 (and on the CPU in float32);
#   3. times scoring (prefill) of a larger random model with ours and with transformers.
# Abseil (the only other dependency) comes from SKILLSD_ABSL_PREFIX (a copy of Debian's, see
# tools/gpu_bundle.sh) or the system. Output: stdout and $OUT (default /tmp/gpu_check).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
ABSL_PREFIX=${SKILLSD_ABSL_PREFIX:-/usr}
export LD_LIBRARY_PATH="$ABSL_PREFIX/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cxx11abi', torch._C._GLIBCXX_USE_CXX11_ABI, 'transformers', transformers.__version__)"
TORCH_PREFIX=$(python3 -c "import torch; print(torch.utils.cmake_prefix_path)")
start=$(date +%s)
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKILLSD_ML_CORE_ONLY=ON -DSKILLSD_BUILD_TESTS=OFF \
  -DSKILLSD_BUILD_BENCHMARKS=OFF -DSKILLSD_USE_CCACHE=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$ABSL_PREFIX" \
  > "$OUT/cmake.log" 2>&1 || { tail -40 "$OUT/cmake.log"; exit 1; }
cmake --build build-gpu --target model_check -j "$(nproc)" > "$OUT/build.log" 2>&1 || { grep -E "error|Error" -A3 "$OUT/build.log" | head -60; exit 1; }
echo "built model_check against pip LibTorch in $(( $(date +%s) - start )) s"
python3 tools/gpu_check.py --model_check build-gpu/bin/model_check --out "$OUT"
