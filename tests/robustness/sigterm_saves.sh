#!/usr/bin/env bash
# SIGTERM (and SIGINT) while `moelab train` runs: the step in flight finishes, a checkpoint is saved
# at that step, the process says how to continue and exits 0; --resume then carries on from it.
set -euo pipefail
moelab="$1"
source "$(dirname "$0")/common.sh"
for sig in TERM INT; do
  out="$work/run_$sig"
  "$moelab" train "$root/configs/default.json" --out "$out" "${tiny[@]}" --set train.max_iters=1000000 \
    --set optim.lr_decay_iters=1000000 --set train.eval_interval=1000000 > "$work/$sig.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do grep -q "loss" "$work/$sig.log" && break; sleep 0.05; done
  grep -q "loss" "$work/$sig.log" || fail "SIG$sig: the run did not start training: $(tail -3 "$work/$sig.log")"
  sleep 0.3
  kill -"$sig" "$pid"
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "SIG$sig: exit code $rc, expected 0: $(tail -3 "$work/$sig.log")"
  num=$(kill -l "$sig")
  line="$(grep -E "interrupted by signal $num after step [0-9]+: checkpoint saved in .*; continue with --resume" \
          "$work/$sig.log")" || fail "SIG$sig: no 'interrupted' message: $(tail -3 "$work/$sig.log")"
  step=$(echo "$line" | sed -E 's/.*after step ([0-9]+).*/\1/')
  saved=$(sed -n 's/^  "step": \([0-9]*\),$/\1/p' "$out/model.json")
  [ "$saved" = "$step" ] || fail "SIG$sig: the checkpoint is at step '$saved', the message says $step"
  [ -f "$out/optimizer.safetensors" ] || fail "SIG$sig: no optimizer state saved"
  echo "SIG$sig: saved at step $step, exit 0"
  train_tiny "$out" $((step + 2)) --resume > "$work/$sig.resume.log" 2>&1 ||
    fail "SIG$sig: resume failed: $(tail -3 "$work/$sig.resume.log")"
  grep -q "\"step\": $((step + 2))," "$out/model.json" || fail "SIG$sig: the resume did not reach step $((step + 2))"
  echo "SIG$sig: resumed to step $((step + 2))"
done
