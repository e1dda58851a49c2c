# Shared by the tests that run the real loop through deploy/local/run.sh with tiny settings (e2e_test,
# observability_test, fault_test, netfault_test, soak). Source it after setting BIN (the build's bin/).

# warm_start DIR SETS EPOCHS: a tiny model in DIR/model and its warm start in DIR/warm (log in DIR/sft.log),
# trained on the levels SETS describes; returns non-zero (the log on stderr) when SFT fails.
warm_start() {
  local dir=$1 sets=$2 epochs=$3 config
  config=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/configs/sokoban_skill_sd.yaml
  "$BIN/skillsd" model init --out="$dir/model" --config="$config" > /dev/null &&
    "$BIN/skillsd" sft --model="$dir/model" --out="$dir/warm" --config="$config" --set="$sets" --epochs="$epochs" \
      --batch=8 --eval_every=1000 --target_success=2 > "$dir/sft.log" ||
    { cat "$dir/sft.log" >&2; return 1; }
}

# show_logs RUN_DIR [LINES]: the last lines of each process's log (audit lines left out), on stderr.
show_logs() {
  local f
  for f in "$1"/logs/*.log; do
    echo "== $f" >&2
    grep -v "actor: group\|acknowledged trajectory" "$f" | tail -n "${2:-10}" >&2
  done
}

# The deploy/local/run.sh a test started in the background (set RUN_PID=$! after starting it).
RUN_PID=
# stop_run: SIGTERM to that run.sh (it stops its processes cleanly) and wait for it; nothing when none runs.
stop_run() {
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then kill -TERM "$RUN_PID"; wait "$RUN_PID" || true; fi
  RUN_PID=
}

# pid_of RUN_DIR NAME: the pid in the port file the process wrote when it started listening (empty if none).
pid_of() { sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$1/ports/$2.json" 2>/dev/null || true; }
