#!/usr/bin/env bash
# GPU check of the ML core (never part of CI). On a machine with an NVIDIA GPU, a pip PyTorch (with its
# LibTorch, and NCCL from the nvidia-nccl wheel) and `transformers`, and no internet:
#   1. builds the ML core alone (SKILLSD_ML_CORE_ONLY: core/ base support, model/, the learner's losses, trainer
#      and data parallelism with NCCL) against the LibTorch inside that PyTorch;
#   2. `learner`: runs learner_check --bench: a Skill-SD step on the GPU in float32, bf16 autocast and bfloat16
#      weights against the CPU, SFT on the GPU, a one-rank NCCL process group, and training throughput against
#      the GEMM peak of the same run;
#   3. `model`: makes random Qwen3 checkpoints with `transformers`, compares our logits with theirs on the GPU in
#      float32 and bfloat16 (and on the CPU in float32), and times scoring (prefill) with ours and theirs.
#   tools/gpu_check.sh [learner] [model]     (both when none is named)
# Abseil (the only other dependency) comes from SKILLSD_ABSL_PREFIX (a copy of Debian's, see
# tools/gpu_bundle.sh) or the system. Output: stdout and $OUT (default /tmp/gpu_check).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
ABSL_PREFIX=${SKILLSD_ABSL_PREFIX:-/usr}
export LD_LIBRARY_PATH="$ABSL_PREFIX/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cxx11abi', torch._C._GLIBCXX_USE_CXX11_ABI, 'transformers', transformers.__version__)"
TORCH_PREFIX=$(python3 -c "import torch; print(torch.utils.cmake_prefix_path)")
NCCL_ROOT=$(python3 -c "import nvidia.nccl as n; print(list(n.__path__)[0])" 2>/dev/null || true)
if [ ! -f "$NCCL_ROOT/include/nccl.h" ]; then  # the nvidia-nccl wheel's layout differs between CUDA versions
  header=$(find "$(python3 -c 'import site; print(site.getsitepackages()[0])')/nvidia" /usr/local/cuda/include \
    -name nccl.h 2>/dev/null | head -1)
  [ -n "$header" ] && NCCL_ROOT=$(dirname "$(dirname "$header")")
fi
echo "NCCL: ${NCCL_ROOT:-none}"
parts=${*:-learner model}
start=$(date +%s)
configure() {  # BUILD_DIR EXTRA_ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKILLSD_ML_CORE_ONLY=ON -DSKILLSD_BUILD_TESTS=OFF \
    -DSKILLSD_BUILD_BENCHMARKS=OFF -DSKILLSD_USE_CCACHE=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$ABSL_PREFIX" "$@" \
    > "$OUT/cmake-$dir.log" 2>&1 || { tail -40 "$OUT/cmake-$dir.log"; return 1; }
}
BUILD=build-gpu
configure $BUILD -DSKILLSD_NCCL_ROOT="$NCCL_ROOT" || exit 1
grep -h "skillsd: NCCL" "$OUT/cmake-$BUILD.log" || echo "no NCCL found (nccl.h under '$NCCL_ROOT')"
if ! cmake --build $BUILD --target model_check learner_check -j "$(nproc)" > "$OUT/build.log" 2>&1; then
  grep -E "error" -A3 "$OUT/build.log" | head -40
  echo "build with NCCL failed; building without it"
  BUILD=build-gpu-nonccl
  configure $BUILD -DSKILLSD_WITH_NCCL=OFF || exit 1
  cmake --build $BUILD --target model_check learner_check -j "$(nproc)" > "$OUT/build.log" 2>&1 ||
    { grep -E "error|Error" -A3 "$OUT/build.log" | head -60; exit 1; }
fi
echo "built model_check and learner_check against pip LibTorch in $(( $(date +%s) - start )) s"
status=0
if [[ " $parts " == *" learner "* ]]; then
  timeout 300 $BUILD/bin/learner_check --device cuda ${SKILLSD_GPU_BENCH:---bench} | tee "$OUT/learner_check.txt" || status=1
fi
if [[ " $parts " == *" model "* ]]; then
  python3 tools/gpu_check.py --model_check $BUILD/bin/model_check --out "$OUT" || status=1
fi
exit $status
