#!/usr/bin/env bash
# Fails when a tracked C++ file is not formatted as .clang-format says. Fix with:
#   git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find . -name '*.cc' -o -name '*.h' | grep -v '^./build')
if [ -z "$files" ]; then echo "no C++ files found"; exit 1; fi
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
echo "format check: $(echo "$files" | wc -l) files formatted"
