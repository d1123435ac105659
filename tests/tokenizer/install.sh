#!/usr/bin/env bash
# Installs the tokenizer oracles (package.json, pinned by package-lock.json) into
# tests/tokenizer/node_modules, and Debian's node and npm first if missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm > /dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm > /dev/null
fi
if ! cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-lock.json
fi
