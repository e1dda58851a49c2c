#!/usr/bin/env bash
# README command 1: the main job on one machine. Sets up a fresh Debian bookworm machine (packages) and builds
# if needed, creates the tiny default model (runs/model), warm-starts it by SFT on solver demonstrations of the
# training levels (runs/model-sft, reused by later runs), evaluates it on the 64 test levels, starts every
# skillsd process on loopback (env workers, skill service, teacher, learner, actor), waits for health, trains
# for learner.total_steps with progress on the terminal, evaluates the final weights, and writes runs/NAME/:
# metrics.csv (learner), actor.csv, skills.db, checkpoints/, final_model/, eval_before.json, eval_after.json,
# report.md and learning_curve.png. Ctrl-C stops every process cleanly (SIGTERM -> drain). With an env other than
# Sokoban (--set env.name=frozenlake) its worker (skillsd-env-NAME, e.g. Python) starts first, and model init, the
# warm start and both evaluations play it through gRPC (docs/environments.md).
#
# Usage: deploy/local/run.sh [--name NAME] [--config FILE] [--mode MODE] [--set k=v,...] [--secure]
#                            [--prometheus] [--learner-ranks N] [--keep-running] [--no-build] [--fresh]
#                            [--warm-start-only]
#   --name NAME       run directory runs/NAME (default: the mode's name, e.g. skill_sd)
#   --config FILE     experiment config (default: configs/sokoban_skill_sd.yaml)
#   --mode MODE       grpo | opd | skill_augmented_grpo | skill_sd | skill_sd_frozen | skill_sd_offpolicy
#   --set k=v,...     further config overrides (e.g. learner.total_steps=5)
#   --secure          TLS + mutual TLS + bearer token between all processes (certificates made with openssl)
#   --prometheus      also start Prometheus (127.0.0.1:9090) scraping every process, with the alert rules, and
#                     Grafana (127.0.0.1:3000) with the dashboards when grafana-server is installed
#   --learner-ranks N data-parallel learner ranks (default 1): rank 0 serves and broadcasts each step's groups,
#                     ranks 1..N-1 train their share (Gloo on CPU, NCCL on CUDA; rendezvous on port 29500)
#   --keep-running    leave the services up after training until Ctrl-C
#   --no-build        skip package installation and the build
#   --fresh           delete runs/NAME first (otherwise the learner resumes from its last checkpoint)
#   --warm-start-only make the model and its warm start if needed, then stop (deploy/local/study.sh does this once
#                     before its runs share the warm start)
# Environment: SKILLSD_MODEL_DIR, SKILLSD_WARM_DIR override runs/model and runs/model-sft; SKILLSD_PORT_OFFSET
# shifts every port (default gRPC 50051-50055 and 50061+ for learner ranks 1.., metrics 9101-9105 and 9111+,
# rendezvous 29500, Prometheus 9090, Grafana 3000); SKILLSD_ROUTES
# redirects what the actor and the teacher dial (for fault-injection tests).
set -euo pipefail
# The whole script is one compound command, read before it runs: editing this file (a git checkout) while it
# runs cannot change what a running copy does.
{
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

NAME=
CONFIG=configs/sokoban_skill_sd.yaml
MODE=
SETS=
SECURE=0
KEEP=0
PROMETHEUS=0
BUILD=1
FRESH=0
WARM_ONLY=0
RANKS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --set) SETS=$2; shift 2 ;;
    --secure) SECURE=1; shift ;;
    --keep-running) KEEP=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --fresh) FRESH=1; shift ;;
    --prometheus) PROMETHEUS=1; shift ;;
    --learner-ranks) RANKS=$2; shift 2 ;;
    --warm-start-only) WARM_ONLY=1; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$RANKS" in ''|*[!0-9]*|0) echo "run.sh: --learner-ranks takes a positive number" >&2; exit 2 ;; esac
if [ "$BUILD" = 1 ]; then
  deploy/install_deps.sh
  deploy/build.sh
