#!/usr/bin/env bash
# MoE vs dense, compute-matched (docs/moe-vs-dense.md): the default MoE model top-1 and top-2 against
# dense models at equal steps, equal training FLOPs and equal total parameters, 3 seeds each
# (configs/sweeps/moe_vs_dense.json); equal wall time from the eval rows' elapsed_s.
# About 20 minutes on 2 cores. Usage: bash scripts/moe_vs_dense_study.sh   (MOELAB=path: another build)
set -euo pipefail
cd "$(dirname "$0")/.."
moelab="${MOELAB:-./build/moelab}"
[ -x "$moelab" ] || bash scripts/setup.sh
"$moelab" sweep configs/sweeps/moe_vs_dense.json
python3 scripts/compute_matched.py runs/moe_vs_dense | tee runs/moe_vs_dense/compute_matched.md
# Readable group names for the report and scripts/paired_seeds.py: runs/moe_vs_dense/view/NAME/seedS
rm -rf runs/moe_vs_dense/view
name() {
  local d
  d=$(cd runs/moe_vs_dense && ls -d -- "$2"-????????)
  mkdir -p "runs/moe_vs_dense/view/$1"
  for s in runs/moe_vs_dense/"$d"/seed*; do ln -s "$PWD/$s" "runs/moe_vs_dense/view/$1/$(basename "$s")"; done
}
name dense 'num_experts=0'
name dense_params_eqflops 'num_experts=0,mult=18,max_iters=484,lr_decay_iters=484'
name top1_renorm 'top_k=1'
name top1_switch 'top_k=1,renorm=false'
name top2 'top_k=2'
name top2_eqflops 'top_k=2,max_iters=1150,lr_decay_iters=1150'
"$moelab" report runs/moe_vs_dense/view/*/seed* --out runs/moe_vs_dense/report.html
echo "paired by seed: python3 scripts/paired_seeds.py runs/moe_vs_dense/view top1_switch dense"
