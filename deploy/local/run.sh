#!/usr/bin/env bash
# README command 1: the main job on one machine. Sets up a fresh Debian bookworm machine (packages), builds,
# starts every skillsd process on loopback, waits until each answers gRPC health checks, runs the job, and stops
# every process cleanly (SIGTERM -> drain) on exit or Ctrl-C.
#
# Today the training pipeline (Sokoban env, model, learner, actor/teacher/skill services) is still being built
# (see docs/status.md), so the job run here is the most complete one that works: the five services start on
# the shared server skeleton, pass health checks, serve /metrics, a Sokoban level is played through
# skillsd-env over gRPC, the tiny default model is created (runs/model) and scores an answer, and everything
# drains cleanly.
#
# Usage: deploy/local/run.sh [--name NAME] [--config FILE] [--secure] [--keep-running] [--no-build]
#   --name NAME       run directory runs/NAME (default: local)
#   --config FILE     experiment config (default: configs/sokoban_skill_sd.yaml)
#   --secure          TLS + mutual TLS + bearer token between all processes (certificates made with openssl)
#   --keep-running    leave the services up until Ctrl-C
#   --no-build        skip package installation and the build
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

NAME=local
CONFIG=configs/sokoban_skill_sd.yaml
SECURE=0
KEEP=0
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --secure) SECURE=1; shift ;;
    --keep-running) KEEP=1; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$BUILD" = 1 ]; then
  deploy/install_deps.sh
  deploy/build.sh
fi
BIN=$ROOT/build/bin
RUN_DIR=$ROOT/runs/$NAME
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/ports"

"$BIN/skillsd" config --config="$CONFIG" --set=run.name="$NAME" > "$RUN_DIR/config.yaml"
echo "run directory: $RUN_DIR (full config in config.yaml)"

COMMON=(--config="$CONFIG" --set=run.name="$NAME" --host=127.0.0.1)
CLIENT=()
if [ "$SECURE" = 1 ]; then
  PKI=$RUN_DIR/pki
  deploy/local/make_pki.sh "$PKI"
  COMMON+=(--tls_cert_file="$PKI/node.pem" --tls_key_file="$PKI/node.key" --tls_ca_file="$PKI/ca.pem"
           --tls_require_client_cert --token_file="$PKI/token" --tls_server_name=localhost)
  CLIENT=(--tls_cert_file="$PKI/node.pem" --tls_key_file="$PKI/node.key" --tls_ca_file="$PKI/ca.pem"
          --token_file="$PKI/token" --tls_server_name=localhost)
  echo "secure mode: mutual TLS and bearer token (files in $PKI)"
fi

declare -A PIDS=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#PIDS[@]} -eq 0 ]; then return; fi
  echo "stopping: ${!PIDS[*]}"
  for name in "${!PIDS[@]}"; do kill -TERM "${PIDS[$name]}" 2>/dev/null || true; done
  local failed=0
  for name in "${!PIDS[@]}"; do
    if wait "${PIDS[$name]}"; then :; else
      echo "  $name exited with status $? (log: $RUN_DIR/logs/$name.log)" >&2; failed=1
    fi
  done
  PIDS=()
  return $failed
}
trap 'stop_all; exit 130' INT TERM
trap 'stop_all' EXIT

# start NAME BINARY PORT METRICS_PORT [ARGS...]
start() {
  local name=$1 binary=$2 port=$3 metrics=$4; shift 4
  rm -f "$RUN_DIR/ports/$name.json"
  "$BIN/$binary" "${COMMON[@]}" --port="$port" --metrics_port="$metrics" \
      --port_file="$RUN_DIR/ports/$name.json" "$@" > "$RUN_DIR/logs/$name.log" 2>&1 &
  PIDS[$name]=$!
}

wait_healthy() {
  local name=$1 port=$2
  for _ in $(seq 1 100); do
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      echo "$name died during start-up; last log lines:" >&2; tail -5 "$RUN_DIR/logs/$name.log" >&2; return 1
    fi
    if "$BIN/skillsd" health --target="127.0.0.1:$port" --timeout_ms=500 "${CLIENT[@]}" >/dev/null 2>&1; then
      echo "  $name: SERVING on 127.0.0.1:$port"; return 0
    fi
    sleep 0.1
  done
  echo "$name did not become healthy; see $RUN_DIR/logs/$name.log" >&2
  return 1
}

MODEL_DIR=$ROOT/runs/model
if [ ! -f "$MODEL_DIR/config.json" ]; then
  echo "creating the tiny default model in $MODEL_DIR:"
  "$BIN/skillsd" model init --out="$MODEL_DIR" --config="$CONFIG"
fi

SERVICES=("env skillsd-env 50051 9101" "skill skillsd-skill 50052 9102" "teacher skillsd-teacher 50053 9103"
          "learner skillsd-learner 50054 9104" "actor skillsd-actor 50055 9105")
echo "starting services on loopback"
for s in "${SERVICES[@]}"; do
  read -r name binary port metrics <<< "$s"
  extra=()
  if [ "$name" = learner ]; then extra=(--model_dir="$MODEL_DIR" --checkpoint_dir="$RUN_DIR/checkpoints"); fi
  start "$name" "$binary" "$port" "$metrics" "${extra[@]}"
done
for s in "${SERVICES[@]}"; do
  read -r name binary port metrics <<< "$s"
  wait_healthy "$name" "$port"
done

echo "metrics: $(for s in "${SERVICES[@]}"; do read -r n _ _ m <<< "$s"; printf 'http://127.0.0.1:%s/metrics ' "$m"; done)"
echo "the model scores a Sokoban answer (per-token log-probs under random init):"
ids=$(echo '"<answer>Up || Left</answer>"' | "$BIN/skillsd" tokenize --tokenizer="$MODEL_DIR/tokenizer.json")
echo "{\"context\": [1], \"continuation\": $ids}" | "$BIN/skillsd" score --model="$MODEL_DIR" --config="$CONFIG"
echo "playing the optimal solution of sokoban/test/0 through skillsd-env:"
"$BIN/skillsd" play --env=127.0.0.1:50051 --task=sokoban/test/0 --config="$CONFIG" "${CLIENT[@]}" | tail -8
echo "NOTE: the Skill-SD training job is not implemented yet (docs/status.md); this run checked that every"
echo "      service starts, is healthy, serves metrics and drains cleanly, that skillsd-env plays Sokoban, and"
echo "      that the tiny model loads and scores."
if [ "$KEEP" = 1 ]; then
  echo "services are up; Ctrl-C stops them"
  # `wait` (unlike a foreground sleep) returns as soon as a trapped signal arrives.
  while true; do sleep 3600 & wait $!; done
fi
stop_all
echo "all services stopped cleanly"
