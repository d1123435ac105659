#!/usr/bin/env bash
# A distributed run's faults: one process killed (kill -9) while training (rank 1) and while saving
# (rank 0, the writer, with a checkpoint every step) makes every process exit non-zero within
# seconds, with mpirun naming the rank; the run folder then loads and --resume continues. A process
# whose config differs is refused at start, the rank named.
# Usage: faults.sh MOELAB CASE   (CASE: kill_training | kill_saving | mismatched_config)
set -uo pipefail
moelab="$1"; case_name="$2"
source "$(dirname "$0")/../robustness/common.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
out="$work/run"
args=("${tiny[@]}" --set train.batch_size=8 --set optim.lr_decay_iters=1000000 --set train.eval_interval=1000000)
mpirun -np 2 "$moelab" train "$root/configs/default.json" "${args[@]}" --out "$out" --set train.max_iters=4 \
  --set dist.expert_parallel=2 > "$work/first.log" 2>&1 || fail "first run: $(tail -5 "$work/first.log")"

kill_one() {  # CHECKPOINT_INTERVAL RANK: start a long run on 2 processes, kill -9 RANK once it trains
  mpirun -np 2 "$moelab" train "$root/configs/default.json" "${args[@]}" --out "$out" --set train.max_iters=100000000 \
    --set dist.expert_parallel=2 --set train.checkpoint_interval="$1" --resume > "$work/run.log" 2>&1 &
  local launcher=$!
  for _ in $(seq 1 600); do grep -q "loss" "$work/run.log" && break; sleep 0.05; done
  grep -q "loss" "$work/run.log" || fail "the run did not start training: $(tail -5 "$work/run.log")"
  sleep "0.$((RANDOM % 5))"
  local victim="" pid
  for pid in $(pgrep -P "$launcher" -f "moelab train"); do
    tr '\0' '\n' < "/proc/$pid/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$2" && victim=$pid
  done
  [ -n "$victim" ] || fail "no moelab process of rank $2 under mpirun"
  local t0=$SECONDS
  kill -9 "$victim"
  local rc=0
  wait "$launcher" || rc=$?
  [ "$rc" -ne 0 ] || fail "mpirun exited 0 after a process was killed"
  [ $((SECONDS - t0)) -le 20 ] || fail "the other process took $((SECONDS - t0)) s to end"
  grep -Eq "rank $2 .*(exited on signal 9|Killed)" "$work/run.log" ||
    fail "no message naming the killed rank: $(tail -5 "$work/run.log")"
  pgrep -f "moelab train .*$out" > /dev/null && fail "a moelab process is still running"
  echo "killed rank $2 (pid $victim): mpirun exit $rc after $((SECONDS - t0)) s: $(grep -Eo "rank $2 [^.]*" "$work/run.log" | head -1)"
}

resumes() {  # the folder loads and the run continues
  "$moelab" eval "$out" --batches 1 > "$work/eval.log" 2>&1 || fail "the run folder does not load: $(cat "$work/eval.log")"
  local step
  step=$(sed -n 's/^  "step": \([0-9]*\),$/\1/p' "$out/model.json")
  mpirun -np 2 "$moelab" train "$root/configs/default.json" "${args[@]}" --out "$out" --set train.max_iters=$((step + 2)) \
    --set dist.expert_parallel=2 --resume > "$work/resume.log" 2>&1 || fail "resume: $(tail -5 "$work/resume.log")"
  grep -q "\"step\": $((step + 2))," "$out/model.json" || fail "the resume did not reach step $((step + 2))"
  echo "the folder loads (step $step) and --resume continues to step $((step + 2))"
}

case "$case_name" in
  kill_training) kill_one 1000000 1; resumes ;;
  kill_saving) kill_one 1 0; resumes ;;  # the writer, saving every step: most kills land inside a save
  mismatched_config)
    mpirun -np 1 "$moelab" train "$root/configs/default.json" "${args[@]}" --out "$work/mm" --set train.max_iters=3 \
      --set train.seed=1 : -np 1 "$moelab" train "$root/configs/default.json" "${args[@]}" --out "$work/mm" \
      --set train.max_iters=3 --set train.seed=2 > "$work/mm.log" 2>&1
    rc=$?
    [ "$rc" -ne 0 ] || fail "mpirun exited 0 with different configs"
    grep -q "rank 1's config or data differs from rank 0's" "$work/mm.log" || fail "no message: $(tail -5 "$work/mm.log")"
    [ ! -e "$work/mm/model.json" ] || fail "a checkpoint was written"
    echo "refused (exit $rc): $(grep -o "rank 1's config or data differs[^:]*" "$work/mm.log" | head -1)" ;;
  *) fail "unknown case $case_name" ;;
esac
