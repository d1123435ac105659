#!/usr/bin/env bash
# Collapse, reproduced (docs/collapse.md): top-1 routing at E = 16, 32, 64 fine-grained experts with
# no balancing loss, the Switch loss and aux-loss-free bias, 3 seeds each (configs/sweeps/collapse.json),
# then the grouped report and max/mean, dead experts and drops over time.
# About 35 minutes on 2 cores. Usage: bash scripts/collapse_study.sh   (MOELAB=path: another build)
set -euo pipefail
cd "$(dirname "$0")/.."
moelab="${MOELAB:-./build/moelab}"
[ -x "$moelab" ] || bash scripts/setup.sh
"$moelab" sweep configs/sweeps/collapse.json
"$moelab" report runs/collapse/*/seed* --out runs/collapse/report.html
python3 scripts/sweep_over_time.py runs/collapse --steps 50,100,250,500,1000 | tee runs/collapse/over_time.md
cat runs/collapse/aggregate.md
