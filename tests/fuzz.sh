#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for a bounded time,
# starting from its seed corpus. Inputs in tests/fuzz/regressions/<target>/ (crashes found before) are replayed
# first and must pass. A crash writes the input to build-fuzz/artifacts/ and fails the script.
#   tests/fuzz.sh [SECONDS_PER_TARGET]     (default: $SKILLSD_FUZZ_SECONDS or 20)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-${SKILLSD_FUZZ_SECONDS:-20}}
BUILD=build-fuzz
TARGETS=(fuzz_answer fuzz_env_service fuzz_config fuzz_tokenizer fuzz_model_files fuzz_snapshot fuzz_group
         fuzz_skill_json fuzz_score_request)
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DSKILLSD_FUZZ=ON -DSKILLSD_BUILD_TESTS=OFF -DSKILLSD_BUILD_BENCHMARKS=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$(nproc)" --target "${TARGETS[@]}"
mkdir -p "$BUILD/artifacts"
for t in "${TARGETS[@]}"; do
  regress=tests/fuzz/regressions/$t
  if [ -d "$regress" ] && [ -n "$(find "$regress" -type f ! -name .keep)" ]; then
    "$BUILD/fuzz/$t" $(find "$regress" -type f ! -name .keep) >/dev/null 2>&1 || { echo "$t: a regression input fails" >&2; exit 1; }
  fi
  corpus=$BUILD/corpus/$t
  mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$t" ] && cp -n tests/fuzz/corpus/$t/* "$corpus"/ 2>/dev/null || true
  log=$BUILD/artifacts/$t.log
  if ! "$BUILD/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$BUILD/artifacts/$t-" -print_final_stats=1 "$corpus" >"$log" 2>&1; then
    echo "$t: FAILED (see $log)"; tail -30 "$log" >&2; exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "$t: ok, $execs executions in ${SECONDS_PER_TARGET}s"
done
