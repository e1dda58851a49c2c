#!/usr/bin/env bash
# A run so short that the actor (or the learner) finishes its work and exits 0 before the launcher has seen it
# serve: the launcher counts it as done, not as dead at start-up, and the run ends cleanly with its steps trained.
# Usage: tests/shortrun_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
BIN=$BUILD/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "shortrun: FAIL: $*" >&2; tail -n 30 "$WORK/run.log" >&2; exit 1; }
"$BIN/skillsd" model init --out="$WORK/model" --config="$ROOT/configs/sokoban_skill_sd.yaml" > /dev/null || fail "init"
SETS="run.output_dir=$WORK/runs,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=2,env.test_levels=2"
SETS+=",env.max_steps=6,algorithm.group_size=2,algorithm.tasks_per_step=2,learner.total_steps=2"
SETS+=",actor.eval_episodes_per_level=1,model.threads=1"
SKILLSD_MODEL_DIR=$WORK/model SKILLSD_WARM_DIR=$WORK/model BIN_DIR=$BIN SKILLSD_PORT_OFFSET=${SKILLSD_PORT_OFFSET:-740} \
  "$ROOT/deploy/local/run.sh" --no-build --name short --set "$SETS" > "$WORK/run.log" 2>&1 || fail "the run failed"
grep -q "died during start-up" "$WORK/run.log" && fail "a finished process was taken for a dead one"
[ "$(tail -n +2 "$WORK/runs/short/metrics.csv" | wc -l)" -eq 2 ] || fail "metrics.csv should have 2 steps"
[ -s "$WORK/runs/short/report.md" ] || fail "no report"
echo "shortrun: OK$(grep -q 'finished already' "$WORK/run.log" && echo ' (a process finished before its health check)')"
