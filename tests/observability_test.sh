#!/usr/bin/env bash
# Observability, end to end: the local stack through deploy/local/run.sh --prometheus (tiny settings, like
# e2e_test) with a real Prometheus server (Debian's) scraping every process. Once the learner has taken a few
# steps and the teacher has scored groups: every target is up, the alert rules are loaded and healthy, every
# process's /metrics passes `promtool check metrics`, and every PromQL expression of the Grafana dashboards
# returns data and every series the alert rules select exists (deploy/prometheus/check_queries.mjs).
#   tests/observability_test.sh BUILD_DIR NPM_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
NPM_DIR=${2:-$BUILD/npm-deploy}
BIN=$BUILD/bin
P=${SKILLSD_PORT_OFFSET:-500}
PROM=http://127.0.0.1:$((9090 + P))
WORK=$(mktemp -d)
source "$ROOT/tests/loop_lib.sh"
trap 'stop_run; rm -rf "$WORK"' EXIT
fail() { echo "observability: FAIL: $*" >&2; tail -n 20 "$WORK/run.log" >&2; exit 1; }
q() { curl -sf --get "$PROM/api/v1/query" --data-urlencode "query=$1" || true; }
value() { sed -n 's/.*"value":\[[^,]*,"\([0-9.]*\)".*/\1/p'; }

if [ ! -d "$NPM_DIR/node_modules/yaml" ]; then
  mkdir -p "$NPM_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" kubernetes-models@5.1.0 yaml@2.8.1
fi

SETS="run.output_dir=$WORK/runs,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=2,env.test_levels=8,env.max_steps=20,algorithm.group_size=4,algorithm.tasks_per_step=4"
SETS+=",learner.total_steps=1000,actor.eval_episodes_per_level=1,learner.checkpoint_every=1000,skill.credit=same_group"
warm_start "$WORK" "$SETS" 80 || fail "sft"

SKILLSD_MODEL_DIR=$WORK/model SKILLSD_WARM_DIR=$WORK/warm BIN_DIR=$BIN SKILLSD_PORT_OFFSET=$P \
  "$ROOT/deploy/local/run.sh" --no-build --name obs --set "$SETS" --prometheus > "$WORK/run.log" 2>&1 &
RUN_PID=$!

# A few learner steps, with groups scored by the teacher (the bank has skills by then).
for i in $(seq 1 150); do
  kill -0 "$RUN_PID" 2>/dev/null || fail "run.sh exited early"
  steps=$(q 'max(skillsd_learner_policy_version)' | value)
  scored=$(q 'sum(skillsd_teacher_sequences_total)' | value)
  if [ "${steps%.*}" -ge 3 ] 2>/dev/null && [ "${scored%.*}" -gt 0 ] 2>/dev/null; then break; fi
  [ "$i" = 150 ] && fail "no 3 learner steps with teacher scoring within 300 s (steps=$steps, scored=$scored)"
  sleep 2
done
echo "observability: learner at version ${steps%.*}, ${scored%.*} sequences scored by the teacher"

# Every target scraped and up (the first scrape of each lands within a scrape interval or two).
for i in $(seq 1 30); do
  up=$(q 'count(up{job=~"skillsd-.*"} == 1)' | value)
  [ "$up" = 5 ] && break
  [ "$i" = 30 ] && fail "$up of 5 targets up: $(q 'up')"
  sleep 2
done
rules=$(curl -sf "$PROM/api/v1/rules")
[ "$(grep -o '"type":"alerting"' <<< "$rules" | wc -l)" = 8 ] || fail "alert rules not loaded: $rules"
grep -q '"health":"err"' <<< "$rules" && fail "an alert rule does not evaluate: $rules"
for m in 9101 9102 9103 9104 9105; do
  curl -sf "http://127.0.0.1:$((m + P))/metrics" | promtool check metrics || fail "promtool check metrics on port $((m + P))"
done
node "$ROOT/deploy/prometheus/check_queries.mjs" "$PROM" "$NPM_DIR" "$ROOT" 120 || fail "queries without data"

stop_run
grep -q "stopping:" "$WORK/run.log" || fail "run.sh did not stop its processes"
echo "observability: OK"
