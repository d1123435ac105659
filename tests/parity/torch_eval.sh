#!/usr/bin/env bash
# A moelab checkpoint must give the same loss in the PyTorch reference (shared/ref/torch_moe.py eval)
# as in `moelab eval` on the same tokens, to 1e-4, and the same gradients (relative to each
# tensor's scale, 1e-4). Checked for the default config (an MoE model: 8 experts, top-2
# renormalised, every other layer; cross-entropy, total loss with aux/z terms, gradients) and
# for its dense variant. Skips (exit 77) where torch or the reference is absent.
set -euo pipefail
moelab="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
ref="$root/../shared/ref/torch_moe.py"
[ -f "$ref" ] || { echo "SKIP: $ref not found"; exit 77; }
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || { echo "SKIP: python3-torch not installed"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"

check() {  # name, extra --set arguments...
  local name="$1"; shift
  "$moelab" --threads 2 train configs/default.json --out "$work/$name" --set train.max_iters=60 \
    --set train.eval_interval=60 --set train.eval_iters=2 --set train.log_interval=20 "$@" > "$work/$name.log"
  "$moelab" eval "$work/$name" --batch 8 --batches 6 --dump-tokens "$work/$name.bin" \
    --grads-out "$work/$name.grads.ours" > "$work/$name.ours"
  /usr/bin/python3 "$ref" eval --ckpt "$work/$name/model.safetensors" --tokens "$work/$name.bin" \
    --token-dtype uint16 --batch 8 --batches 6 --grads-out "$work/$name.grads.torch" > "$work/$name.torch"
  /usr/bin/python3 - "$name" "$work/$name.ours" "$work/$name.torch" "$work/$name.grads.ours" "$work/$name.grads.torch" <<'PY'
import json, re, struct, sys
import numpy as np
name, ours_txt, torch_txt, g_ours, g_torch = sys.argv[1:]
line = open(ours_txt).read()
ce = float(re.search(r": loss ([0-9.]+)", line).group(1))
total = re.search(r" total ([0-9.]+)", line)
total = float(total.group(1)) if total else ce
ref = json.loads(open(torch_txt).read().strip().splitlines()[-1])
def read(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]; out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype="<f4").reshape(v["shape"])
    return out
a, b = read(g_ours), read(g_torch)
assert set(a) == set(b), "gradient names differ: %s" % sorted(set(a) ^ set(b))
worst, where = 0.0, ""
for k in a:
    rel = float(np.abs(a[k] - b[k]).max() / (np.abs(b[k]).max() + 1e-12))
    if rel > worst: worst, where = rel, k
print("%s: moelab ce %.6f total %.6f | torch ce %.6f loss %.6f | |diff| %.1e, %.1e | grads: %d tensors, worst relative diff %.1e (%s)"
      % (name, ce, total, ref["ce"], ref["loss"], abs(ce - ref["ce"]), abs(total - ref["loss"]), len(a), worst, where))
sys.exit(0 if abs(ce - ref["ce"]) < 1e-4 and abs(total - ref["loss"]) < 1e-4 and worst < 1e-4 else 1)
PY
}

check moe
check dense --set model.moe=null
