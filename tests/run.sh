#!/usr/bin/env bash
# README command 2: sets up a fresh Debian bookworm machine (packages), builds everything and runs every test
# with ctest. Extra arguments go to ctest (e.g. tests/run.sh -R server_test, tests/run.sh -L integration).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install_deps.sh
deploy/build.sh
ctest --test-dir "${SKILLSD_BUILD_DIR:-build}" --output-on-failure -j "${SKILLSD_TEST_JOBS:-2}" "$@"
