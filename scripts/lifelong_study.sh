#!/usr/bin/env bash
# The Lifelong-MoE study (docs/lifelong.md): stage A = tinyshakespeare, stage B = the fortunes
# corpus; B three ways (naive fine-tuning, expand + freeze, expand + freeze + KL). Prints the table
# of losses on A and B and the forgetting. About 10 minutes on 2 cores.
# Usage: bash scripts/lifelong_study.sh [PATH/TO/tinyshakespeare.txt] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
shakes="${1:-../shared/data/tinyshakespeare.txt}"
threads=2
if [ "${2:-}" = "--threads" ]; then threads="$3"; fi
[ -f "$shakes" ] || { echo "lifelong_study: $shakes not found (tinyshakespeare: karpathy/char-rnn data/tinyshakespeare/input.txt)" >&2; exit 1; }
[ -x build/moelab ] || bash scripts/setup.sh
m="./build/moelab --threads $threads"
mkdir -p runs/lifelong
$m train configs/lifelong/stage_a.json --set "data.train=$shakes" | tail -1
$m expand runs/lifelong/A --add-experts 4 --out runs/lifelong/A_grown
for v in naive freeze lifelong; do
  $m train "configs/lifelong/stage_b_$v.json" | tail -1
done
eval_on() {  # run folder -> "lossA lossB": held-out splits of stage A's and stage B's data
  $m eval "$1" --val-of runs/lifelong/A runs/lifelong/B_naive --batches 40 |
    sed -n 's/.*: loss \([0-9.]*\).*/\1/p' | tr '\n' ' '
  echo
}
read -r a_A a_B < <(eval_on runs/lifelong/A)
{
  echo "| model | loss on A (shakespeare val) | loss on B (fortunes val) | forgetting (A loss - after A) |"
  echo "|---|---|---|---|"
  printf "| after A | %.4f | %.4f | - |\n" "$a_A" "$a_B"
  for v in naive freeze lifelong; do
    read -r l_A l_B < <(eval_on "runs/lifelong/B_$v")
    printf "| B: %s | %.4f | %.4f | %+.4f |\n" "$v" "$l_A" "$l_B" "$(python3 -c "print($l_A - $a_A)")"
  done
} | tee runs/lifelong/table.md
