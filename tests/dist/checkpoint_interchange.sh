#!/usr/bin/env bash
# A checkpoint written by 4 processes (expert parallel 2 x data parallel 2) is one standard checkpoint:
# - it evaluates on one process like the one-process run's checkpoint at the same step;
# - it resumes on 1 process and on 2 processes (expert parallel 2) and the continued runs equal
#   a one-process run trained straight through (losses within 1e-5, weights within 1e-5).
# Usage: checkpoint_interchange.sh MOELAB COMPARE_RUNS
set -euo pipefail
moelab="$1"; compare="$2"
source "$(dirname "$0")/../robustness/common.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
args=("${tiny[@]}" --set train.batch_size=8 --set train.eval_interval=5 --set train.log_interval=1
      --set train.checkpoint_interval=10 --set train.keep_checkpoints=0 --set optim.lr_decay_iters=20
      --set model.moe.top_k=2 --set model.moe.capacity.factor=1.25 --set model.moe.capacity.groups=2)
train() { "$moelab" train "$root/configs/default.json" "${args[@]}" "$@"; }
train --out "$work/one" --set train.max_iters=20 > "$work/one.log" 2>&1 || fail "one process: $(tail -3 "$work/one.log")"
mpirun -np 4 "$moelab" train "$root/configs/default.json" "${args[@]}" --out "$work/four" --set train.max_iters=10 \
  --set dist.expert_parallel=2 > "$work/four.log" 2>&1 || fail "4 processes: $(tail -5 "$work/four.log")"
cp -a "$work/four" "$work/four_b"
# the 4-process checkpoint evaluates on one process like the one-process checkpoint of step 10
a="$("$moelab" eval "$work/four" --batches 4 | sed -E 's/.*: loss ([0-9.]+).*/\1/')"
b="$("$moelab" eval "$work/one/checkpoints/step_00000010" --batches 4 | sed -E 's/.*: loss ([0-9.]+).*/\1/')"
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * b) }' ||
  fail "eval of the 4-process checkpoint: $a, of the one-process one: $b"
echo "eval at step 10: 4-process checkpoint $a, one-process $b"
# resumed on 1 process, and on 2 (expert parallel 2), both continue as the straight run did
train --out "$work/four" --set train.max_iters=20 --resume > "$work/resume1.log" 2>&1 ||
  fail "resume on 1 process: $(tail -3 "$work/resume1.log")"
"$compare" "$work/one" "$work/four" || fail "resumed on 1 process: differs from the straight run"
mpirun -np 2 "$moelab" train "$root/configs/default.json" "${args[@]}" --out "$work/four_b" --set train.max_iters=20 \
  --set dist.expert_parallel=2 --resume > "$work/resume2.log" 2>&1 || fail "resume on 2 processes: $(tail -5 "$work/resume2.log")"
"$compare" "$work/one" "$work/four_b" || fail "resumed on 2 processes: differs from the straight run"
echo "4 -> 1 and 4 -> 2 processes: equal to one process trained straight through"
