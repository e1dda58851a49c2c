#!/usr/bin/env bash
# Checks that the image's runtime stage would have every shared library the built binaries need: each library
# in their DT_NEEDED lists must come from a package in runtime-packages.txt or from one every Debian image has
# (libc6, libgcc-s1, libstdc++6). Run by ctest (docker_runtime_packages); no Docker daemon needed.
#   deploy/docker/check_runtime_packages.sh BIN_DIR
set -euo pipefail
BIN_DIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
mapfile -t listed < <(grep -v '^#' "$HERE/runtime-packages.txt" | sed '/^$/d')
allowed=" libc6 libgcc-s1 libstdc++6 ${listed[*]} "
LIBS=$(ldconfig -p)
missing=0
for bin in skillsd skillsd-env skillsd-skill skillsd-teacher skillsd-learner skillsd-actor; do
  [ -x "$BIN_DIR/$bin" ] || { echo "FAIL: $BIN_DIR/$bin not built" >&2; exit 1; }
  for lib in $(readelf -d "$BIN_DIR/$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(awk -v l="$lib" '$1 == l { print $NF; exit }' <<< "$LIBS")
    [ -n "$path" ] || { echo "FAIL: $bin needs $lib, which is not installed here" >&2; missing=1; continue; }
    # dpkg knows a file by the path its package installed (/lib or /usr/lib on a merged-/usr system).
    real=$(readlink -f "$path")
    pkg=""
    for candidate in "$path" "$real" "${real#/usr}" "/usr$real"; do
      pkg=$( (dpkg -S "$candidate" 2>/dev/null || true) | head -1 | cut -d: -f1)
      [ -z "$pkg" ] || break
    done
    if [ -z "$pkg" ]; then
      echo "FAIL: $bin needs $lib ($path), which no Debian package provides" >&2; missing=1
    elif [[ "$allowed" != *" $pkg "* ]]; then
      echo "FAIL: $bin needs $lib from $pkg, which is not in runtime-packages.txt" >&2; missing=1
    fi
  done
done
[ "$missing" = 0 ] && echo "every shared library of the six binaries comes from a listed package"
exit "$missing"
