#!/usr/bin/env bash
# The real loop at a real checkpoint's shape: a Qwen3-shaped Hugging Face folder (Qwen3's own tokenizer.json from
# npm, the vocabulary padded to 151,936 as Qwen3 ships it, bf16 safetensors, a small random body of ~40 M
# parameters, nearly all of them the embedding) trains 2 skill_sd steps with the full prompt through every
# process of deploy/local/run.sh. Asserts that both steps trained, that no process restarted, and that every
# process's peak resident memory stayed under SKILLSD_REALSHAPE_BOUND_MIB (default 3584; docs/learner.md derives
# it). Usage: tests/realshape_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
BIN=$BUILD/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
source "$ROOT/tests/loop_lib.sh"
BOUND_MIB=${SKILLSD_REALSHAPE_BOUND_MIB:-3584}
fail() { echo "realshape: FAIL: $*" >&2; show_logs "$WORK/runs/realshape" 15; exit 1; }

TOKENIZER=$("$ROOT/model/qwen3_tokenizer.sh" "$BUILD/npm")
"$BIN/skillsd" model init --out="$WORK/qwen3" --tokenizer="$TOKENIZER" --pad_vocab=151936 --weights_dtype=bfloat16 \
  --hidden=256 --layers=2 --heads=4 --kv_heads=2 --head_dim=64 --intermediate=768 || fail "model init"
python3 - "$WORK/qwen3" <<'PY' || fail "the folder is not Qwen3-shaped"
import json, struct, sys
d = sys.argv[1]
c = json.load(open(d + "/config.json"))
assert c["vocab_size"] == 151936 and c["model_type"] == "qwen3" and c["torch_dtype"] == "bfloat16", c
raw = open(d + "/model.safetensors", "rb").read(9 << 20)
header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
emb = header["model.embed_tokens.weight"]
assert emb["dtype"] == "BF16" and emb["shape"] == [151936, 256], emb
tok = json.load(open(d + "/tokenizer.json"))
assert len(tok["model"]["vocab"]) + len(tok["added_tokens"]) >= 151643, "not the Qwen3 tokenizer"
params = sum(eval("*".join(map(str, v["shape"]))) for k, v in header.items() if k != "__metadata__")
print(f"realshape: {params / 1e6:.1f} M parameters, vocabulary {c['vocab_size']}")
PY

SETS="run.output_dir=$WORK/runs,env.prompt=full,env.num_boxes=1,env.min_optimal_length=3,env.train_levels=2"
SETS+=",env.test_levels=2,env.max_steps=6,algorithm.group_size=4,algorithm.tasks_per_step=2,learner.total_steps=2"
SETS+=",actor.eval_episodes_per_level=1,learner.checkpoint_every=1,model.threads=2${SKILLSD_REALSHAPE_SETS:+,$SKILLSD_REALSHAPE_SETS}"
# The teacher only scores groups whose task has a skill, and a random body never solves anything to summarise:
# the run starts from a skill bank carried over (as from an earlier run), one skill per training level, in the
# skill service's own schema (read from its source).
mkdir -p "$WORK/runs/realshape"
python3 - "$ROOT/skill_service/skill_bank.cc" "$WORK/runs/realshape/skills.db" <<'PY' || fail "seeding the skill bank"
import re, sqlite3, sys
schema = re.search(r'kSchema\[\] = R"sql\((.*?)\)sql"', open(sys.argv[1]).read(), re.S).group(1)
db = sqlite3.connect(sys.argv[2])
db.executescript(schema)
for level in (0, 1):
    db.execute("INSERT INTO skills (skill_id, task_id, success_analysis, mistake_analysis, golden_workflow, "
               "source_trajectory_id, policy_version, summarizer, summarizer_model, created_unix_ms) "
               "VALUES (?, ?, ?, ?, ?, ?, 0, 'rules', '', 0)",
               (f"seed-{level}", f"sokoban/train/{level}", "The box went onto its target by pushing it along its row.",
                "Answers without the <answer> format are invalid and cost a move.",
                "1. Walk behind the box. 2. Push it towards the target. 3. Answer <answer>Right</answer>.",
                f"seed-{level}"))
db.commit()
PY
start=$(date +%s)
SKILLSD_MODEL_DIR=$WORK/qwen3 SKILLSD_WARM_DIR=$WORK/qwen3 BIN_DIR=$BIN SKILLSD_PORT_OFFSET=${SKILLSD_PORT_OFFSET:-600} \
  "$ROOT/deploy/local/run.sh" --no-build --name realshape --set "$SETS" > "$WORK/run.log" 2>&1 ||
  { cat "$WORK/run.log"; fail "run.sh exited with $?"; }
RUN=$WORK/runs/realshape
tail -n 12 "$WORK/run.log"
echo "realshape: run.sh took $(( $(date +%s) - start )) s"

[ "$(tail -n +2 "$RUN/metrics.csv" | wc -l)" -eq 2 ] || fail "metrics.csv should have 2 steps"
awk -F, 'NR > 1 && !($10 > 0) { exit 1 }' "$RUN/metrics.csv" || fail "a step with zero gradient norm"
if grep -q "restarting it\|restarts are used up\|not restarting it" "$WORK/run.log"; then fail "a process restarted"; fi
grep -q "all services stopped cleanly" "$WORK/run.log" || fail "services did not stop cleanly"
[ -s "$RUN/memory.tsv" ] || fail "no memory.tsv"
cat "$RUN/memory.tsv"
for p in env skill teacher learner actor; do
  grep -q "^$p	" "$RUN/memory.tsv" || fail "no peak memory for $p"
done
awk -F'\t' -v bound="$BOUND_MIB" 'NR > 1 && $2 + 0 >= bound + 0 { print "realshape: " $1 " peaked at " $2 " MiB"; bad = 1 }
  END { exit bad }' "$RUN/memory.tsv" || fail "a process passed the bound of $BOUND_MIB MiB"
python3 - "$RUN" <<'PY' || fail "the teacher scored no group"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/actor.csv")))
assert sum(int(r["teacher_scored"]) for r in rows) > 0, rows
PY
# The learner's steps (loss tokens, and the padding waste of its length-sorted micro-batches).
grep -o "step [0-9]*: .*" "$RUN/logs/learner.log" | sed 's/^/realshape: learner /'
# The actor's phases for the 8 episodes of each step (rollout_s: playing them).
python3 - "$RUN" <<'PY' || true
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/actor.csv")))
keys = [k for k in rows[0] if k.endswith("_s") or k in ("episodes", "generated_tokens")] if rows else []
for r in rows:
    print("realshape: actor " + ", ".join(f"{k}={r[k]}" for k in keys))
PY
echo "realshape: OK"
