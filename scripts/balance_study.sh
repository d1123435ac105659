#!/usr/bin/env bash
# The expert-balance study (docs/balance-study.md): the same small MoE model (default corpus,
# 4 layers, E 8 top-1 every other layer) under each remedy, 3 seeds each, as one sweep
# (configs/sweeps/balance.json), then the grouped report and the over-time table.
# About 30 minutes on 2 cores (2 runs at once, 1 thread each).
# Usage: bash scripts/balance_study.sh   (MOELAB=path uses another build of moelab)
set -euo pipefail
cd "$(dirname "$0")/.."
moelab="${MOELAB:-./build/moelab}"
[ -x "$moelab" ] || bash scripts/setup.sh
"$moelab" sweep configs/sweeps/balance.json
"$moelab" report runs/balance/*/seed* --out runs/balance/report.html --csv runs/balance/csv
python3 scripts/sweep_over_time.py runs/balance --steps 100,250,500,1000 > runs/balance/over_time.md
cat runs/balance/aggregate.md
