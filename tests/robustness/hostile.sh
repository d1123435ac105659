#!/usr/bin/env bash
# What a careless user or a hostile file does to moelab, one case per call (CTest runs each as its
# own test, tests/CMakeLists.txt lists them). Every case asserts the exit code (an error is 1..125,
# never a crash or a signal), the message, and that files that existed before are byte-identical
# (an earlier run, and a folder of the user's files whose names look like moelab's temp files).
# Usage: hostile.sh MOELAB CASE
set -uo pipefail
moelab="$1"; case_name="$2"
source "$(dirname "$0")/common.sh"
keep="$work/keep"
train_tiny "$keep" 3 > "$work/keep.log" 2>&1 || fail "fixture run: $(tail -3 "$work/keep.log")"
user="$work/user"   # the user's own files, some named like moelab's old temp names
mkdir -p "$user/checkpoints/.tmp-step_00000001-99" "$user/x.tmp.1"
echo "mine" > "$user/notes.txt"; echo "mine" > "$user/data.tmp.123"; echo "mine" > "$user/.tmp-keep"
echo "mine" > "$user/checkpoints/.tmp-step_00000001-99/model.json"; echo "mine" > "$user/x.tmp.1/inner"
echo "mine" > "$user/checkpoints/mine.tmp.7"
snapshot() {  # every file and link under the earlier run and the user's folder, with its bytes
  (cd "$work" && find keep user -name .lock -prune -o \( -type f -o -type l \) -print0 | sort -z |
     while IFS= read -r -d '' f; do
       if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(sha256sum < "$f" | cut -c1-16)"; fi
     done)
}
before="$(snapshot)"

tiny_run() { train_tiny "$1" 3 "${@:2}"; }  # OUT [more args]: a 3-step run

