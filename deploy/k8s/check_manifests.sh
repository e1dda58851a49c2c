#!/usr/bin/env bash
# Renders every overlay offline with `kubectl kustomize` and checks the objects against the Kubernetes schemas and
# the skillsd binaries (check_manifests.mjs says what is checked). Installs its npm packages itself (pinned).
#   deploy/k8s/check_manifests.sh BIN_DIR NPM_DIR
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd)
NPM_DIR=$2
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$NPM_DIR/node_modules/kubernetes-models" ] || [ ! -d "$NPM_DIR/node_modules/yaml" ]; then
  mkdir -p "$NPM_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" kubernetes-models@5.1.0 yaml@2.8.1
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
rendered=()
for overlay in "$HERE"/overlays/*/; do
  name=$(basename "$overlay")
  # kustomize v5 warns about fields that v2 (Debian's kubectl 1.20) needs; anything else on stderr is shown.
  if ! kubectl kustomize "$overlay" > "$OUT/$name.yaml" 2> "$OUT/$name.err"; then
    cat "$OUT/$name.err" >&2; echo "FAIL: kubectl kustomize $overlay" >&2; exit 1
  fi
  grep -v "is deprecated" "$OUT/$name.err" >&2 || true
  rendered+=("$OUT/$name.yaml")
done
node "$HERE/check_manifests.mjs" "$NPM_DIR" "$BIN_DIR" "${rendered[@]}"

# The checker must catch what it is for: plant one mistake of each kind in a copy and expect each to be named.
sed -e '0,/readinessProbe:/s//readinesProbe:/' -e '0,/--metrics_port=9101/s//--metrics_port=9109/' \
    -e 's/--bank=/--bnk=/' -e 's/--env=env:50051/--env=envs:50051/' -e 's/containerPort: 29500/containerPort: "29500"/' \
    "${rendered[0]}" > "$OUT/planted.yaml"
if node "$HERE/check_manifests.mjs" "$NPM_DIR" "$BIN_DIR" "$OUT/planted.yaml" > "$OUT/planted.out" 2>&1; then
  echo "FAIL: the checker accepted manifests with planted mistakes" >&2; exit 1
fi
for expected in "unknown field .*readinesProbe" "differs from --metrics_port=9109" "has no flag --bnk" \
                "no Service envs" "containerPort must be integer"; do
  if ! grep -q -- "$expected" "$OUT/planted.out"; then
    echo "FAIL: a planted mistake was not reported: $expected" >&2; cat "$OUT/planted.out" >&2; exit 1
  fi
done
echo "planted mistakes: all 5 reported"
