#!/usr/bin/env bash
# Fault injection on the real multi-process loop (deploy/local/run.sh, tiny settings): kill -9 each process in
# turn (env worker, actor, teacher, skill service, learner rank 0, learner rank 1; ROUNDS rounds) at random
# moments while training runs; the launcher restarts it (a dead learner rank ends the other one's collective, so
# both restart, from rank 0's checkpoint). Between kills training must make progress. At the end:
#   - the run finished all steps, and every step number's final row in metrics.csv (the lineage that survived
#     the learner's restarts) trained exactly the groups planned for it: one per task, ids v<step-1>/t<i>;
#   - no group id was trained twice in that lineage, and every group the actor saw acknowledged as accepted was
#     trained in it (nothing acknowledged lost, nothing counted twice);
#   - every trajectory the skill service acknowledged is in the skill bank;
#   - the teacher is back on its push schedule: after its last restart it installed only scheduled versions, and
#     it ended on the learner's last pushed version;
#   - the checkpoints are at multiples of learner.checkpoint_every, the newest at the last step.
# Usage: tests/fault_test.sh BUILD_DIR [ROUNDS]   (SKILLSD_FAULT_SEED fixes the random moments;
#        SKILLSD_FAULT_LEARNER_RANKS=1 runs a single learner rank)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
ROUNDS=${2:-1}
BIN=$BUILD/bin
P=${SKILLSD_PORT_OFFSET:-600}
WORK=$(mktemp -d)
source "$ROOT/tests/loop_lib.sh"
trap 'stop_run; rm -rf "$WORK"' EXIT
RUN=$WORK/runs/fault
fail() {
  echo "fault: FAIL: $*" >&2
  tail -n 30 "$WORK/run.log" >&2
  show_logs "$RUN" 8
  exit 1
}
RANDOM=${SKILLSD_FAULT_SEED:-$$}
RANKS=${SKILLSD_FAULT_LEARNER_RANKS:-2}
VICTIMS=(env actor teacher skill learner)
[ "$RANKS" -gt 1 ] && VICTIMS+=(learner1)

