#!/usr/bin/env bash
# Regenerates the key tables of docs/config.md from the schema (train/config/schema.cpp):
# replaces the text between the BEGIN/END markers with `moelab config reference`.
#   bash scripts/update_config_reference.sh [path/to/moelab]
set -euo pipefail
cd "$(dirname "$0")/.."
moelab="${1:-build/moelab}"
ref="$(mktemp)"
trap 'rm -f "$ref"' EXIT
"$moelab" config reference > "$ref"
awk -v ref="$ref" '
  /<!-- BEGIN moelab config reference -->/ { print; while ((getline line < ref) > 0) print line; skip = 1; next }
  /<!-- END moelab config reference -->/ { skip = 0 }
  !skip { print }' docs/config.md > docs/config.md.new
mv docs/config.md.new docs/config.md
echo "docs/config.md: key tables regenerated"
