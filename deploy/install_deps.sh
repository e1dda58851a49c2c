#!/usr/bin/env bash
# Installs every Debian package skillsd needs to build, test and run (--build-only: just to build; --bench: also the
# benchmarks' PyTorch peer). Idempotent: packages already present are
# left alone and `apt-get update` runs only when something is missing. Called by deploy/local/run.sh and
# tests/run.sh, so a fresh Debian bookworm machine needs nothing installed by hand.
set -euo pipefail

# To build the binaries.
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-openmp libgloo-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libyaml-cpp-dev libsqlite3-dev libssl-dev zlib1g-dev libcurl4-openssl-dev
  libicu-dev libmicrohttpd-dev
)
# To test, benchmark, lint and run the launcher (not needed by --build-only, e.g. the image's build stage);
# gnuplot-nox draws the run report's figures (skillsd report); python3-grpcio and python3-protobuf serve the Python
# env-worker kit (env_workers/python).
TEST_PACKAGES=(
  ccache clang libclang-rt-14-dev clang-format clang-tidy
  libgtest-dev libgmock-dev libbenchmark-dev nodejs
  openssl prometheus curl procps python3 gnuplot-nox
  python3-grpcio python3-protobuf
)
# --bench also: the PyTorch-eager peer that model_benchmark runs beside its own decode (model/decode_peer.py).
BENCH_PACKAGES=(python3-torch)
BUILD_ONLY=0
BENCH=0
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; fi
if [ "${1:-}" = "--bench" ]; then BENCH=1; fi
PACKAGES=("${BUILD_PACKAGES[@]}")
if [ "$BUILD_ONLY" = 0 ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi
if [ "$BENCH" = 1 ]; then PACKAGES+=("${BENCH_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm (for the tokenizer parity test's reference implementation): bundled with some nodejs builds, a separate
# Debian package otherwise.
if [ "$BUILD_ONLY" = 0 ] && ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# kubectl (for `kubectl kustomize` in the deploy checks): any kubectl will do; Debian's is kubernetes-client.
if [ "$BUILD_ONLY" = 0 ] && ! command -v kubectl >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi

# LibTorch links against whichever BLAS the alternatives system selects. The reference BLAS is ~30x slower and
# the pthread OpenBLAS fights LibTorch's own threads, so select the OpenMP build.
for lib in libblas.so.3 liblapack.so.3; do
  cand=$(update-alternatives --list "${lib}-x86_64-linux-gnu" 2>/dev/null | grep openblas-openmp || true)
  if [ -n "$cand" ]; then
    cur=$(readlink -f "/usr/lib/x86_64-linux-gnu/${lib}" || true)
    if [ "$cur" != "$(readlink -f "$cand")" ]; then
      $SUDO update-alternatives --set "${lib}-x86_64-linux-gnu" "$cand" >/dev/null
    fi
  fi
done
