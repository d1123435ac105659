#!/usr/bin/env python3
# Step-by-step parity with PyTorch (docs/parity.md): trains nanoGPT's tinyshakespeare recipe on
# ../shared/ref/torch_moe.py's GPT (biases frozen at 0 = nanoGPT bias=False) and writes its initial
# weights and its batch offsets, so moelab can train from the same weights on the same batches
# (lifelong.init_from + train.batch_offsets). Run with /usr/bin/python3 (needs python3-torch).
# Usage: /usr/bin/python3 scripts/torch_replay.py OUT_DIR [STEPS] [SEED]   (SEED 1 = the run in docs/parity.md)
import sys, math, json, torch, numpy as np
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "ref"))
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
import torch_moe as tm
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.manual_seed(SEED); torch.set_num_threads(1)
t = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "tinyshakespeare.txt")).read()
chars = sorted(set(t)); stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in t], dtype=torch.long); n = len(data)
n_val = int(n * 0.1); train, val = data[:n - n_val], data[n - n_val:]     # moelab's split: last floor(10%)
cfg = tm.Config(vocab=65, block=64, layers=4, heads=4, dim=128)
m = tm.GPT(cfg)
for n_, p_ in m.named_parameters():
    if n_.endswith(".bias"): p_.data.zero_(); p_.requires_grad_(False)
init = {k: v.detach().clone() for k, v in m.named_tensors().items() if not k.endswith(".bias")}
tm.write_safetensors(os.path.join(OUT, "init_weights.safetensors"), init, {"format": "pt"})
opt = tm.make_optimizer(m, lr=1e-3, wd=0.1, betas=(0.9, 0.99))
B, T, steps = 12, 64, int(sys.argv[2]) if len(sys.argv) > 2 else 2000
g = torch.Generator().manual_seed(122 + SEED)
offs = torch.randint(len(train) - T, (steps, B), generator=g).to(torch.int32)
offs.numpy().tofile(os.path.join(OUT, "offsets.bin"))
def lr_at(it):
    if it < 100: return 1e-3 * (it + 1) / 101
    r = (it - 100) / 1900; return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * 9e-4
losses = []
for it in range(steps):
    for gr in opt.param_groups: gr["lr"] = lr_at(it)
    ix = offs[it].long()
    x = torch.stack([train[i:i+T] for i in ix]); y = torch.stack([train[i+1:i+1+T] for i in ix])
    out = m(x, y); out["loss"].backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True)
    losses.append(out["ce"].item())
    if it % 200 == 0: print(it, losses[-1], flush=True)
m.eval(); vl = []
with torch.no_grad():
    for s in range(0, 145 * B * T, B * T):
        x = torch.stack([val[s + b*T: s + b*T + T] for b in range(B)]); y = torch.stack([val[s + b*T + 1: s + b*T + T + 1] for b in range(B)])
        vl.append(m(x, y)["ce"].item())
json.dump({"losses": losses, "full_val": float(np.mean(vl))}, open(os.path.join(OUT, "torch.json"), "w"))
print("full val", np.mean(vl))
