#!/usr/bin/env bash
# MoE vs dense, compute-matched (docs/moe-vs-dense.md): the default MoE model top-1 and top-2 against
# dense models at equal steps, equal training FLOPs and equal total parameters, 3 seeds each
# (configs/sweeps/moe_vs_dense.json); equal wall time from the eval rows' elapsed_s.
# About 25 minutes on 2 cores. Usage: bash scripts/moe_vs_dense_study.sh   (MOELAB=path: another build)
set -euo pipefail
cd "$(dirname "$0")/.."
moelab="${MOELAB:-./build/moelab}"
[ -x "$moelab" ] || bash scripts/setup.sh
"$moelab" sweep configs/sweeps/moe_vs_dense.json
"$moelab" report runs/moe_vs_dense/*/seed* --out runs/moe_vs_dense/report.html
python3 scripts/compute_matched.py runs/moe_vs_dense | tee runs/moe_vs_dense/compute_matched.md
cat runs/moe_vs_dense/aggregate.md
