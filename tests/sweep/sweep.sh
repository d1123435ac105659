#!/usr/bin/env bash
# moelab sweep end to end (usage: sweep.sh MOELAB): 2 points x 2 seeds of a tiny model, 2 at once;
# the aggregate table; a second call runs nothing; a run whose marker is gone but whose checkpoint is
# there is resumed, not restarted; SIGTERM stops the sweep, its runs save a checkpoint, and the next
# call continues them; a typo in a point fails before any run starts.
set -euo pipefail
moelab="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
for i in $(seq 400); do echo "line $i of a tiny corpus for the sweep test"; done > data.txt
cat > base.json <<JSON
{"model": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16,
           "moe": {"num_experts": 4, "top_k": 2, "every": 2, "router": {"type": "topk", "renorm": true}}},
 "data": {"train": "$work/data.txt"},
 "train": {"batch_size": 4, "max_iters": 30, "eval_interval": 15, "eval_iters": 2, "log_interval": 5,
           "checkpoint_interval": 10}}
JSON
cat > sweep.json <<JSON
{"base": "base.json", "grid": {"model.moe.loss.switch": [0, 0.01]}, "seeds": [1, 2], "out": "out"}
JSON
fail() { echo "FAIL: $*"; exit 1; }

"$moelab" sweep sweep.json > first.log
grep -q "4 runs (0 done, 0 to resume, 4 to start), 2 at once x 1 thread(s)" first.log || fail "plan line: $(head -1 first.log)"
[ "$(grep -c "finished in" first.log)" -eq 4 ] || fail "4 runs should finish: $(cat first.log)"
for d in out/switch=0/seed1 out/switch=0/seed2 out/switch=0.01/seed1 out/switch=0.01/seed2; do
  [ -f "$d/sweep.done" ] && [ -f "$d/model.safetensors" ] || fail "$d is not a finished run"
done
grep -q "^| model.moe.loss.switch=0 | 2 |" out/aggregate.md || fail "aggregate.md: $(cat out/aggregate.md)"
[ "$(grep -c ",val_loss,2," out/aggregate.csv)" -eq 2 ] || fail "aggregate.csv: $(cat out/aggregate.csv)"
echo "ok: 4 runs, aggregate:"; cat out/aggregate.md

"$moelab" sweep sweep.json > second.log
grep -q "4 runs (4 done, 0 to resume, 0 to start)" second.log || fail "second call: $(head -1 second.log)"
grep -q "finished in" second.log && fail "a finished run ran again"
echo "ok: a second call runs nothing"

rm out/switch=0/seed2/sweep.done
steps_before=$(grep -c '"grad_norm":' out/switch=0/seed2/metrics.jsonl)
"$moelab" sweep sweep.json > third.log
grep -q "4 runs (3 done, 1 to resume, 0 to start)" third.log || fail "third call: $(head -1 third.log)"
# a resumed run appends a start row at its checkpoint's step; a restart would begin again at 0
[ "$(grep '"event":"start"' out/switch=0/seed2/metrics.jsonl | tail -1 | grep -o '"step":[0-9]*')" = '"step":30' ] ||
  fail "the run was not resumed: $(grep '"event":"start"' out/switch=0/seed2/metrics.jsonl | cut -c1-80)"
[ "$(grep -c '"grad_norm":' out/switch=0/seed2/metrics.jsonl)" -eq "$steps_before" ] || fail "resume past max_iters trained again"
echo "ok: an unmarked run with a checkpoint is resumed"

sed -i 's/"max_iters": 30/"max_iters": 100000/' base.json
sed -i 's/"out": "out"/"out": "long"/' sweep.json
"$moelab" sweep sweep.json > long.log &
pid=$!
for _ in $(seq 100); do  # wait until both first runs have saved a checkpoint
  [ -f long/switch=0/seed1/model.json ] && [ -f long/switch=0/seed2/model.json ] && break
  sleep 0.2
done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 143 ] || fail "a stopped sweep exits 143, got $rc: $(cat long.log)"
grep -q "stopped by signal 15; 2 run(s) saved a checkpoint" long.log || fail "$(cat long.log)"
"$moelab" sweep sweep.json --dry-run > dry.log
grep -q "4 runs (0 done, 2 to resume, 2 to start)" dry.log || fail "after SIGTERM: $(cat dry.log)"
echo "ok: SIGTERM stops the runs with a checkpoint; the next call resumes them"

echo '{"base": "base.json", "points": [["model.moe.top_k=1"], ["model.moe.top_kk=2"]], "out": "typo"}' > typo.json
rc=0; "$moelab" sweep typo.json > typo.log 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "point model.moe.top_kk=2" typo.log && [ ! -d typo ] || fail "typo: rc $rc, $(cat typo.log)"
echo "ok: a bad point fails before any run: $(cat typo.log)"