fi
BIN=${BIN_DIR:-$ROOT/build/bin}
OVERRIDES=()
[ -n "$MODE" ] && OVERRIDES+=("algorithm.mode=$MODE")
[ -n "$SETS" ] && OVERRIDES+=("$SETS")
if [ -z "$NAME" ]; then
  NAME=$("$BIN/skillsd" config --config="$CONFIG" ${OVERRIDES[@]+"--set=$(IFS=,; echo "${OVERRIDES[*]}")"} |
         sed -n 's/^  mode: *//p' | head -1)
fi
OVERRIDES+=("run.name=$NAME")
SET_FLAG="--set=$(IFS=,; echo "${OVERRIDES[*]}")"
OUTPUT_DIR=$("$BIN/skillsd" config --config="$CONFIG" "$SET_FLAG" | sed -n 's/^  output_dir: *//p' | head -1)
case "$OUTPUT_DIR" in /*) ;; *) OUTPUT_DIR=$ROOT/$OUTPUT_DIR ;; esac
RUN_DIR=$OUTPUT_DIR/$NAME
if [ "$FRESH" = 1 ]; then rm -rf "$RUN_DIR"; fi
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/ports"
"$BIN/skillsd" config --config="$CONFIG" "$SET_FLAG" > "$RUN_DIR/config.yaml"
echo "run directory: $RUN_DIR (full config in config.yaml)"
STARTED=$(date +%s)

COMMON=(--config="$CONFIG" "$SET_FLAG" --host=127.0.0.1)
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

# start NAME BINARY PORT METRICS_PORT [ARGS...]   (logs are appended to: a restarted process keeps its history)
declare -A ARGS=() ENVS=()  # ENVS: NAME=VALUE words for a process's environment (the learner ranks')
start() {
  local name=$1 binary=$2 port=$3 metrics=$4; shift 4
  ARGS[$name]=$(printf '%q ' "$binary" "$port" "$metrics" "$@")
  rm -f "$RUN_DIR/ports/$name.json"
  env ${ENVS[$name]:-} "$BIN/$binary" "${COMMON[@]}" --port="$port" --metrics_port="$metrics" \
      --port_file="$RUN_DIR/ports/$name.json" "$@" >> "$RUN_DIR/logs/$name.log" 2>&1 &
  PIDS[$name]=$!
}
restart() { eval "start $1 ${ARGS[$1]}"; }

# FINISHED[NAME]=1: the learner or the actor completed its work and exited 0 before wait_healthy saw it serve (a
# run of very few steps); the supervision loop below counts it as done rather than dead.
declare -A FINISHED=()
wait_healthy() {
  local name=$1 port=$2 code
  for _ in $(seq 1 100); do
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      code=0; wait "${PIDS[$name]}" || code=$?
      if [ "$code" = 0 ] && { [ "$name" = actor ] || [[ "$name" == learner* ]]; }; then
        echo "  $name: finished already"; unset "PIDS[$name]"; FINISHED[$name]=1; return 0
      fi
      echo "$name died during start-up (status $code); last log lines:" >&2; tail -5 "$RUN_DIR/logs/$name.log" >&2
      return 1
    fi
    if "$BIN/skillsd" health --target="127.0.0.1:$port" --timeout_ms=500 "${CLIENT[@]}" >/dev/null 2>&1; then
      echo "  $name: SERVING on 127.0.0.1:$port"; return 0
    fi
    sleep 0.1
  done
  echo "$name did not become healthy; see $RUN_DIR/logs/$name.log" >&2
  return 1
}

# Prometheus scraping every process (the ports of this run) with the alert rules; Grafana with the dashboards
# when it is installed (Debian does not package it).
start_monitoring() {
  local dir=$RUN_DIR/prometheus port=$((9090 + P)) seds=()
  mkdir -p "$dir/data"
  cp deploy/prometheus/alerts.yml "$dir/alerts.yml"
  for m in 9101 9102 9103 9104 9105; do seds+=(-e "s/127\.0\.0\.1:$m\"/127.0.0.1:$((m + P))\"/"); done
  sed "${seds[@]}" deploy/prometheus/prometheus-local.yml > "$dir/prometheus.yml"
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" > "$RUN_DIR/logs/prometheus.log" 2>&1 &
  PIDS[prometheus]=$!
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/-/ready" > /dev/null; then break; fi
    kill -0 "${PIDS[prometheus]}" 2>/dev/null || { tail -5 "$RUN_DIR/logs/prometheus.log" >&2; return 1; }
    sleep 0.2
  done
  echo "  prometheus: http://127.0.0.1:$port (targets: /targets, alerts: /alerts; data in $dir)"
  if command -v grafana-server > /dev/null 2>&1; then
    local home=()
    [ -d /usr/share/grafana ] && home=(--homepath=/usr/share/grafana)
    GF_PATHS_PROVISIONING=$ROOT/deploy/grafana/provisioning GF_PATHS_DATA=$RUN_DIR/grafana \
      GF_SERVER_HTTP_ADDR=127.0.0.1 GF_SERVER_HTTP_PORT=$((3000 + P)) GF_AUTH_ANONYMOUS_ENABLED=true \
      SKILLSD_PROMETHEUS_URL=http://127.0.0.1:$port SKILLSD_DASHBOARDS_DIR=$ROOT/deploy/grafana/dashboards \
      grafana-server "${home[@]}" > "$RUN_DIR/logs/grafana.log" 2>&1 &
    PIDS[grafana]=$!
    echo "  grafana: http://127.0.0.1:$((3000 + P)) (folder skillsd)"
  else
    echo "  grafana-server is not installed: import deploy/grafana/dashboards/*.json into your Grafana"
  fi
}

# Ports: the defaults (gRPC 50051-50055, metrics 9101-9105), or SKILLSD_PORT_OFFSET added to each so two runs
# (or a run and the tests) can share a machine.
P=${SKILLSD_PORT_OFFSET:-0}
ENV_PORT=$((50051 + P)) SKILL_PORT=$((50052 + P)) TEACHER_PORT=$((50053 + P)) LEARNER_PORT=$((50054 + P))
ACTOR_PORT=$((50055 + P))
# The env worker: skillsd-env for Sokoban (C++, in-process for the warm start and the evaluations), otherwise
# skillsd-env-NAME (env_workers/python: FrozenLake). Such an env is known only through its worker, so the worker
# starts first and model init, the warm start and both evaluations play it (--env_worker).
ENV_NAME=$("$BIN/skillsd" config --config="$CONFIG" "$SET_FLAG" | awk '/^env:/ {e = 1; next} /^[a-z]/ {e = 0}
  e && $1 == "name:" {print $2; exit}')
ENV_BINARY=skillsd-env
WORKER=()
if [ "$ENV_NAME" != sokoban ]; then
  ENV_BINARY=skillsd-env-$ENV_NAME
  [ -x "$BIN/$ENV_BINARY" ] || { echo "run.sh: no worker $BIN/$ENV_BINARY for env.name $ENV_NAME" >&2; exit 2; }
  WORKER=(--env_worker="127.0.0.1:$ENV_PORT")
fi
SERVICES=("env $ENV_BINARY $ENV_PORT $((9101 + P))" "skill skillsd-skill $SKILL_PORT $((9102 + P))"
          "learner skillsd-learner $LEARNER_PORT $((9104 + P))" "teacher skillsd-teacher $TEACHER_PORT $((9103 + P))"
          "actor skillsd-actor $ACTOR_PORT $((9105 + P))")
# Data-parallel learner ranks: rank 0 is "learner" (above), rank r is "learner$r".
LEARNERS=(learner)
if [ "$RANKS" -gt 1 ]; then
  ENVS[learner]="RANK=0 WORLD_SIZE=$RANKS MASTER_ADDR=127.0.0.1 MASTER_PORT=$((29500 + P))"
  for r in $(seq 1 $((RANKS - 1))); do
    SERVICES+=("learner$r skillsd-learner $((50060 + P + r)) $((9110 + P + r))")
    ENVS[learner$r]="RANK=$r WORLD_SIZE=$RANKS MASTER_ADDR=127.0.0.1 MASTER_PORT=$((29500 + P))"
    LEARNERS+=("learner$r")
  done
fi
if [ ${#WORKER[@]} -gt 0 ]; then
  echo "== starting the $ENV_NAME env worker ($ENV_BINARY) for the warm start, the evaluations and training"
  start env "$ENV_BINARY" "$ENV_PORT" "$((9101 + P))"
  wait_healthy env "$ENV_PORT"
fi

# 1. The tiny model and its warm start (shared by runs with the same config; delete runs/model* to redo).
MODEL_DIR=${SKILLSD_MODEL_DIR:-$ROOT/runs/model}
WARM_DIR=${SKILLSD_WARM_DIR:-$ROOT/runs/model-sft}
if [ ! -f "$MODEL_DIR/config.json" ]; then
  echo "== creating the tiny default model in $MODEL_DIR"
  "$BIN/skillsd" model init --out="$MODEL_DIR" --config="$CONFIG" "$SET_FLAG" ${WORKER[@]+"${WORKER[@]}"}
fi
# What the warm start depends on: the model it starts from, the seed, the levels and prompts, the history window and
# the skill prompt. The default warm start (runs/model-sft) is redone when it was made under other settings; one
# that SKILLSD_WARM_DIR names is the user's and is only warned about (e.g. RL with another seed on the same warm
# start).
warm_start_key() {
  cksum < "$MODEL_DIR/config.json"
  cksum < "$MODEL_DIR/tokenizer.json"
  "$BIN/skillsd" config --config="$CONFIG" "$SET_FLAG" | awk '
    /^[a-z]/ { section = $1 }
    section == "env:" || (section == "run:" && /seed:/) || (section == "actor:" && /history_turns:/) ||
      (section == "teacher:" && /skill_template:/) || (section == "skill:" && /workflow_view:/)'
}
WARM_KEY=$(warm_start_key)
if [ -f "$WARM_DIR/config.json" ] && [ "$(cat "$WARM_DIR/warm_start.key" 2>/dev/null)" != "$WARM_KEY" ]; then
  if [ -z "${SKILLSD_WARM_DIR:-}" ]; then
    echo "== the warm start in $WARM_DIR was made under other settings: redoing it"
    rm -rf "$WARM_DIR"
  elif [ -f "$WARM_DIR/warm_start.key" ]; then
    echo "== note: the warm start in $WARM_DIR was made under other settings (its warm_start.key); using it as it is"
  fi
fi
if [ ! -f "$WARM_DIR/config.json" ]; then
  echo "== warm start: SFT on solver demonstrations of the training levels (stops at 10% greedy test success)"
  "$BIN/skillsd" sft --model="$MODEL_DIR" --out="$WARM_DIR" --config="$CONFIG" "$SET_FLAG" ${WORKER[@]+"${WORKER[@]}"} |
    tee "$RUN_DIR/logs/sft.log"
  echo "$WARM_KEY" > "$WARM_DIR/warm_start.key"
fi
SECONDS_SETUP=$(( $(date +%s) - STARTED ))
if [ "$WARM_ONLY" = 1 ]; then echo "warm start: $WARM_DIR"; exit 0; fi

# 2. Evaluation before training (kept: a resumed run, or a study that evaluated the warm start once per seed).
EVAL_STARTED=$(date +%s)
if [ ! -f "$RUN_DIR/eval_before.json" ]; then
  echo "== evaluating the warm-started model on the test levels (greedy, and sampled)"
  "$BIN/skillsd" eval --model="$WARM_DIR" --config="$CONFIG" "$SET_FLAG" --json_out="$RUN_DIR/eval_before.json" \
    ${WORKER[@]+"${WORKER[@]}"}
fi
SECONDS_EVAL_BEFORE=$(( $(date +%s) - EVAL_STARTED ))

# 3. Every process, then training.
# The address PROCESS dials for TARGET: SKILLSD_ROUTES="actor.env=HOST:PORT,teacher.learner=HOST:PORT,..." sends
# it elsewhere (tests/netfault_test.sh puts fault-injecting proxies there).
route() {
  local r
  for r in $(tr , " " <<< "${SKILLSD_ROUTES:-}"); do
    if [ "${r%%=*}" = "$1" ]; then echo "${r#*=}"; return; fi
  done
  echo "$2"
}
echo "== starting services on loopback"
TRAIN_STARTED=$(date +%s)
for s in "${SERVICES[@]}"; do
  read -r name binary port metrics <<< "$s"
  [ -n "${PIDS[$name]:-}" ] && continue  # the env worker of an env other than Sokoban runs already
  extra=()
  case "$name" in
    learner) extra=(--model_dir="$WARM_DIR" --checkpoint_dir="$RUN_DIR/checkpoints" --export_dir="$RUN_DIR/final_model"
                    --env="$(route learner.env 127.0.0.1:$ENV_PORT)" --exit_when_finished) ;;
    learner[0-9]*) extra=(--model_dir="$WARM_DIR" --exit_when_finished) ;;
    teacher) extra=(--model_dir="$WARM_DIR" --learner="$(route teacher.learner 127.0.0.1:$LEARNER_PORT)" "${CLIENT[@]}") ;;
    actor) extra=(--model_dir="$WARM_DIR" --learner="$(route actor.learner 127.0.0.1:$LEARNER_PORT)"
                  --env="$(route actor.env 127.0.0.1:$ENV_PORT)" --teacher="$(route actor.teacher 127.0.0.1:$TEACHER_PORT)"
                  --skill="$(route actor.skill 127.0.0.1:$SKILL_PORT)" --actor_id=actor-0 --exit_when_finished
                  "${CLIENT[@]}") ;;
  esac
  start "$name" "$binary" "$port" "$metrics" "${extra[@]}"
done
for s in "${SERVICES[@]}"; do
  read -r name binary port metrics <<< "$s"
  wait_healthy "$name" "$port"
done
echo "metrics: $(for s in "${SERVICES[@]}"; do read -r n _ _ m <<< "$s"; printf 'http://127.0.0.1:%s/metrics ' "$m"; done)"
if [ "$PROMETHEUS" = 1 ]; then start_monitoring; fi
echo "== training (progress: learner steps and actor assignments; logs in $RUN_DIR/logs)"
# (TAIL_PID is the last command of the pipeline; the rest ends with this script)
tail -n 0 -F --pid=$$ "$RUN_DIR/logs/learner.log" "$RUN_DIR/logs/actor.log" 2>/dev/null |
  grep --line-buffered -E "\] (step [0-9]+:|actor: policy)" | sed -u -E 's/^[^]]*\] //' &
TAIL_PID=$!
# Supervision: the learner exits 0 when training is done, and the actor exits 0 once the learner says so. Any
# other exit (a crash, kill -9, an error) restarts the process with the same arguments: the learner resumes from
# its newest checkpoint and its durable intake log, the skill service from its bank, the others reconnect.
# Every exit is diagnosed (signal and last resident size, or the process's own last error line). A process that
# fails the same way (same status, same learner step) SKILLSD_CRASH_LOOP times in a row (default 3) is not
# restarted again: the run stops with the diagnosis and a hint (failure.txt in the run directory). More than
# SKILLSD_MAX_RESTARTS restarts in a run (default 20) also end it. Each process's peak resident memory, sampled
# every second from /proc, goes to memory.tsv.
MAX_RESTARTS=${SKILLSD_MAX_RESTARTS:-20}
CRASH_LOOP=${SKILLSD_CRASH_LOOP:-3}
RESTARTS=0
declare -A RSS_KIB=() PEAK_KIB=() FAIL_KEY=() FAIL_COUNT=()
# sample_memory: the resident size (VmRSS) and its high-water mark (VmHWM) of every running process, in KiB.
sample_memory() {
  local name key value _ rss hwm
  for name in "${!PIDS[@]}"; do
    rss=; hwm=
    while read -r key value _; do
      case "$key" in VmRSS:) rss=$value ;; VmHWM:) hwm=$value ;; esac
    done 2>/dev/null < "/proc/${PIDS[$name]}/status" || continue
    [ -n "$rss" ] && RSS_KIB[$name]=$rss
    [ -n "$hwm" ] && [ "$hwm" -gt "${PEAK_KIB[$name]:-0}" ] && PEAK_KIB[$name]=$hwm
  done
  return 0
}
write_memory() {
  local name
  { echo -e "process\tpeak_rss_mib"
    for name in "${!PEAK_KIB[@]}"; do echo -e "$name\t$(( PEAK_KIB[$name] / 1024 ))"; done | sort; } > "$RUN_DIR/memory.tsv"
}
learner_step() { sed -n 's/.*\] step \([0-9]*\):.*/\1/p' "$RUN_DIR/logs/learner.log" 2>/dev/null | tail -n 1; }
# diagnose NAME STATUS: one line saying how NAME ended.
diagnose() {
  local name=$1 code=$2 rss=$(( ${RSS_KIB[$1]:-0} / 1024 )) peak=$(( ${PEAK_KIB[$1]:-0} / 1024 )) sig last
  if [ "$code" -gt 128 ]; then
    sig=$((code - 128))
    if [ "$sig" = 9 ]; then
      echo "killed by signal 9 (SIGKILL) at ${rss} MiB resident (peak ${peak} MiB): most likely the kernel's" \
           "out-of-memory killer (dmesg says), $(free -m | awk '/^Mem:/ {print $2}') MiB on this machine"
    else
      echo "killed by signal $sig (SIG$(kill -l "$sig" 2>/dev/null || echo '?')) at ${rss} MiB resident"
    fi
    return
  fi
  last=$(grep -E '^[EF][0-9]{8} |terminate called|what\(\)|[Ee]rror' "$RUN_DIR/logs/$name.log" 2>/dev/null | tail -n 1)
  echo "exited with status $code: ${last:-no error line in its log}"
}
config_value() { sed -n "s/^  $1: *//p" "$RUN_DIR/config.yaml" | head -1; }
# hint NAME STATUS: what to change when NAME keeps failing that way.
hint() {
  if [ "$2" -gt 128 ] && [ "$(( $2 - 128 ))" = 9 ]; then
    case "$1" in
      learner*) echo "lower learner.micro_batch_tokens (now $(config_value micro_batch_tokens)), or turn on" \
                     "learner.activation_checkpointing, or train fewer episodes per step (algorithm.tasks_per_step" \
                     "$(config_value tasks_per_step) x algorithm.group_size $(config_value group_size))" ;;
      teacher) echo "lower teacher.max_batch_sequences (now $(config_value max_batch_sequences))" ;;
      actor) echo "lower algorithm.tasks_per_step (now $(config_value tasks_per_step)): the actor decodes" \
                  "tasks_per_step x group_size episodes together" ;;
      *) echo "give the machine more memory, or this process less work" ;;
    esac
  else
    echo "the process's own error is above and in $RUN_DIR/logs/$1.log; fix its cause and rerun (the learner" \
         "resumes from its newest checkpoint)"
  fi
}
finished=0
[ -n "${FINISHED[learner]:-}" ] && finished=1
while [ "$finished" = 0 ]; do
  sample_memory
  for name in "${LEARNERS[@]}" env skill teacher actor; do
    [ -n "${PIDS[$name]:-}" ] || continue
    kill -0 "${PIDS[$name]}" 2>/dev/null && continue
    code=0; wait "${PIDS[$name]}" || code=$?
    unset "PIDS[$name]"
    if [ "$code" = 0 ] && [ "$name" = learner ]; then finished=1; break; fi
    if [ "$code" = 0 ] && [ "$name" = actor ]; then continue; fi
    if [ "$code" = 0 ] && [ "$name" != learner ] && [[ "$name" == learner* ]]; then continue; fi  # rank 0 said finish
    RESTARTS=$((RESTARTS + 1))
    why=$(diagnose "$name" "$code")
    key="$code at step $(learner_step)"
    if [ "${FAIL_KEY[$name]:-}" = "$key" ]; then FAIL_COUNT[$name]=$(( FAIL_COUNT[$name] + 1 )); else
      FAIL_KEY[$name]=$key; FAIL_COUNT[$name]=1
    fi
    if [ "${FAIL_COUNT[$name]}" -ge "$CRASH_LOOP" ] || [ "$RESTARTS" -gt "$MAX_RESTARTS" ]; then
      write_memory
      { if [ "${FAIL_COUNT[$name]}" -ge "$CRASH_LOOP" ]; then
          echo "$name failed the same way ${FAIL_COUNT[$name]} times in a row (status $key); not restarting it."
        else
          echo "$name failed and $MAX_RESTARTS restarts are used up; stopping."
        fi
        echo "  cause: $why"
        echo "  hint: $(hint "$name" "$code")"
        echo "  last log lines ($RUN_DIR/logs/$name.log):"
        tail -n 5 "$RUN_DIR/logs/$name.log" | sed 's/^/    /'; } | tee "$RUN_DIR/failure.txt" >&2
      exit 1
    fi
    echo "$name $why; restarting it (restart $RESTARTS of at most $MAX_RESTARTS)" >&2
    restart "$name"
  done
  sleep 1
