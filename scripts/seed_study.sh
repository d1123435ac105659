#!/usr/bin/env bash
# nanoGPT's tinyshakespeare CPU recipe (configs/shakespeare_char.json) over several seeds, in moelab
# and, where torch is installed, in ../shared/ref/torch_moe.py's GPT (scripts/torch_replay.py), so
# the step-2000 val loss is compared as a distribution rather than one draw. 1 thread per run.
# Usage: bash scripts/seed_study.sh OUT_DIR "1 2 3" [moelab|torch|both]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?OUT_DIR}; seeds=${2:-"1 2 3 4 5 6 7 8"}; which=${3:-both}
data=../shared/data/tinyshakespeare.txt; moelab=${MOELAB:-./build/moelab}
mkdir -p "$out"
for s in $seeds; do
  if [[ $which != torch && ! -f $out/moelab_$s/model.safetensors ]]; then
    "$moelab" --threads 1 train configs/shakespeare_char.json --set data.train=$data \
      --set train.seed=$s --out "$out/moelab_$s" > "$out/moelab_$s.log" 2>&1
  fi
  if [[ $which != moelab && ! -f $out/torch_$s/torch.json ]]; then
    /usr/bin/python3 scripts/torch_replay.py "$out/torch_$s" 2000 "$s" > "$out/torch_$s.log" 2>&1
  fi
done
for s in $seeds; do
  m20=""; mfull=""; tfull=""
  if [[ -f $out/moelab_$s/metrics.jsonl ]]; then
    m20=$(grep '"val_loss"' "$out/moelab_$s/metrics.jsonl" | tail -1 | python3 -c 'import json,sys; print("%.4f" % json.loads(sys.stdin.read())["val_loss"])')
    mfull=$("$moelab" --threads 1 eval "$out/moelab_$s" --batch 12 --batches 145 2>/dev/null | grep -oE '[0-9]+\.[0-9]+' | head -1)
  fi
  [[ -f $out/torch_$s/torch.json ]] && tfull=$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["full_val"])' "$out/torch_$s/torch.json")
  echo "seed $s  moelab val(20 batches) ${m20:--}  moelab full val ${mfull:--}  torch full val ${tfull:--}"
done
