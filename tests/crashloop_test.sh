#!/usr/bin/env bash
# A process that dies the same way at every restart is diagnosed and the run stopped, not restarted forever:
# the real launcher (deploy/local/run.sh, a tiny untrained model) runs while this test plays the kernel's
# out-of-memory killer, SIGKILLing the learner each time it comes back (before it gets past the step it died at:
# the same failure each time). The launcher must
# restart it SKILLSD_CRASH_LOOP - 1 = 2 times, then stop the run with a non-zero status and a failure.txt that
# names signal 9, the likely out-of-memory kill with the process's resident size, and the setting to lower.
# Usage: tests/crashloop_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
BIN=$BUILD/bin
WORK=$(mktemp -d)
source "$ROOT/tests/loop_lib.sh"
trap 'stop_run; rm -rf "$WORK"' EXIT
RUN=$WORK/runs/crashloop
fail() { echo "crashloop: FAIL: $*" >&2; tail -n 30 "$WORK/run.log" >&2; exit 1; }

"$BIN/skillsd" model init --out="$WORK/model" --config="$ROOT/configs/sokoban_skill_sd.yaml" > /dev/null || fail "init"
SETS="run.output_dir=$WORK/runs,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=2,env.test_levels=2"
SETS+=",env.max_steps=6,algorithm.group_size=2,algorithm.tasks_per_step=2,learner.total_steps=3"
SETS+=",actor.eval_episodes_per_level=1"
SKILLSD_MODEL_DIR=$WORK/model SKILLSD_WARM_DIR=$WORK/model BIN_DIR=$BIN SKILLSD_PORT_OFFSET=${SKILLSD_PORT_OFFSET:-700} \
  SKILLSD_CRASH_LOOP=3 "$ROOT/deploy/local/run.sh" --no-build --name crashloop --set "$SETS" > "$WORK/run.log" 2>&1 &
RUN_PID=$!

# Wait for supervision to start, then kill every learner that appears.
for _ in $(seq 1 600); do grep -q "^== training" "$WORK/run.log" 2>/dev/null && break; sleep 0.1; done
grep -q "^== training" "$WORK/run.log" || fail "training never started"
kills=0 last=
for _ in $(seq 1 1200); do
  kill -0 "$RUN_PID" 2>/dev/null || break
  pid=$(pid_of "$RUN" learner)
  if [ -n "$pid" ] && [ "$pid" != "$last" ] && kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" && kills=$((kills + 1)) && last=$pid
  fi
  sleep 0.1
done
code=0; wait "$RUN_PID" || code=$?
RUN_PID=
[ "$code" != 0 ] || fail "run.sh exited 0 although the learner could never train"
[ "$kills" = 3 ] || fail "the learner was started $kills times, want 3 (one start and two restarts)"
[ "$(grep -c "learner killed by signal 9.*restarting it" "$WORK/run.log")" = 2 ] || fail "want 2 diagnosed restarts"
[ -s "$RUN/failure.txt" ] || fail "no failure.txt"
cat "$RUN/failure.txt"
grep -q "learner failed the same way 3 times in a row" "$RUN/failure.txt" || fail "no crash-loop verdict"
grep -q "killed by signal 9 (SIGKILL) at [0-9]* MiB resident.*out-of-memory killer" "$RUN/failure.txt" ||
  fail "no out-of-memory diagnosis"
grep -q "hint: lower learner.micro_batch_tokens (now 16384)" "$RUN/failure.txt" || fail "no hint"
if grep -q "restart 3 of" "$WORK/run.log"; then fail "restarted a third time"; fi
echo "crashloop: OK"