done
sample_memory
# The actor exits by itself once GetWork says training is over; if it missed that (the learner was already gone,
# say after a network fault), it gets 30 s and then SIGTERM, so the run cannot hang here.
if [ -n "${PIDS[actor]:-}" ]; then
  for _ in $(seq 1 30); do kill -0 "${PIDS[actor]}" 2>/dev/null || break; sleep 1; done
  kill -TERM "${PIDS[actor]}" 2>/dev/null || true
  wait "${PIDS[actor]}" 2>/dev/null || true
  unset 'PIDS[actor]'
fi
kill "$TAIL_PID" 2>/dev/null || true
[ "$RESTARTS" = 0 ] || echo "training finished after $RESTARTS process restarts"
SECONDS_TRAIN=$(( $(date +%s) - TRAIN_STARTED ))

# 4. Evaluation after training, and the report.
echo "== evaluating the trained model on the test levels"
EVAL_STARTED=$(date +%s)
"$BIN/skillsd" eval --model="$RUN_DIR/final_model" --config="$CONFIG" "$SET_FLAG" --json_out="$RUN_DIR/eval_after.json" \
  ${WORKER[@]+"${WORKER[@]}"}
SECONDS_EVAL_AFTER=$(( $(date +%s) - EVAL_STARTED ))
# Wall time per phase of this invocation (a resumed run counts only what it did this time).
printf 'phase\tseconds\nsetup\t%s\neval_before\t%s\ntrain\t%s\neval_after\t%s\n' "$SECONDS_SETUP" \
  "$SECONDS_EVAL_BEFORE" "$SECONDS_TRAIN" "$SECONDS_EVAL_AFTER" > "$RUN_DIR/times.tsv"
"$BIN/skillsd" report --run_dir="$RUN_DIR" --setup_seconds="$SECONDS_SETUP" --train_seconds="$SECONDS_TRAIN"
echo "report: $RUN_DIR/report.md"
if [ "$KEEP" = 1 ]; then
  echo "services are up; Ctrl-C stops them"
  # `wait` (unlike a foreground sleep) returns as soon as a trapped signal arrives.
  while true; do sleep 3600 & wait $!; done
fi
sample_memory
write_memory
stop_all
echo "peak resident memory (MiB): $(tail -n +2 "$RUN_DIR/memory.tsv" | tr '\t\n' '= ')"
echo "all services stopped cleanly; wall time $(( $(date +%s) - STARTED )) s"
exit
}
