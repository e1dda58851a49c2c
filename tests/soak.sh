#!/usr/bin/env bash
# Soak: the real loop (tiny settings, through deploy/local/run.sh) for DURATION seconds, with a random process
# killed (-9) every KILL_EVERY seconds and restarted by the launcher. Every 10 s it records each process's
# resident memory and open file descriptors; at the end it prints, per process, the figures over the first and
# the last fifth of the run (a leak shows as growth that restarts do not explain: each figure is taken over the
# process's current life, so compare within a life, see the CSV), the kills survived, and the steps trained.
# Not part of CI (an hour by default).
#   tests/soak.sh BUILD_DIR [DURATION_S=3600] [KILL_EVERY_S=300] [OUT_DIR=runs/soak]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
DURATION=${2:-3600}
KILL_EVERY=${3:-300}
OUT=$(mkdir -p "${4:-$ROOT/runs/soak}" && cd "${4:-$ROOT/runs/soak}" && pwd)
BIN=$BUILD/bin
P=${SKILLSD_PORT_OFFSET:-800}
RUN=$OUT/runs/soak
rm -rf "$OUT/runs" "$OUT/model" "$OUT/warm"
source "$ROOT/tests/loop_lib.sh"
trap stop_run EXIT

SETS="run.output_dir=$OUT/runs,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=8,env.test_levels=4,env.max_steps=12,algorithm.group_size=4,algorithm.tasks_per_step=4"
SETS+=",learner.total_steps=100000,algorithm.teacher_sync_interval=2,actor.eval_episodes_per_level=1,learner.checkpoint_every=10"
warm_start "$OUT" "$SETS" 80
SKILLSD_MODEL_DIR=$OUT/model SKILLSD_WARM_DIR=$OUT/warm BIN_DIR=$BIN SKILLSD_PORT_OFFSET=$P SKILLSD_MAX_RESTARTS=1000 \
  "$ROOT/deploy/local/run.sh" --no-build --name soak --set "$SETS" > "$OUT/run.log" 2>&1 &
RUN_PID=$!

echo "t_s,process,pid,rss_kb,fds" > "$OUT/samples.csv"
start=$(date +%s)
next_kill=$((start + KILL_EVERY))
kills=0
names=(env actor teacher skill learner)
while [ $(( $(date +%s) - start )) -lt "$DURATION" ]; do
  kill -0 "$RUN_PID" 2>/dev/null || { echo "soak: run.sh exited early" >&2; tail -20 "$OUT/run.log" >&2; exit 1; }
  now=$(( $(date +%s) - start ))
  for name in "${names[@]}"; do
    pid=$(pid_of "$RUN" "$name")
    if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
      rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
      [ -n "$rss" ] && echo "$now,$name,$pid,$rss,$fds" >> "$OUT/samples.csv"
    fi
  done
  if [ "$(date +%s)" -ge "$next_kill" ]; then
    victim=${names[$((RANDOM % ${#names[@]}))]}
    pid=$(pid_of "$RUN" "$victim")
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null && kills=$((kills + 1)) && echo "$now,kill,$victim,$pid" >> "$OUT/kills.csv"; fi
    next_kill=$((next_kill + KILL_EVERY))
  fi
  sleep 10
done
steps=$(tail -n +2 "$RUN/metrics.csv" | cut -d, -f1 | sort -n | tail -1)
stop_run
python3 - "$OUT/samples.csv" "$DURATION" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
duration = float(sys.argv[2])
print("process   lives  rss MB first fifth -> last fifth (same life)   fds first -> last")
for name in ["env", "actor", "teacher", "skill", "learner"]:
    mine = [r for r in rows if r["process"] == name]
    if not mine:
        continue
    lives = sorted({r["pid"] for r in mine}, key=lambda p: min(float(r["t_s"]) for r in mine if r["pid"] == p))
    longest = max(lives, key=lambda p: sum(1 for r in mine if r["pid"] == p))
    life = [r for r in mine if r["pid"] == longest]
    k = max(1, len(life) // 5)
    avg = lambda xs, key: sum(float(x[key]) for x in xs) / len(xs)
    print(f"{name:9s} {len(lives):5d}  {avg(life[:k], 'rss_kb') / 1024:7.1f} -> {avg(life[-k:], 'rss_kb') / 1024:7.1f}"
          f" (longest life, {float(life[-1]['t_s']) - float(life[0]['t_s']):.0f} s)"
          f"          {avg(life[:k], 'fds'):5.0f} -> {avg(life[-k:], 'fds'):5.0f}")
PY
echo "soak: ${DURATION} s, $kills kills survived, learner reached step $steps; samples in $OUT/samples.csv"
