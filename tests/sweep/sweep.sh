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
run_dir() { ls -d "$1"-*/"seed$2"; }  # a point's folder: its readable name, '-', a hash of its overrides

"$moelab" sweep sweep.json > first.log
grep -q "4 runs (0 done, 0 to resume, 4 to start), 2 at once x 1 thread(s)" first.log || fail "plan line: $(head -1 first.log)"
[ "$(grep -c "finished in" first.log)" -eq 4 ] || fail "4 runs should finish: $(cat first.log)"
for d in $(run_dir out/switch=0 1) $(run_dir out/switch=0 2) $(run_dir out/switch=0.01 1) $(run_dir out/switch=0.01 2); do
  [ -f "$d/sweep.done" ] && [ -f "$d/model.safetensors" ] || fail "$d is not a finished run"
done
grep -q "^| model.moe.loss.switch=0 | 2 |" out/aggregate.md || fail "aggregate.md: $(cat out/aggregate.md)"
[ "$(grep -c ",val_loss,2," out/aggregate.csv)" -eq 2 ] || fail "aggregate.csv: $(cat out/aggregate.csv)"
echo "ok: 4 runs, aggregate:"; cat out/aggregate.md

"$moelab" sweep sweep.json > second.log
grep -q "4 runs (4 done, 0 to resume, 0 to start)" second.log || fail "second call: $(head -1 second.log)"
grep -q "finished in" second.log && fail "a finished run ran again"
echo "ok: a second call runs nothing"

seed2="$(run_dir out/switch=0 2)"
rm "$seed2/sweep.done"
steps_before=$(grep -c '"grad_norm":' "$seed2/metrics.jsonl")
"$moelab" sweep sweep.json > third.log
grep -q "4 runs (3 done, 1 to resume, 0 to start)" third.log || fail "third call: $(head -1 third.log)"
# a resumed run appends a start row at its checkpoint's step; a restart would begin again at 0
[ "$(grep '"event":"start"' "$seed2/metrics.jsonl" | tail -1 | grep -o '"step":[0-9]*')" = '"step":30' ] ||
  fail "the run was not resumed: $(grep '"event":"start"' "$seed2/metrics.jsonl" | cut -c1-80)"
[ "$(grep -c '"grad_norm":' "$seed2/metrics.jsonl")" -eq "$steps_before" ] || fail "resume past max_iters trained again"
echo "ok: an unmarked run with a checkpoint is resumed"

sed -i 's/"max_iters": 30/"max_iters": 100000/' base.json
sed -i 's/"out": "out"/"out": "long"/' sweep.json
"$moelab" sweep sweep.json > long.log &
pid=$!
for _ in $(seq 100); do  # wait until both first runs have saved a checkpoint
  ls long/switch=0-*/seed1/model.json long/switch=0-*/seed2/model.json > /dev/null 2>&1 && break
  sleep 0.2
done
# one run stopped on its own (a scheduler's SIGTERM): it saves and exits 0, but it is not done
pkill -TERM -f "long/switch=0-[0-9a-f]*/seed1" || fail "no run process to stop"
for _ in $(seq 100); do grep -q "stopped at step" long.log && break; sleep 0.2; done
grep -q "switch=0, seed 1: stopped at step [0-9]* of 100000 (the next call resumes it)" long.log || fail "$(cat long.log)"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 143 ] || fail "a stopped sweep exits 143, got $rc: $(cat long.log)"
grep -q "stopped by signal 15; [0-9] run(s) saved a checkpoint" long.log || fail "$(cat long.log)"
"$moelab" sweep sweep.json --dry-run > dry.log
grep -q "4 runs (0 done, " dry.log || fail "after SIGTERM: $(cat dry.log)"
grep -q "^interrupted .*long/switch=0-[0-9a-f]*/seed1 " dry.log || fail "the stopped run is not resumable: $(cat dry.log)"
grep -q "^interrupted .*long/switch=0-[0-9a-f]*/seed2 " dry.log || fail "the SIGTERMed run is not resumable: $(cat dry.log)"
echo "ok: a run stopped on its own is resumed, not taken as done; SIGTERM stops the sweep's runs with a checkpoint"

# the sweep file changed: a finished run is not silently reused for another config
sed -i 's/"max_iters": 100000/"max_iters": 40/; s/"out": "long"/"out": "out"/' base.json sweep.json
rc=0; "$moelab" sweep sweep.json > changed.log 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "finished with another config than the sweep now gives this run" changed.log ||
  fail "changed config: rc $rc, $(cat changed.log)"
echo "ok: a changed sweep does not reuse finished runs: $(tail -1 changed.log | cut -c1-160)"

echo '{"base": "base.json", "points": [["model.moe.top_k=1"], ["model.moe.top_kk=2"]], "out": "typo"}' > typo.json
rc=0; "$moelab" sweep typo.json > typo.log 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "point model.moe.top_kk=2" typo.log && [ ! -d typo ] || fail "typo: rc $rc, $(cat typo.log)"
echo "ok: a bad point fails before any run: $(cat typo.log)"
