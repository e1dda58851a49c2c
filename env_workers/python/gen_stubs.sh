#!/usr/bin/env bash
# Generates the Python messages and gRPC stubs of the v1 contract (proto/skillsd/v1/*.proto) and of the gRPC
# health service into OUT (default build/python), with Debian's protoc and grpc_python_plugin (packages
# protobuf-compiler and protobuf-compiler-grpc). The build runs it (env_workers/python/CMakeLists.txt); run it by
# hand to use the kit without a build. Then: PYTHONPATH=OUT:env_workers/python.
#
# The health service's stubs go into the package `skillsd_health` (the .proto file's path names the Python module,
# its package still names the service grpc.health.v1.Health): under `grpc/health/v1/` they would sit beside
# python3-grpcio's own `grpc` package and could not be imported.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/build/python}
PROTOC=${PROTOC:-protoc}
PLUGIN=${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}
if [ -z "$PLUGIN" ]; then
  echo "gen_stubs.sh: grpc_python_plugin not found (Debian package protobuf-compiler-grpc)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/skillsd_health" "$tmp/out" "$OUT"
cp "$ROOT/proto/grpc/health/v1/health.proto" "$tmp/skillsd_health/health.proto"
cd "$ROOT/proto"
"$PROTOC" --proto_path="$ROOT/proto" --proto_path="$tmp" --python_out="$tmp/out" --grpc_out="$tmp/out" \
  --plugin=protoc-gen-grpc="$PLUGIN" skillsd/v1/*.proto skillsd_health/health.proto
# Replace the tree in one step per package, so a running worker never imports half-written modules.
for pkg in skillsd skillsd_health; do
  rm -rf "$OUT/$pkg.new" && mv "$tmp/out/$pkg" "$OUT/$pkg.new" && rm -rf "$OUT/$pkg" && mv "$OUT/$pkg.new" "$OUT/$pkg"
done
