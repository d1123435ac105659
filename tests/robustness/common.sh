# Shared by the robustness scripts: a tiny MoE model on a generated corpus, so each CLI run takes
# well under a second. Source it after setting `moelab` (the binary); it makes `work` (a temp
# folder removed on exit) unless the caller already has one.
if [ -z "${work:-}" ]; then
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2> /dev/null; rm -rf "$work"' EXIT
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
corpus="$work/corpus.txt"
if [ ! -f "$corpus" ]; then
  for i in $(seq 1 300); do echo "line $i: the quick brown fox jumps over the lazy dog, $((i * 7919 % 1000))."; done > "$corpus"
fi
tiny=(--set data.train="$corpus" --set model.n_layer=2 --set model.n_embd=32 --set model.n_head=2
      --set model.block_size=16 --set model.moe.num_experts=4 --set train.batch_size=4
      --set train.eval_iters=2 --set train.log_interval=1 --set train.threads=1
      --set optim.warmup_iters=0)
train_tiny() {  # OUT_DIR MAX_ITERS [more args]
  local out="$1" iters="$2"; shift 2
  "$moelab" train "$root/configs/default.json" --out "$out" "${tiny[@]}" --set train.max_iters="$iters" \
    --set train.eval_interval="$iters" --set optim.lr_decay_iters="$iters" "$@"
}
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect REGEX CMD...: CMD must fail with exit code 1..125 (an error, not a crash or a signal) and print
# REGEX (extended) on stderr/stdout. A hang is caught by CTest's timeout.
expect() {
  local want="$1"; shift
  "$@" > "$work/out.txt" 2>&1
  local rc=$?
  [ "$rc" -ne 0 ] || fail "exit 0, expected an error; output: $(tail -5 "$work/out.txt")"
  [ "$rc" -lt 126 ] || fail "exit $rc (a crash or a signal, not an error); output: $(tail -5 "$work/out.txt")"
  grep -Eq -- "$want" "$work/out.txt" || fail "message does not match /$want/: $(tail -5 "$work/out.txt")"
  echo "ok (exit $rc): $(grep -E -- "$want" "$work/out.txt" | head -1 | cut -c1-400)"
}
# succeed CMD...: CMD must exit 0
succeed() {
  "$@" > "$work/out.txt" 2>&1 || fail "exit $?, expected success: $(tail -5 "$work/out.txt")"
}
