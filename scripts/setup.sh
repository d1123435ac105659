#!/usr/bin/env bash
# Installs the Debian packages moelab needs (only the missing ones), then configures and builds it
# in ./build (Release, tuned for this CPU; MOELAB_PORTABLE=ON for a portable build).
# Idempotent and non-interactive; a no-op rebuild when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake make libopenblas-openmp-dev libopenblas0-openmp nlohmann-json3-dev doctest-dev libcli11-dev fortunes
          libopenmpi-dev openmpi-bin libicu-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMOELAB_PORTABLE="${MOELAB_PORTABLE:-OFF}"
fi
cmake --build build -j"$(nproc)"
