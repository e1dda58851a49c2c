#!/usr/bin/env bash
# End-to-end: a few steps of the real multi-process Skill-SD loop, through deploy/local/run.sh (the README's main
# job) with tiny settings: a small model, a short SFT so it plays valid moves, 4 learner steps with the teacher
# pushed every 2 steps. Checks that groups were scored by the teacher with skills once the bank filled, that the
# teacher installed exactly the scheduled versions, that the learner's and the actor's figures moved, and that the
# report was written. The learner runs as two data-parallel ranks (Gloo): rank 1 must train every step that rank 0
# trains and stop when it finishes. Usage: tests/e2e_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
BIN=$BUILD/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
source "$ROOT/tests/loop_lib.sh"
fail() { echo "e2e: FAIL: $*" >&2; show_logs "$WORK/runs/e2e" 15; exit 1; }

SETS="run.output_dir=$WORK/runs,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=2,env.test_levels=16,env.max_steps=20,algorithm.group_size=4,algorithm.tasks_per_step=4"
SETS+=",learner.total_steps=4,algorithm.teacher_sync_interval=2,actor.eval_episodes_per_level=1,learner.checkpoint_every=2"
SETS+=",skill.credit=same_group"

# Easy levels (one box, short solutions) and a short warm start (80 epochs of 2 optimizer steps: the answer
# format and the two levels): episodes solve or make progress often, so the rule summariser has something to
# summarise and groups have mixed outcomes.
warm_start "$WORK" "$SETS" 80 || fail "sft"

SKILLSD_MODEL_DIR=$WORK/model SKILLSD_WARM_DIR=$WORK/warm BIN_DIR=$BIN SKILLSD_PORT_OFFSET=${SKILLSD_PORT_OFFSET:-400} \
  "$ROOT/deploy/local/run.sh" --no-build --name e2e --learner-ranks 2 --set "$SETS" > "$WORK/run.log" 2>&1 ||
  { cat "$WORK/run.log"; fail "run.sh exited with $?"; }
RUN=$WORK/runs/e2e
cat "$WORK/run.log" | tail -n 25

# The learner trained 4 steps with finite losses and non-zero gradients.
[ "$(tail -n +2 "$RUN/metrics.csv" | wc -l)" -eq 4 ] || fail "metrics.csv should have 4 steps"
awk -F, 'NR > 1 && !($10 > 0) { exit 1 }' "$RUN/metrics.csv" || fail "a step with zero gradient norm"
# Rank 1 followed rank 0 over Gloo: the same 4 steps, then rank 0's finish.
grep -q "following rank 0 (gloo)" "$RUN/logs/learner1.log" || fail "learner rank 1 did not join"
[ "$(grep -c "learner rank 1: step [0-9]" "$RUN/logs/learner1.log")" -eq 4 ] || fail "learner rank 1 should train 4 steps"
grep -q "rank 0 finished" "$RUN/logs/learner1.log" || fail "learner rank 1 did not see rank 0 finish"
# The teacher followed the push schedule: versions 0, 2, 4 (every 2 steps), never 1 or 3.
installed=$(sed -n 's/.*teacher: installed version \([0-9]*\).*/\1/p' "$RUN/logs/teacher.log" | tr '\n' ' ')
[ "$installed" = "0 2 4 " ] || fail "teacher installed versions '$installed', want '0 2 4 '"
# Skills: the bank filled, and once it had skills the actor's groups were scored by the teacher with them.
python3 - "$RUN" <<'PY' || fail "skills"
import csv, sqlite3, sys
run = sys.argv[1]
skills = sqlite3.connect(run + "/skills.db").execute("SELECT COUNT(*) FROM skills").fetchone()[0]
assert skills > 0, "the skill bank stayed empty"
rows = list(csv.DictReader(open(run + "/actor.csv")))
assert len(rows) >= 4, rows
with_skill = sum(int(r["groups_with_skill"]) for r in rows)
scored = sum(int(r["teacher_scored"]) for r in rows)
assert with_skill > 0 and scored > 0, (with_skill, scored)
assert int(rows[0]["groups_with_skill"]) == 0, "the first groups cannot have skills"
print(f"e2e: {skills} skills in the bank, {with_skill} groups with a skill, {scored} scored by the teacher")
PY
# Evaluations and the report.
for f in eval_before.json eval_after.json report.md learning_curve.png final_model/model.safetensors; do
  [ -s "$RUN/$f" ] || fail "missing $f"
done
head -c 8 "$RUN/learning_curve.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "not a PNG"
grep -q "all services stopped cleanly" "$WORK/run.log" || fail "services did not stop cleanly"
echo "e2e: OK"
