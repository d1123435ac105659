#!/usr/bin/env bash
# The Lifelong-MoE study (docs/lifelong.md): stage A = tinyshakespeare (one run), then stage B = the
# fortunes corpus from A, swept over kl_weight, freeze_non_expert and the admission rate of the new
# experts, against naive fine-tuning and naive fine-tuning with 10% replay of A's training text,
# 3 seeds each (configs/sweeps/lifelong.json). Writes runs/lifelong/sweep/aggregate.md and
# runs/lifelong/report.html (forgetting against new-domain loss). About 25 minutes on 2 cores.
# Usage: bash scripts/lifelong_study.sh [PATH/TO/tinyshakespeare.txt]
set -euo pipefail
cd "$(dirname "$0")/.."
shakes="${1:-../shared/data/tinyshakespeare.txt}"
[ -f "$shakes" ] || { echo "lifelong_study: $shakes not found (tinyshakespeare: karpathy/char-rnn data/tinyshakespeare/input.txt)" >&2; exit 1; }
moelab="${MOELAB:-./build/moelab}"  # MOELAB=path: another build of moelab (e.g. a copy while rebuilding)
[ -x "$moelab" ] || bash scripts/setup.sh
m="$moelab --threads 2"
mkdir -p runs/lifelong
# Stage A: skipped when its checkpoint is there
[ -f runs/lifelong/A/model.safetensors ] || $m train configs/lifelong/stage_a.json --set "data.train=$shakes" | tail -1
# A grown by 4 experts, new experts admitted by bias balancing at three rates (0.01 is expand's default)
for rate in 0.003 0.01 0.03; do
  out=runs/lifelong/A_grown_admit$rate
  [ "$rate" = 0.01 ] && out=runs/lifelong/A_grown
  [ -f "$out/model.safetensors" ] || $m expand runs/lifelong/A --add-experts 4 --admit-rate "$rate" --out "$out"
done
# Replay buffer: the first 256 kB of A's text (inside A's training split, the first 90% of the file),
# about 10% of the mixed training tokens next to the fortunes' 2.3 MB training split
head -c 256000 "$shakes" > runs/lifelong/replay_10pct.txt.tmp && mv runs/lifelong/replay_10pct.txt.tmp runs/lifelong/replay_10pct.txt
"$moelab" sweep configs/sweeps/lifelong.json
# Readable group names for the report: runs/lifelong/view/NAME/seedS -> the sweep's folders
rm -rf runs/lifelong/view
name() {  # NAME, the sweep's point folder without its hash
  local d
  d=$(cd runs/lifelong/sweep && ls -d -- "$2"-????????)
  mkdir -p "runs/lifelong/view/$1"
  for s in runs/lifelong/sweep/"$d"/seed*; do ln -s "$PWD/$s" "runs/lifelong/view/$1/$(basename "$s")"; done
}
name naive 'kl_weight=0,init_from=runs_lifelong_A,freeze_old_experts=false,freeze_old_router_rows=false'
name replay_10pct 'kl_weight=0,init_from=runs_lifelong_A,freeze_old_experts=false,freeze_old_router_rows=false,train=__'
for w in 0 0.1 0.3 1 3; do name "freeze_kl$w" "kl_weight=$w"; done
for w in 0 1; do name "freeze_all_kl$w" "kl_weight=$w,freeze_non_expert=true"; done
for r in 0.003 0.03; do name "freeze_kl1_admit$r" "kl_weight=1,init_from=runs_lifelong_A_grown_admit$r"; done
"$moelab" report runs/lifelong/view/*/seed* --out runs/lifelong/report.html
cat runs/lifelong/sweep/aggregate.md
echo "paired by seed: python3 scripts/paired_seeds.py runs/lifelong/view replay_10pct naive [old_val_loss]"
