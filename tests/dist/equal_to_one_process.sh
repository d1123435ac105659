#!/usr/bin/env bash
# A run on N processes (mpirun) trains the same model as on one: 30 steps of a small config, per-step
# losses within 1e-5 (relative) and final weights within 1e-5. EP processes share one copy of the
# experts (dist.expert_parallel; 1: pure data parallel). Usage:
#   equal_to_one_process.sh MOELAB COMPARE_RUNS N EP CASE
set -euo pipefail
moelab="$1"; compare="$2"; np="$3"; ep="$4"; case_name="$5"
source "$(dirname "$0")/../robustness/common.sh"
command -v mpirun > /dev/null || fail "mpirun not found (apt-get install openmpi-bin; scripts/setup.sh does)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
# what the configs differ in (on top of common.sh's tiny MoE model: 2 layers, 4 experts, batch 4)
case "$case_name" in
  dense)        set_args=(--set model.moe=null) ;;
  moe_top2)     set_args=(--set model.moe.top_k=2 --set model.moe.router.renorm=true) ;;
  switch_cap)   set_args=(--set model.moe.top_k=1 --set model.moe.router.renorm=false --set model.moe.capacity.factor=1.25
                          --set model.moe.capacity.groups=4) ;;
  switch_cap1)  set_args=(--set model.moe.top_k=1 --set model.moe.router.renorm=false --set model.moe.capacity.factor=1.25) ;;
  top2_slot_cap) set_args=(--set model.moe.top_k=2 --set model.moe.capacity.factor=1.0 --set model.moe.capacity.groups=2) ;;
  aux_free)     set_args=(--set model.moe.router.bias_rate=0.01) ;;
  noisy_topk)   set_args=(--set model.moe.router.type=noisy_topk --set model.moe.router.renorm=false) ;;
  dropout)      set_args=(--set model.dropout=0.1 --set model.moe.router.random_second=0.2 --set model.moe.top_k=2) ;;
  no_overlap)   set_args=(--set model.moe.top_k=2 --set model.moe.router.renorm=true --set dist.overlap=false) ;;
  expert_choice) set_args=(--set model.moe.router.type=expert_choice --set model.moe.router.renorm=false
                           --set model.moe.capacity.groups=4) ;;
  *) fail "unknown case $case_name" ;;
esac
args=(--set train.batch_size=8 --set train.eval_interval=10 --set train.log_interval=1 "${set_args[@]}")
train_tiny "$work/one" 30 "${args[@]}" > "$work/one.log" 2>&1 || fail "one process: $(tail -3 "$work/one.log")"
mpirun -np "$np" "$moelab" train "$root/configs/default.json" --out "$work/many" "${tiny[@]}" --set train.max_iters=30 \
  --set train.eval_interval=10 --set optim.lr_decay_iters=30 "${args[@]}" --set dist.expert_parallel="$ep" \
  > "$work/many.log" 2>&1 ||
  fail "mpirun -np $np: $(tail -5 "$work/many.log")"
grep -q "x $np processes" "$work/many.log" || fail "the run did not see $np processes: $(head -3 "$work/many.log")"
"$compare" "$work/one" "$work/many" --processes "$np" "$ep" || fail "$np processes (expert_parallel $ep) differ from one"
echo "$case_name: $np processes (expert_parallel $ep) = 1 process"
