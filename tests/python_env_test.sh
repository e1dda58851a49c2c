#!/usr/bin/env bash
# The Python env-worker kit as a user runs it: the FrozenLake worker (env_workers/python, Debian's python3-grpcio)
# passes `skillsd env-check`, slippery and not; on SIGTERM it drains like our C++ servers (health NOT_SERVING
# during the grace period, then exit 0); a port in use and a bad flag are clear errors.
# Usage: tests/python_env_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
BIN=$BUILD/bin
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
fail() { echo "python_env_test: FAIL: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
export PYTHONPATH=$BUILD/python:$ROOT/env_workers/python
PY=/usr/bin/python3

# Starts a FrozenLake worker on a free port; sets PORT and PID.
start() {
  local name=$1
  shift
  rm -f "$WORK/$name.port"
  "$PY" -m skillsd_env.frozenlake --host=127.0.0.1 --port=0 --port_file="$WORK/$name.port" "$@" > "$WORK/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 200); do [ -s "$WORK/$name.port" ] && break; sleep 0.05; done
  [ -s "$WORK/$name.port" ] || fail "$name never wrote its port file"
  PORT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc_port"])' "$WORK/$name.port")
}

for slippery in true false; do
  start "frozenlake-$slippery" --slippery=$slippery --train_levels=50 --test_levels=8
  "$BIN/skillsd" env-check --target=127.0.0.1:$PORT > "$WORK/check-$slippery.log" 2>&1 ||
    fail "env-check against the FrozenLake worker (slippery=$slippery)"
  grep -q "12 of 12 checks passed" "$WORK/check-$slippery.log" || fail "env-check did not run every check"
  grep -q "frozenlake: 50 train and 8 test tasks, 4 actions" "$WORK/check-$slippery.log" || fail "spec summary"
  kill -TERM "$PID"
  wait "$PID" || fail "the worker did not exit 0 after SIGTERM"
done

# Drain: health NOT_SERVING during the grace period, then a clean exit.
start drain --drain_grace_ms=3000
"$BIN/skillsd" health --target=127.0.0.1:$PORT | grep -qx SERVING || fail "health before SIGTERM"
kill -TERM "$PID"
sleep 0.5
status=$("$BIN/skillsd" health --target=127.0.0.1:$PORT || true)
[ "$status" = NOT_SERVING ] || fail "health during the drain said '$status', want NOT_SERVING"
wait "$PID" || fail "the draining worker did not exit 0"
grep -q "stopped" "$WORK/drain.log" || fail "no 'stopped' in the drain log"

# A port in use, and a bad flag: clear errors, non-zero exits.
start first
if "$PY" -m skillsd_env.frozenlake --host=127.0.0.1 --port="$PORT" > "$WORK/second.log" 2>&1; then
  fail "a second worker started on a port in use"
fi
grep -q "cannot listen on 127.0.0.1:$PORT" "$WORK/second.log" || fail "the port-in-use error does not say so"
if "$PY" -m skillsd_env.frozenlake --size=1 --port=0 > "$WORK/badflag.log" 2>&1; then fail "--size=1 accepted"; fi
grep -q "size >= 2" "$WORK/badflag.log" || fail "the bad-flag error does not name the rule"
echo "python_env_test: OK"
