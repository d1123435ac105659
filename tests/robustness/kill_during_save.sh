#!/usr/bin/env bash
# kill -9 at random moments of a run that checkpoints every step (so most kills land inside a
# save): after each kill the run folder must load (eval), its files must be from one checkpoint,
# and --resume must carry on from it. Counts how many kills hit a save in progress.
set -euo pipefail
moelab="$1"; rounds="${2:-25}"
source "$(dirname "$0")/common.sh"
out="$work/run"
train_tiny "$out" 5 > "$work/first.log" 2>&1 || fail "first run: $(tail -3 "$work/first.log")"
RANDOM=7
mid_save=0; last_step=5
for r in $(seq 1 "$rounds"); do
  # effectively endless; keep_checkpoints 2 makes pruning part of what gets interrupted
  # (moelab itself, not a shell function, so that $! is the process the kill hits)
  "$moelab" train "$root/configs/default.json" --out "$out" "${tiny[@]}" --resume --set train.max_iters=1000000 \
    --set optim.lr_decay_iters=1000000 --set train.eval_interval=1000000 --set train.checkpoint_interval=1 \
    --set train.keep_checkpoints=2 > "$work/r$r.log" 2>&1 &
  pid=$!
  # once it trains (slow starts under sanitizers or load must not turn into kills before any save),
  # a random 0-0.4 s more: with a save after every step most kills land inside one
  for _ in $(seq 1 600); do grep -q "loss" "$work/r$r.log" && break; sleep 0.05; done
  sleep "0.$(( RANDOM % 40 ))"
  kill -9 "$pid" 2>/dev/null || fail "round $r: the run ended by itself: $(tail -3 "$work/r$r.log")"
  wait "$pid" 2>/dev/null || true
  ls -a "$out/checkpoints" | grep -q '^\.moelab-tmp\.' && mid_save=$((mid_save + 1))
  "$moelab" eval "$out" --batches 1 > "$work/eval$r.log" 2>&1 || fail "round $r: the run folder does not load: $(cat "$work/eval$r.log")"
  step=$(sed -n 's/^  "step": \([0-9]*\),$/\1/p' "$out/model.json")
  [ -n "$step" ] || fail "round $r: no step in model.json"
  [ "$step" -ge "$last_step" ] || fail "round $r: the checkpoint went back from step $last_step to $step"
  # the top-level names go through latest, and latest's files are from one checkpoint
  for f in model.safetensors model.json optimizer.safetensors; do
    [ "$(readlink "$out/$f")" = "latest/$f" ] || fail "round $r: $f is not a link to latest/$f"
  done
  for f in model.safetensors optimizer.safetensors; do
    at=$(head -c 65536 "$out/latest/$f" | grep -ao '"checkpoint_step":"[0-9]*"' | grep -o '[0-9]*')
    [ "$at" = "$step" ] || fail "round $r: latest/$f is from step '$at', latest/model.json from step $step"
  done
  last_step=$step
done
echo "$rounds kills, $mid_save inside a checkpoint save; checkpoint advanced to step $last_step"
[ "$last_step" -gt 5 ] || fail "no progress: every kill came before the first new checkpoint"
[ "$mid_save" -gt 0 ] || fail "no kill landed inside a save: the test did not exercise what it is for"
# the survivor resumes and finishes
target=$((last_step + 3))
train_tiny "$out" "$target" --resume > "$work/final.log" 2>&1 || fail "final resume: $(tail -3 "$work/final.log")"
grep -q "\"step\": $target," "$out/model.json" || fail "final resume did not reach step $target"
echo "resumed from step $last_step to $target: ok"
# what the kills left (temp folders, half-pruned folders, temp links) is gone after that run
left="$(ls -A "$out" "$out/checkpoints" | grep -E '^\.moelab-(tmp|pruned)\.' || true)"
[ -z "$left" ] || fail "temp entries left behind after a clean run: $left"
echo "no temp entries left: ok"
