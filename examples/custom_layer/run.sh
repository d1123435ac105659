#!/usr/bin/env bash
# Configures, builds and tests this example against an installed moelab:
#   bash examples/custom_layer/run.sh PREFIX [BUILD_DIR]
# PREFIX is the folder given to `cmake --install BUILD --prefix PREFIX`. BUILD_DIR defaults to a
# fresh temporary folder, removed at the end. Exits non-zero when a step or a test fails.
# About 30 s on 2 cores (compile ~25 s, tests ~3 s).
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 PREFIX [BUILD_DIR]" >&2
  exit 2
fi
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -eq 2 ]]; then
  build=$2
else
  build=$(mktemp -d "${TMPDIR:-/tmp}/moelab-custom-layer.XXXXXX")
  trap 'rm -rf "$build"' EXIT
fi
# -U moelab_DIR: a reused BUILD_DIR looks moelab up again, in PREFIX.
cmake -S "$here" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -U moelab_DIR
found=$(sed -n 's/^moelab_DIR:PATH=//p' "$build/CMakeCache.txt")
if [[ "$found" != "$prefix"/* ]]; then  # e.g. another moelab in /usr/local
  echo "run.sh: CMake found moelab in $found, not under $prefix" >&2
  exit 1
fi
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