case "$case_name" in
  # 1. data loss: a run into a folder of the user's, failing and then succeeding, removes nothing of theirs
  out_dir_with_user_files)
    expect "data: .*no/such\.txt does not exist" tiny_run "$user" --set data.train="$work/no/such.txt"
    succeed tiny_run "$user"
    [ -f "$user/model.json" ] || fail "the successful run wrote no checkpoint"
    before="$(snapshot | grep -v '^user/\(checkpoints/step_\|latest\|model\|optimizer\|metrics\)')" ;;
  out_dot)
    expect "data: .*does not exist" bash -c "cd '$user' && '$moelab' train '$root/configs/default.json' --out . \
      ${tiny[*]} --set train.max_iters=3 --set data.train=nothing.txt"
    succeed bash -c "cd '$user' && '$moelab' train '$root/configs/default.json' --out . ${tiny[*]} --set train.max_iters=3 \
      --set train.eval_interval=3 --set optim.lr_decay_iters=3"
    before="$(snapshot | grep -v '^user/\(checkpoints/step_\|latest\|model\|optimizer\|metrics\)')" ;;
  expand_into_user_folder)
    succeed "$moelab" expand "$keep" --add-experts 1 --out "$user"
    before="$(snapshot | grep -v '^user/\(checkpoints/step_\|latest\|model\|optimizer\|metrics\)')" ;;
  # 2. links and devices: a link is followed (the file it names is replaced), a device is refused
  report_out_symlink)
    echo "old" > "$work/real.html"; ln -s real.html "$work/link.html"
    succeed "$moelab" report "$keep" --out "$work/link.html"
    [ -L "$work/link.html" ] || fail "the link was replaced by a file"
    grep -q "<html" "$work/real.html" || fail "the file the link names was not written" ;;
  grads_out_device)
    expect "eval.*/dev/null is a character device.*will not replace it" "$moelab" eval "$keep" --batches 1 \
      --grads-out /dev/null
    [ -c /dev/null ] || fail "/dev/null is no longer a character device" ;;
  dump_tokens_full)
    expect "/dev/full is a character device" "$moelab" eval "$keep" --batches 1 --dump-tokens /dev/full ;;
  metrics_is_fifo)
    mkfifo "$keep/metrics.jsonl.fifo"; mv "$keep/metrics.jsonl" "$work/metrics.saved"; mv "$keep/metrics.jsonl.fifo" "$keep/metrics.jsonl"
    before="$(snapshot)"
    expect "metrics\.jsonl is a FIFO" train_tiny "$keep" 5 --resume ;;
  lock_is_symlink)
    rm -f "$keep/.lock"; ln -s "$user/notes.txt" "$keep/.lock"
    expect "\.lock.*symbolic link" train_tiny "$keep" 5 --resume ;;
  # 3. whatever is thrown: a clear message and exit 1
  symlink_loop_data)
    ln -s loop "$work/loop"
    expect "data: .*loop: Too many levels of symbolic links" tiny_run "$work/new" --set data.train="$work/loop" ;;
  symlink_loop_checkpoint)
    ln -s loop "$work/loop"
    expect "checkpoint: .*loop: Too many levels of symbolic links" "$moelab" eval "$work/loop" ;;
  symlink_loop_in_data_folder)
    mkdir "$work/data"; cp "$corpus" "$work/data/text.txt"; ln -s loop "$work/data/loop"
    succeed tiny_run "$work/new" --set data.train="$work/data" ;;
  non_utf8_file_name)
    mkdir "$work/data"; cp "$corpus" "$work/data/$(printf 'caf\xe9.txt')"
    succeed tiny_run "$work/new" --set data.train="$work/data"
    grep -q '"domains":\["caf\\ufffd.txt"\]\|"domains":\["caf�.txt"\]' "$work/new/metrics.jsonl" ||
      fail "the start row does not name the file: $(head -c 300 "$work/new/metrics.jsonl")" ;;
  report_string_number)
    mkdir "$work/r"; printf '%s\n' '{"event":"start","step":0,"num_experts":"eight","moe_layers":[1]}' \
      '{"step":10,"loss":"2.5"}' '{"step":20,"loss":2.4,"moe":{"h1":{"cv":"high"}}}' '{"step":30,"loss":2.3}' \
      > "$work/r/metrics.jsonl"
    succeed "$moelab" report "$work/r" --out "$work/r.html"
    grep -q '"num_experts" is a string, expected an integer' "$work/out.txt" || fail "no warning: $(cat "$work/out.txt")"
    grep -q '3 unreadable line(s) skipped' "$work/out.txt" || fail "$(cat "$work/out.txt")" ;;
  # 4. untrusted numbers never size an allocation
  report_huge_experts)
    mkdir "$work/r"; printf '%s\n' '{"event":"start","step":0,"num_experts":2e7,"moe_layers":[1]}' '{"step":1,"loss":1}' \
      > "$work/r/metrics.jsonl"
    succeed "$moelab" report "$work/r" --out "$work/r.html"
    grep -Eq '"num_experts" is (2e\+07|20000000(\.0)?), expected an integer in \[0, 65536\]' "$work/out.txt" ||
      fail "$(cat "$work/out.txt")" ;;
  batch_size_huge)
    expect "train\.batch_size 2000000000 x model\.block_size 16: .*this machine has" tiny_run "$work/new" \
      --set train.batch_size=2000000000 ;;
  eval_iters_huge)
    expect "4000000000 fixed eval batches .*this machine has" tiny_run "$work/new" --set train.eval_iters=2000000000 ;;
  bench_n_embd_huge)
    expect "model: n_layer 2, n_embd 1000000, .*this machine has" "$moelab" bench model "$root/configs/default.json" \
      "${tiny[@]}" --set model.n_embd=1000000 --set model.n_head=1 ;;
  bench_vocab_huge)
    expect "vocab 2000000000 .*this machine has" "$moelab" bench model "$root/configs/default.json" "${tiny[@]}" \
      --vocab 2000000000 ;;
  expand_add_experts_huge)
    expect "this machine has" "$moelab" expand "$keep" --add-experts 2147483643 --out "$work/big"
    expect "expand --add-experts: 2147483647 more than layer 1's 4 experts is more than 2147483647" \
      "$moelab" expand "$keep" --add-experts 2147483647 --out "$work/big"
    [ ! -e "$work/big/model.json" ] || fail "a checkpoint was written" ;;
  expand_to_moe_huge)
    train_tiny "$work/dense" 2 --set model.moe=null > /dev/null 2>&1 || fail "dense fixture"
    expect "this machine has" "$moelab" expand "$work/dense" --to-moe 2147483647 --out "$work/big" ;;
  data_dev_zero)
    expect "data: /dev/zero is a character device" tiny_run "$work/new" --set data.train=/dev/zero ;;
  # 5. overflow: huge counts and factors are range-checked, never wrapped
  bench_warmup_huge)
    expect "bench model: --warmup 2147483647 is more than 1000000" "$moelab" bench model "$root/configs/default.json" \
      "${tiny[@]}" --warmup 2147483647 ;;
  capacity_factor_huge)
    succeed tiny_run "$work/new" --set model.moe.capacity.factor=1e18
    grep -q '"drop_frac":0.0' "$work/new/metrics.jsonl" || fail "a factor of 1e18 dropped tokens (capacity wrapped)"
    succeed tiny_run "$work/ec" --set model.moe.router.type=expert_choice --set model.moe.router.ec_factor=1e300 ;;
  # 6. silent wrong results
  lr_huge)
    expect "(diverged|consecutive steps with a non-finite loss)" tiny_run "$work/new" --set optim.lr=1e30 \
      --set train.checkpoint_interval=1
    [ ! -e "$work/new/model.json" ] || fail "a checkpoint of a diverged model was published" ;;
  resume_changed_model)
    expect "--resume: model\.n_head is 2 in the checkpoint but 4 in this config" train_tiny "$keep" 5 --resume \
      --set model.n_head=4
    expect "--resume: model\.ffn\.activation is \"gelu\" in the checkpoint but \"relu\"" train_tiny "$keep" 5 --resume \
      --set model.ffn.activation=relu
    expect "--resume: model\.moe\.router\.type is \"topk\" in the checkpoint but \"soft\"" train_tiny "$keep" 5 --resume \
      --set model.moe.router.type=soft
    expect "--resume: data\.tokenizer is \"char\" in the checkpoint but \"byte\"" train_tiny "$keep" 5 --resume \
      --set data.tokenizer=byte ;;
  teacher_other_vocab)
    # the same number of characters, other characters: "b" where the corpus has "a"
    tr 'a' '{' < "$corpus" > "$work/other.txt"
    train_tiny "$work/teacher" 2 --set data.train="$work/other.txt" > /dev/null 2>&1 || fail "teacher fixture"
    expect "lifelong\.teacher: .*teacher has another vocabulary than the student .* not the same characters" \
      tiny_run "$work/new" --set lifelong.init_from="$keep" --set lifelong.teacher="$work/teacher" \
      --set lifelong.kl_weight=0.5 --set lifelong.freeze_old_experts=false --set lifelong.freeze_old_router_rows=false ;;
  expand_into_own_run)
    expect "expand: --out .*keep is the run folder of .*keep" "$moelab" expand "$keep" --add-experts 1 --out "$keep"
    expect "is the run folder of" "$moelab" expand "$keep/model.safetensors" --add-experts 1 --out "$keep/" ;;
  too_many_domains)
    mkdir "$work/many"; (cd "$work/many" && seq -f "f%05g" 1 65536 | xargs touch) && echo "text" > "$work/many/f00001"
    expect "data: 65536 files; at most 65535" tiny_run "$work/new" --set data.train="$work/many" ;;
  # 7. hangs and poor messages
  data_fifo)
    mkfifo "$work/fifo"
    expect "data: .*fifo is a FIFO" tiny_run "$work/new" --set data.train="$work/fifo" ;;
  config_fifo)
    mkfifo "$work/fifo.json"
    expect "config: .*fifo\.json is a FIFO" "$moelab" train "$work/fifo.json" ;;
  base_loops_to_itself)
    echo '{"base": "./self.json"}' > "$work/self.json"
    expect "self\.json: the \"base\" chain loops back to a file already in it" "$moelab" train "$work/self.json"
    [ "$(wc -c < "$work/out.txt")" -lt 400 ] || fail "the message is $(wc -c < "$work/out.txt") bytes long" ;;
  duplicate_keys)
    echo '{"model": {"n_layer": 2, "n_layer": 3}}' > "$work/dup.json"
    expect "config: .*dup\.json: duplicate key \"n_layer\"" "$moelab" train "$work/dup.json"
    expect "--set model: duplicate key \"n_head\"" tiny_run "$work/new" --set 'model={"n_head": 2, "n_head": 4}' ;;
  generate_seed_negative)
    expect "--seed: expected a whole number >= 0, got -1" "$moelab" generate "$keep" --seed -1 ;;
  generate_streams)
    # interrupted after a second, the text sampled so far has been printed already
    timeout -s INT 1.5 "$moelab" generate "$keep" --prompt "line" --tokens 100000000 > "$work/gen.txt" 2> /dev/null
    [ "$(head -c 4 "$work/gen.txt")" = "line" ] || fail "the prompt was not printed first"
    [ "$(wc -c < "$work/gen.txt")" -gt 20 ] || fail "only $(wc -c < "$work/gen.txt") bytes printed before the interrupt" ;;
  stdout_full)
    expect "cannot write to standard output" bash -c "'$moelab' generate '$keep' --tokens 5 > /dev/full" ;;
  checkpoints_is_a_file)
    mkdir "$work/new"; echo "mine" > "$work/new/checkpoints"
    expect "train\.out_dir: .*new/checkpoints is not a folder" tiny_run "$work/new"
    [ "$(cat "$work/new/checkpoints")" = "mine" ] || fail "the file was changed"
    [ ! -e "$work/new/metrics.jsonl" ] || [ ! -s "$work/new/metrics.jsonl" ] || fail "training started" ;;
  *) fail "unknown case $case_name" ;;
esac
after="$(snapshot)"
if [[ "$case_name" =~ ^(out_dir_with_user_files|out_dot|expand_into_user_folder)$ ]]; then
  after="$(echo "$after" | grep -v '^user/\(checkpoints/step_\|latest\|model\|optimizer\|metrics\)')"
fi
[ "$before" = "$after" ] || fail "files that existed before changed: $(diff <(echo "$before") <(echo "$after") | head -5)"
echo "pre-existing files byte-identical"
