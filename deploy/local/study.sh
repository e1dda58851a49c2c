#!/usr/bin/env bash
# A study: training modes × seeds from one shared warm start, each an ordinary run directory, several at a time,
# then one report comparing them (runs/STUDY/study.md with two figures, by `skillsd study`).
#
# Usage: deploy/local/study.sh [--name STUDY] [--modes M1,M2,...] [--seeds S1,S2,...] [--jobs N] [--config FILE]
#                              [--set k=v,...] [--no-build] [--report-only]
#   --name STUDY   runs/STUDY (default: modes)
#   --modes        training modes (default: grpo,skill_sd,opd,skill_sd_offpolicy,skill_sd_frozen); the first is
#                  the baseline every other mode is compared with
#   --seeds        run.seed values (default: 1,2,3)
#   --jobs N       runs at a time (default: the number of cores), each with one intra-op thread (model.threads=1)
#   --config FILE  experiment config (default: configs/sokoban_skill_sd.yaml)
#   --set k=v,...  overrides for every run (e.g. learner.total_steps=30)
#   --no-build     skip package installation and the build
#   --report-only  only (re)write the report from the runs finished so far
#
# Resumable: a run with a report.md is done and skipped; an unfinished one resumes from its newest checkpoint.
# The study keeps its own copy of the binaries (runs/STUDY/bin, taken at its first start), so rebuilding while it
# runs changes nothing; delete that folder to resume with new binaries. The warm start is made once (runs/model-sft,
# as the main job makes it, or SKILLSD_WARM_DIR); the test levels are evaluated before training once per seed
# (runs/STUDY/eval_before-sSEED.json: it depends on the warm start and the seed, not on the mode) and copied into
# each run. Every run's output is in runs/STUDY/MODE-sSEED/ (study.log: its terminal output). Environment:
# SKILLSD_STUDY_PORT_BASE (default 1000) shifts the ports of job slot k to base + 20 k (see run.sh).
set -euo pipefail
# The whole script is one compound command, read before it runs: editing this file (a git checkout) while it
# runs cannot change what a running copy does.
{
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

NAME=modes
MODES=grpo,skill_sd,opd,skill_sd_offpolicy,skill_sd_frozen
SEEDS=1,2,3
JOBS=$(nproc)
CONFIG=configs/sokoban_skill_sd.yaml
SETS=
BUILD=1
REPORT_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --set) SETS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --report-only) REPORT_ONLY=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "study.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$JOBS" in ''|*[!0-9]*|0) echo "study.sh: --jobs takes a positive number" >&2; exit 2 ;; esac
case "$NAME" in ''|*/*|.*) echo "study.sh: --name is a folder name under runs/ (no '/')" >&2; exit 2 ;; esac
IFS=, read -r -a MODE_LIST <<< "$MODES"
IFS=, read -r -a SEED_LIST <<< "$SEEDS"
for s in "${SEED_LIST[@]}"; do
  case "$s" in ''|*[!0-9]*) echo "study.sh: seeds are numbers (got '$s')" >&2; exit 2 ;; esac
done

if [ "$BUILD" = 1 ]; then
  deploy/install_deps.sh
  deploy/build.sh
fi
STUDY=$ROOT/runs/$NAME
mkdir -p "$STUDY"
BIN=$STUDY/bin
if [ ! -x "$BIN/skillsd" ]; then
  rm -rf "$BIN.tmp" && cp -r "$ROOT/build/bin" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
fi
# Every mode name is checked before anything runs (the config refuses an unknown one, naming the choices).
for m in "${MODE_LIST[@]}"; do
  "$BIN/skillsd" config --config="$CONFIG" --set="algorithm.mode=$m${SETS:+,$SETS}" > /dev/null
done
report() {
  "$BIN/skillsd" study --dir="$STUDY" --modes="$MODES" --seeds="$SEEDS"
}
if [ "$REPORT_ONLY" = 1 ]; then report; exit; fi
echo "study $NAME: modes ${MODE_LIST[*]} x seeds ${SEED_LIST[*]}, $JOBS at a time, in $STUDY"
{ echo "modes: $MODES"; echo "seeds: $SEEDS"; echo "config: $CONFIG"; echo "set: ${SETS:-}";
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"; } > "$STUDY/study.txt"

# 1. The warm start, once (made like the main job's, under the config's own seed).
WARM_DIR=${SKILLSD_WARM_DIR:-$ROOT/runs/model-sft}
BIN_DIR=$BIN SKILLSD_WARM_DIR=$WARM_DIR deploy/local/run.sh --no-build --warm-start-only --config "$CONFIG" \
  --name warm-start --set "run.output_dir=runs/$NAME${SETS:+,$SETS}" > "$STUDY/warm-start.log" 2>&1 ||
  { echo "study.sh: the warm start failed; see $STUDY/warm-start.log" >&2; tail -5 "$STUDY/warm-start.log" >&2; exit 1; }

# Job slots: `launch CMD...` runs CMD in the background in a free slot (waiting for one), with SLOT set.
declare -a SLOT_PID=()
FAILED=0
reap() {
  local k code
  for k in "${!SLOT_PID[@]}"; do
    kill -0 "${SLOT_PID[$k]}" 2>/dev/null && continue
    code=0; wait "${SLOT_PID[$k]}" || code=$?
    [ "$code" = 0 ] || FAILED=$((FAILED + 1))
    unset "SLOT_PID[$k]"
  done
}
launch() {
  local k
  while true; do
    reap
    for k in $(seq 0 $((JOBS - 1))); do
      if [ -z "${SLOT_PID[$k]:-}" ]; then
        SLOT=$k "$@" &
        SLOT_PID[$k]=$!
        return
      fi
    done
    sleep 2
  done
}
wait_all() { while [ ${#SLOT_PID[@]} -gt 0 ]; do reap; sleep 2; done; }
# Ctrl-C or TERM stops every job and its processes (the whole process group; each run.sh drains its services).
trap 'trap - INT TERM; kill -TERM 0 2>/dev/null; wait; exit 130' INT TERM

# 2. The test levels before training, once per seed.
eval_before() {
  local seed=$1 out=$STUDY/eval_before-s$1.json
  echo "  evaluating the warm start, seed $seed"
  "$BIN/skillsd" eval --model="$WARM_DIR" --config="$CONFIG" \
    --set="run.seed=$seed,model.threads=1${SETS:+,$SETS}" --json_out="$out.tmp" > "$STUDY/eval_before-s$seed.log" 2>&1 &&
    mv "$out.tmp" "$out"
}
for seed in "${SEED_LIST[@]}"; do
  [ -f "$STUDY/eval_before-s$seed.json" ] || launch eval_before "$seed"
done
wait_all

# 3. The runs.
one_run() {
  local mode=$1 seed=$2 name=$1-s$2 dir=$STUDY/$1-s$2
  echo "  started: $name (job slot $SLOT)"
  mkdir -p "$dir"
  cp "$STUDY/eval_before-s$seed.json" "$dir/eval_before.json"
  if BIN_DIR=$BIN SKILLSD_WARM_DIR=$WARM_DIR SKILLSD_PORT_OFFSET=$(( ${SKILLSD_STUDY_PORT_BASE:-1000} + 20 * SLOT )) \
       deploy/local/run.sh --no-build --config "$CONFIG" --name "$name" --mode "$mode" \
       --set "run.output_dir=runs/$NAME,run.seed=$seed,model.threads=1${SETS:+,$SETS}" >> "$dir/study.log" 2>&1; then
    echo "  done: $name ($(tail -n 1 "$dir/study.log"))"
  else
    echo "  FAILED: $name (see $dir/study.log)" >&2
    return 1
  fi
}
for seed in "${SEED_LIST[@]}"; do
  for mode in "${MODE_LIST[@]}"; do
    if [ -f "$STUDY/$mode-s$seed/report.md" ]; then echo "  finished already: $mode-s$seed"; continue; fi
    [ -f "$STUDY/eval_before-s$seed.json" ] || { echo "  skipped $mode-s$seed: no evaluation for seed $seed" >&2; continue; }
    launch one_run "$mode" "$seed"
  done
done
wait_all
report
[ "$FAILED" = 0 ] || { echo "study.sh: $FAILED job(s) failed; rerun to resume them" >&2; exit 1; }
exit
}
