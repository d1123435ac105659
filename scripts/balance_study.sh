#!/usr/bin/env bash
# The expert-balance study (docs/balance-study.md): the same small MoE model (default corpus,
# 4 layers, E 8 every other layer) under each remedy in configs/study/, then one report.
# About 30 minutes on 2 cores. Usage: bash scripts/balance_study.sh [--threads N] [run names...]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
if [ "${1:-}" = "--threads" ]; then threads="$2"; shift 2; fi
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(top1_noaux switch zloss noisy_topk aux_free expert_choice soft hash)
[ -x build/moelab ] || bash scripts/setup.sh
for r in "${runs[@]}"; do
  echo "== $r"
  ./build/moelab --threads "$threads" train "configs/study/$r.json" | tail -2
done
dirs=()
for r in top1_noaux switch zloss noisy_topk aux_free expert_choice soft hash; do
  [ -f "runs/study/$r/metrics.jsonl" ] && dirs+=("runs/study/$r")
done
./build/moelab report "${dirs[@]}" --out runs/study/report.html --csv runs/study/csv
python3 scripts/study_table.py "${dirs[@]}" | tee runs/study/table.md
