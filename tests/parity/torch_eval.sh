#!/usr/bin/env bash
# A moelab checkpoint must give the same loss in the PyTorch reference (shared/ref/torch_moe.py eval)
# as in `moelab eval`, on the same tokens, to 1e-4. Skips (exit 77) where torch or the reference is absent.
set -euo pipefail
moelab="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
ref="$root/../shared/ref/torch_moe.py"
[ -f "$ref" ] || { echo "SKIP: $ref not found"; exit 77; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "SKIP: python3-torch not installed"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
"$moelab" --threads 2 train configs/default.json --out "$work/run" --set train.max_iters=60 \
  --set train.eval_interval=60 --set train.eval_iters=2 --set train.log_interval=20 > "$work/train.log"
ours=$("$moelab" eval "$work/run" --batch 8 --batches 6 --dump-tokens "$work/tokens.bin" | sed -n 's/.*: loss \([0-9.]*\).*/\1/p')
theirs=$(/usr/bin/python3 "$ref" eval --ckpt "$work/run/model.safetensors" --tokens "$work/tokens.bin" \
  --token-dtype uint16 --batch 8 --batches 6 | python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['ce'])")
echo "moelab eval: $ours   torch_moe.py eval: $theirs"
python3 -c "import sys; a,b=float('$ours'),float('$theirs'); d=abs(a-b); print('|diff| = %.2e' % d); sys.exit(0 if d < 1e-4 else 1)"
