#!/usr/bin/env bash
# The real loop on an environment written in Python (issue #20): FrozenLake served by the Python env-worker kit
# (skillsd-env-frozenlake), known to the rest of skillsd only through its worker. The tokenizer is trained on the
# worker's text (model init --env_worker), the warm start learns from its oracle (sft --env_worker), and the
# launcher (deploy/local/run.sh, env.name=frozenlake) runs every process for a few steps with the actor playing
# through the Python worker, then evaluates against it and writes the report.
# Usage: tests/frozenlake_loop_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
BIN=$BUILD/bin
WORK=$(mktemp -d)
WORKER_PID=
trap '[ -n "$WORKER_PID" ] && kill -9 "$WORKER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "frozenlake_loop: FAIL: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -n 25 "$f" >&2; done; exit 1; }
P=${SKILLSD_PORT_OFFSET:-720}
SETS="run.output_dir=$WORK/runs,env.name=frozenlake,env.train_levels=8,env.test_levels=4,env.max_steps=10"
SETS+=",env.map_size=3,env.slippery=false"
SETS+=",algorithm.group_size=2,algorithm.tasks_per_step=2,learner.total_steps=6,actor.eval_episodes_per_level=2"
SETS+=",model.threads=1"

# The tokenizer and the warm start from a worker of the same settings.
"$BIN/skillsd-env-frozenlake" --config="$ROOT/configs/sokoban_skill_sd.yaml" --set="$SETS" --host=127.0.0.1 \
  --port=0 --port_file="$WORK/worker.port" > "$WORK/worker.log" 2>&1 &
WORKER_PID=$!
for _ in $(seq 1 200); do [ -s "$WORK/worker.port" ] && break; sleep 0.05; done
[ -s "$WORK/worker.port" ] || fail "the worker wrote no port file"
TARGET=127.0.0.1:$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc_port"])' "$WORK/worker.port")
"$BIN/skillsd" model init --out="$WORK/model" --env_worker="$TARGET" --set="$SETS" > "$WORK/init.log" 2>&1 ||
  fail "model init --env_worker"
grep -q "texts of the frozenlake env worker" "$WORK/init.log" || fail "the tokenizer was not trained on the env's text"
"$BIN/skillsd" sft --model="$WORK/model" --out="$WORK/model-sft" --env_worker="$TARGET" --set="$SETS" --epochs=1 \
  --eval_every=1 > "$WORK/sft.log" 2>&1 || fail "sft --env_worker"
grep -q "demonstration turns from 8 training levels" "$WORK/sft.log" || fail "no demonstrations from the oracle"
kill -TERM "$WORKER_PID" && wait "$WORKER_PID" || fail "the worker did not stop cleanly"
WORKER_PID=

SKILLSD_MODEL_DIR=$WORK/model SKILLSD_WARM_DIR=$WORK/model-sft BIN_DIR=$BIN SKILLSD_PORT_OFFSET=$P \
  "$ROOT/deploy/local/run.sh" --no-build --name fl --set "$SETS" > "$WORK/run.log" 2>&1 || fail "the run failed"
RUN=$WORK/runs/fl
grep -q "starting the frozenlake env worker (skillsd-env-frozenlake)" "$WORK/run.log" || fail "no Python worker"
grep -q "skillsd-env-frozenlake: serving frozenlake (8 train, 4 test tasks)" "$RUN/logs/env.log" ||
  fail "the env log is not the Python worker's"
grep -q "frozenlake: 3x3 maps, not slippery" "$RUN/logs/env.log" || fail "the worker did not get the config's env keys"
[ "$(tail -n +2 "$RUN/metrics.csv" | wc -l)" -ge 6 ] || fail "fewer than 6 learner steps in metrics.csv"
grep -qa "frozenlake/train/" "$RUN/skills.db" || fail "the skill bank holds no FrozenLake task's skill"
for f in eval_before.json eval_after.json report.md; do [ -s "$RUN/$f" ] || fail "no $f"; done
grep -q '"split": "test"' "$RUN/eval_after.json" || fail "eval_after.json"
echo "frozenlake_loop: OK ($(tail -n +2 "$RUN/metrics.csv" | wc -l) steps through the Python worker)"
