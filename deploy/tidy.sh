#!/usr/bin/env bash
# clang-tidy over the project's own sources with .clang-tidy's checks, from build/compile_commands.json (configure
# first: deploy/build.sh or tests/run.sh). Not part of CI: it takes about an hour on 2 cores.
#   deploy/tidy.sh [PATH_REGEX]     e.g. deploy/tidy.sh 'learner/'   (default: every file)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/compile_commands.json ] || { echo "no build/compile_commands.json: build first" >&2; exit 2; }
exec run-clang-tidy -quiet -p build -j "$(nproc)" "${1:-^$(pwd)/(core|model|learner|weights|env_workers|actor|skill_service|teacher_server|tools)/}"
