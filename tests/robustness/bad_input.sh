#!/usr/bin/env bash
# One bad input per call (CTest runs each case as its own test): the command must exit non-zero
# (an error, not a crash), print a message naming the culprit, and leave an earlier run's
# checkpoint byte-for-byte intact and loadable.
# Usage: bad_input.sh MOELAB CASE
set -uo pipefail
moelab="$1"; case_name="$2"
source "$(dirname "$0")/common.sh"
keep="$work/keep"
train_tiny "$keep" 3 > "$work/keep.log" 2>&1 || fail "fixture run: $(tail -3 "$work/keep.log")"
snapshot() { (cd "$keep" && find -L . -type f ! -name .lock -print0 | sort -z | xargs -0 sha256sum); }
before="$(snapshot)"

as_nobody() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; else "$@"; fi; }

case "$case_name" in
  empty_data)
    : > "$work/empty.txt"
    expect "data: .*empty\.txt is empty" train_tiny "$keep" 5 --resume --set data.train="$work/empty.txt" ;;
  tiny_data)
    printf 'hello' > "$work/tiny.txt"
    expect "training split has 5 tokens \(from .*tiny\.txt\), fewer than one block of 17" train_tiny "$work/new" 5 --set data.train="$work/tiny.txt" ;;
  non_utf8)
    { cat "$corpus"; printf 'caf\xe9 \xff\xfe\n'; } > "$work/latin1.txt"
    expect "latin1\.txt: invalid UTF-8 at byte [0-9]+ \(line 301" train_tiny "$work/new" 5 --set data.train="$work/latin1.txt" ;;
  missing_data)
    expect "no/such/file\.txt" train_tiny "$work/new" 5 --set data.train="$work/no/such/file.txt" ;;
  unreadable_data)
    cp "$corpus" "$work/secret.txt"; chmod 000 "$work/secret.txt"; chmod a+rx "$work"
    chmod -R a+rX "$work/keep"
    expect "secret\.txt" as_nobody "$moelab" train "$root/configs/default.json" "${tiny[@]}" \
      --set data.train="$work/secret.txt" --out "$work/new" ;;
  out_dir_is_file)
    echo "not a folder" > "$work/file"
    expect "out_dir.*file.*not a folder" train_tiny "$work/file" 5
    grep -q "not a folder" "$work/file" || fail "the file was changed" ;;
  out_dir_not_writable)
    mkdir "$work/ro"; chmod 555 "$work/ro"; chmod a+rx "$work"; chmod a+r "$corpus"
    expect "ro/sub" as_nobody "$moelab" train "$root/configs/default.json" "${tiny[@]}" --out "$work/ro/sub" ;;
  full_disk)
    # a 1 MiB tmpfs in a private mount namespace, filled up after a first checkpoint
    command -v unshare > /dev/null || { echo "SKIP: unshare missing"; exit 77; }
    unshare -rm true 2> /dev/null || { echo "SKIP: no user/mount namespaces here"; exit 77; }
    expect "checkpoint: cannot save step 6 .*No space left on device \(the previous checkpoint is kept\)" unshare -rm bash -c '
      work="$1"; moelab="$2"; source "$0"; mkdir -p "$work/small"; mount -t tmpfs -o size=1m tmpfs "$work/small"
      "$2" train "$3/configs/default.json" "${tiny[@]}" --set train.max_iters=3 --set optim.lr_decay_iters=3 \
        --set train.eval_interval=3 --out "$1/small/run" > /dev/null || { echo "SETUP FAILED"; exit 97; }
      [ -f "$1/small/run/latest/model.safetensors" ] || { echo "SETUP FAILED: no first checkpoint"; exit 97; }
      sha256sum "$1/small/run/latest/"* > "$1/small.sums"
      # full but for 128 KiB: enough for the log, not for a checkpoint (about 640 KB)
      dd if=/dev/zero of="$1/small/pad" bs=128k count=1 2> /dev/null
      dd if=/dev/zero of="$1/small/filler" bs=4k 2> /dev/null || true
      rm "$1/small/pad"
      set +e
      "$2" train "$3/configs/default.json" "${tiny[@]}" --set train.max_iters=6 --set optim.lr_decay_iters=6 \
        --set train.eval_interval=6 --out "$1/small/run" --resume; rc=$?
      rm -f "$1/small/filler"
      sha256sum -c --quiet "$1/small.sums" || { echo "CHECKPOINT CHANGED"; exit 99; }
      "$2" eval "$1/small/run" --batches 1 > /dev/null || { echo "CHECKPOINT UNLOADABLE"; exit 98; }
      exit $rc' "$(dirname "$0")/common.sh" "$work" "$moelab" "$root"
    if grep -qE "CHECKPOINT|SETUP" "$work/out.txt"; then fail "$(cat "$work/out.txt")"; fi ;;
  zero_layers)
    expect "model\.n_layer.*>= 1" train_tiny "$keep" 5 --resume --set model.n_layer=0 ;;
  heads_not_dividing)
    expect "model\.n_embd.*divisible.*n_head|model\.n_head.*divid" train_tiny "$keep" 5 --resume --set model.n_head=3 ;;
  topk_above_experts)
    expect "model\.moe\.top_k" train_tiny "$keep" 5 --resume --set model.moe.top_k=5 ;;
  negative_capacity)
    expect "model\.moe\.capacity\.factor" train_tiny "$keep" 5 --resume --set model.moe.capacity.factor=-1 ;;
  nonpositive_lr)
    expect "optim\.lr.*> 0" train_tiny "$keep" 5 --resume --set optim.lr=0 ;;
  model_too_big)
    # a typo-sized model (770 TB of parameters and AdamW state) is refused before any allocation
    expect "model: n_layer 2, n_embd 1000000, .* parameters, which need .* [kMGT]B .*; this machine has" \
      train_tiny "$work/new" 5 --set model.n_embd=1000000
    [ ! -e "$work/new" ] || fail "the run folder was created" ;;
  prompt_unknown_char)
    expect "character 'é' \(U\+00E9\) at character 3 is not in the model's vocabulary" \
      "$moelab" generate "$keep" --prompt "caé" --tokens 5 ;;
  cli_unknown_flag)
    expect "--bogus" "$moelab" train "$root/configs/default.json" --bogus ;;
  cli_missing_config)
    expect "config.*required|required.*config" "$moelab" train ;;
  cli_bad_set)
    expect "--set.*model\.n_layer.*key\.path=value|key\.path=value.*model\.n_layer" \
      "$moelab" train "$root/configs/default.json" --set model.n_layer ;;
  cli_bad_number)
    expect "--tokens: expected a whole number >= 0, got 'abc'" "$moelab" generate "$keep" --tokens abc ;;
  cli_unknown_command)
    expect "frobnicate" "$moelab" frobnicate ;;
  resume_without_checkpoint)
    mkdir "$work/emptyrun"
    expect "--resume: no checkpoint in .*emptyrun" train_tiny "$work/emptyrun" 5 --resume ;;
  truncated_checkpoint)
    cp -rL "$keep" "$work/cut"; rm -rf "$work/cut/latest" "$work/cut/checkpoints"
    [ ! -e "$work/cut/latest" ] || fail "setup: latest still there"
    truncate -s 1000 "$work/cut/model.safetensors"
    expect "cut/model\.safetensors.*(truncated|short|size)" "$moelab" eval "$work/cut" ;;
  prepare_foreign_out)
    mkdir -p "$work/mine"; echo "my notes" > "$work/mine/notes.txt"
    expect "prepare --out: .*mine holds notes\.txt, which moelab prepare did not write" \
      "$moelab" prepare "$corpus" --tokenizer char --out "$work/mine"
    [ "$(ls "$work/mine")" = notes.txt ] && grep -q "my notes" "$work/mine/notes.txt" || fail "the folder was changed" ;;
  truncated_shard)
    succeed "$moelab" prepare "$corpus" --tokenizer char --out "$work/shards"
    truncate -s -7 "$work/shards/corpus_train_000001.bin"
    expect "corpus_train_000001\.bin is truncated: the header says [0-9]+ tokens" \
      train_tiny "$work/new" 5 --set data.train="$work/shards" ;;
  shard_token_above_vocab)
    mkdir -p "$work/bad"; echo '{"type": "byte"}' > "$work/bad/tokenizer.json"
    # an llm.c header (magic, version, 64 tokens), then the ids 300, 65, 65, ... (perl-base is always there)
    perl -e 'print pack("l<*", 20240520, 1, 64, (0) x 253), pack("S<*", 300, (65) x 63)' > "$work/bad/x_train_000001.bin"
    cp "$work/bad/x_train_000001.bin" "$work/bad/x_val_000000.bin"
    expect "token 300 in .*x_(train_000001|val_000000)\.bin at byte 1024 is not below the vocabulary size 256" \
      train_tiny "$work/new" 5 --set data.train="$work/bad" --set model.block_size=63 ;;
  vocab_mismatch)
    # the resumed run keeps its checkpoint's tokenizer; this text has characters it never saw
    for i in $(seq 1 40); do echo "QUICK BROWN FOX $i"; done > "$work/other.txt"
    expect "other\.txt: character 'Q' \(U\+0051\) at character 1 is not in the model's vocabulary" \
      train_tiny "$keep" 5 --resume --set data.train="$work/other.txt" ;;
  run_dir_in_use)
    "$moelab" train "$root/configs/default.json" --out "$keep" "${tiny[@]}" --resume --set train.max_iters=100000000 \
      --set optim.lr_decay_iters=100000000 --set train.eval_interval=100000000 > "$work/busy.log" 2>&1 &
    busy=$!
    trap 'kill -9 "$busy" 2> /dev/null; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
    # wait until it trains (its signal handlers are installed by then)
    for _ in $(seq 1 600); do grep -q "loss" "$work/busy.log" && break; sleep 0.1; done
    grep -q "loss" "$work/busy.log" || fail "the first run did not start training within 60 s: $(tail -3 "$work/busy.log")"
    expect "in use by another moelab process" train_tiny "$keep" 5 --resume
    kill -INT "$busy"; wait "$busy" || fail "the interrupted run did not exit 0"
    before="$(snapshot)" ;;  # the first run legitimately saved on SIGINT
  *) fail "unknown case $case_name" ;;
esac
after="$(snapshot)"
[ "$before" = "$after" ] || fail "the earlier checkpoint changed: $(diff <(echo "$before") <(echo "$after") | head -5)"
"$moelab" eval "$keep" --batches 1 > /dev/null 2>&1 || fail "the earlier checkpoint no longer loads"
echo "earlier checkpoint intact"
