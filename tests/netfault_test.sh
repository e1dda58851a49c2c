#!/usr/bin/env bash
# Network faults on the real loop: every connection the actor makes (to the learner, env workers, teacher and
# skill service) and the teacher's weight subscription go through tests/netfault_proxy.py, which delays every
# chunk, stalls connections for seconds and cuts them at random. The run (tiny settings, through
# deploy/local/run.sh) must still finish all its steps within the test's time limit: deadlines fire, retries
# stay bounded (no process exhausts the launcher's restarts; none is needed), nothing hangs; the same
# exactly-once audit as fault_test holds (every step trained its planned groups once).
#   tests/netfault_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
BIN=$BUILD/bin
P=${SKILLSD_PORT_OFFSET:-700}
WORK=$(mktemp -d)
PROXIES=()
cleanup() {
  for p in "${PROXIES[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
RUN=$WORK/runs/netfault
source "$ROOT/tests/loop_lib.sh"
fail() {
  echo "netfault: FAIL: $*" >&2
  tail -n 30 "$WORK/run.log" >&2
  show_logs "$RUN" 8
  exit 1
}

STEPS=8
SETS="run.output_dir=$WORK/runs,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=4,env.test_levels=4,env.max_steps=12,algorithm.group_size=2,algorithm.tasks_per_step=2"
SETS+=",learner.total_steps=$STEPS,algorithm.teacher_sync_interval=2,actor.eval_episodes_per_level=1,learner.checkpoint_every=2"
SETS+=",skill.credit=same_group,teacher.version_wait_ms=20000"
warm_start "$WORK" "$SETS" 20 || fail "sft"

# One proxy per route, in front of the service's real port (run.sh's ports with offset P).
ROUTES=""
seed=1
for route in actor.env:50051 actor.skill:50052 actor.teacher:50053 actor.learner:50054 teacher.learner:50054; do
  name=${route%%:*} port=$((${route##*:} + P)) listen=$((${route##*:} + P + 50 + seed))
  python3 "$ROOT/tests/netfault_proxy.py" --listen "127.0.0.1:$listen" --target "127.0.0.1:$port" --seed "$seed" \
    --delay-ms 10 --cut-prob 0.01 --stall-prob 0.005 --stall-s 2 --duration-s 600 \
    --stats "$WORK/proxy-$name.json" &
  PROXIES+=($!)
  ROUTES+="${ROUTES:+,}$name=127.0.0.1:$listen"
  seed=$((seed + 1))
done

start=$(date +%s)
SKILLSD_MODEL_DIR=$WORK/model SKILLSD_WARM_DIR=$WORK/warm BIN_DIR=$BIN SKILLSD_PORT_OFFSET=$P SKILLSD_ROUTES=$ROUTES \
  SKILLSD_MAX_RESTARTS=0 timeout 600 "$ROOT/deploy/local/run.sh" --no-build --name netfault --set "$SETS" \
  > "$WORK/run.log" 2>&1 || fail "run.sh exited with $? (124: it hung)"
elapsed=$(( $(date +%s) - start ))
for p in "${PROXIES[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
wait "${PROXIES[@]}" 2>/dev/null || true
PROXIES=()
grep -q "all services stopped cleanly" "$WORK/run.log" || fail "no clean stop"

python3 - "$RUN" "$STEPS" 2 "$WORK" <<'PY' || fail "invariants"
import csv, glob, json, os, re, sys
run, steps, tasks, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
final = {int(r["step"]): r["groups"].split(";") for r in csv.DictReader(open(run + "/metrics.csv"))}
assert sorted(final) == list(range(1, steps + 1)), sorted(final)
trained = [g for s in sorted(final) for g in final[s]]
assert len(trained) == len(set(trained)), "a group was trained twice"
accepted = set(re.findall(r"actor: group (\S+) accepted", open(run + "/logs/actor.log").read()))
assert accepted <= set(trained), sorted(accepted - set(trained))
cuts = stalls = 0
for f in sorted(glob.glob(work + "/proxy-*.json")):
    s = json.load(open(f))
    cuts += s["cuts"]; stalls += s["stalls"]
    print(f"netfault: {os.path.basename(f)[6:-5]}: {s['connections']} connections, {s['chunks']} chunks, "
          f"{s['cuts']} cut, {s['stalls']} stalled")
assert cuts + stalls > 0, "the proxies injected no fault"
retries = len(re.findall(r"assignment failed \(retrying\)", open(run + "/logs/actor.log").read()))
print(f"netfault: {steps} steps trained exactly once each through {cuts} cut and {stalls} stalled connections; "
      f"{retries} actor assignment retries")
PY
echo "netfault: finished in $elapsed s; OK"