STEPS=$((6 + ${#VICTIMS[@]} * ROUNDS))
SETS="run.output_dir=$WORK/runs,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=4,env.test_levels=4,env.max_steps=12,algorithm.group_size=2,algorithm.tasks_per_step=2"
SETS+=",learner.total_steps=$STEPS,algorithm.teacher_sync_interval=2,actor.eval_episodes_per_level=1,learner.checkpoint_every=2"
SETS+=",skill.credit=same_group"
warm_start "$WORK" "$SETS" 20 || fail "sft"

SKILLSD_MODEL_DIR=$WORK/model SKILLSD_WARM_DIR=$WORK/warm BIN_DIR=$BIN SKILLSD_PORT_OFFSET=$P \
  SKILLSD_COLLECTIVE_TIMEOUT_S=60 "$ROOT/deploy/local/run.sh" --no-build --name fault --learner-ranks "$RANKS" \
  --set "$SETS" > "$WORK/run.log" 2>&1 &
RUN_PID=$!

learner_step() { tail -n +2 "$RUN/metrics.csv" 2>/dev/null | tail -n 1 | cut -d, -f1 || true; }
wait_for() {  # SECONDS DESCRIPTION COMMAND...: until the command succeeds
  local seconds=$1 what=$2; shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    "$@" && return 0
    kill -0 "$RUN_PID" 2>/dev/null || fail "run.sh exited while waiting for $what"
    sleep 0.2
  done
  fail "timed out waiting for $what"
}
step_past() { local s; s=$(learner_step); [ -n "$s" ] && [ "$s" -gt "$1" ]; }
running_again() { local p; p=$(pid_of "$RUN" "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && kill -0 "$p" 2>/dev/null; }

wait_for 240 "the first learner step" step_past 0
kills=()
for round in $(seq 1 "$ROUNDS"); do
  for name in "${VICTIMS[@]}"; do
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"            # a random moment within the next second
    victim=$(pid_of "$RUN" "$name")
    [ -n "$victim" ] || fail "no pid for $name"
    before=$(learner_step)
    kill -9 "$victim"
    kills+=("$name@step${before:-0}")
    echo "fault: round $round: killed $name (pid $victim) at learner step ${before:-0}"
    wait_for 60 "$name to be restarted" running_again "$name" "$victim"
    # Training goes on: the learner gets past the step it was at (after its own restart: the step it resumes from).
    [[ "$name" == learner* ]] && before=$(learner_step)
    wait_for 180 "training to continue after killing $name" step_past "${before:-0}"
  done
done
wait "$RUN_PID" || fail "run.sh exited with $?"
RUN_PID=
grep -q "all services stopped cleanly" "$WORK/run.log" || fail "no clean stop"
restarts=$(grep -c "restarting it" "$WORK/run.log" || true)
[ "$restarts" -ge $((${#VICTIMS[@]} * ROUNDS)) ] || fail "$restarts restarts, want at least $((${#VICTIMS[@]} * ROUNDS))"

python3 - "$RUN" "$STEPS" 2 2 <<'PY' || fail "invariants"
import csv, json, os, re, sqlite3, sys
run, steps, tasks, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(run + "/metrics.csv")))
final = {}
for r in rows:  # a re-trained step (after the learner resumed from an older checkpoint) replaces the earlier row
    final[int(r["step"])] = r["groups"].split(";")
assert sorted(final) == list(range(1, steps + 1)), f"steps {sorted(final)}"
trained = [g for s in sorted(final) for g in final[s]]
assert len(trained) == len(set(trained)), "a group was trained twice"
for s, groups in final.items():
    want = {f"v{s - 1}/t{i}" for i in range(tasks)}
    assert set(groups) == want, f"step {s} trained {groups}, want {sorted(want)}"
log = open(run + "/logs/actor.log").read()
accepted = set(re.findall(r"actor: group (\S+) accepted", log))
missing = accepted - set(trained)
assert not missing, f"acknowledged groups never trained: {sorted(missing)}"
acked = set(re.findall(r"acknowledged trajectory (\S+)", log))
db = sqlite3.connect(run + "/skills.db")
stored = {r[0] for r in db.execute("SELECT trajectory_id FROM trajectories")}
lost = acked - stored
assert not lost, f"acknowledged trajectories missing from the bank: {sorted(lost)}"
teacher = open(run + "/logs/teacher.log").read().split("skillsd-teacher: serving")
last_life = re.findall(r"teacher: installed version (\d+)", teacher[-1])
assert last_life, "the restarted teacher installed nothing"
versions = [int(v) for v in last_life]
assert all(v % k == 0 for v in versions), f"teacher installed {versions} off the every-{k} schedule"
assert versions == sorted(versions), versions
assert versions[-1] == steps - steps % k, f"teacher ended on {versions[-1]}"
ckpts = sorted(int(d[5:]) for d in os.listdir(run + "/checkpoints") if d.startswith("ckpt-"))
assert ckpts and ckpts[-1] == steps, f"checkpoints {ckpts}"
assert all(c % 2 == 0 or c == steps for c in ckpts), f"checkpoints {ckpts}"
state = json.load(open(f"{run}/checkpoints/ckpt-{steps:08d}/state.json"))
assert state["step"] == steps, state["step"]
print(f"fault: {len(trained)} groups trained once each over {steps} steps ({len(rows) - steps} steps re-trained "
      f"after learner restarts); {len(accepted)} accepted acknowledgements, {len(acked)} acknowledged trajectories "
      f"all in the bank ({len(stored)} stored); teacher ended on version {versions[-1]}; checkpoints {ckpts}")
PY
echo "fault: kills survived: ${kills[*]} (launcher restarts: $restarts)"
echo "fault: OK"
