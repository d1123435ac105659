#!/usr/bin/env python3
"""Writes synthetic run folders (metrics.jsonl per docs/metrics.md) to try `moelab report` on
without training: two MoE runs (E 8, top-2, MoE layers 1 and 3) with different balancing, and
a dense run. The routing counts are simulated; every metric is computed from them as
train/routing_metrics.h defines it, so the numbers are consistent with each other.
Usage: python3 scripts/report_example.py OUT_DIR [--steps 600]
Then:  build/moelab report OUT_DIR/switch OUT_DIR/aux_free OUT_DIR/dense --out OUT_DIR/report.html
docs/img/report-example.png is that page in headless Chromium (apt-get install chromium imagemagick):
  chromium --headless --no-sandbox --disable-gpu --screenshot=/tmp/report.png --window-size=1400,3000 \
      file://$PWD/OUT_DIR/report.html
  convert /tmp/report.png -crop 1400x2200+0+0 +repage -resize 1050x -colors 256 -strip \
      PNG8:docs/img/report-example.png"""
import argparse, json, math, os, random

DOMAINS = ["art", "computers", "cookie", "definitions", "education", "food", "law", "literature", "love", "science"]
E, K, TOKENS = 8, 2, 12 * 64 * 10  # experts, slots per token, tokens per logged window


def entropy(p):
    return -sum(x * math.log(x) for x in p if x > 0)


def layer_metrics(rng, skew, spec, capacity, aux_weight):
    """One window of one layer: `skew` > 0 concentrates load, `spec` makes domains prefer experts."""
    pref = [[math.exp(spec * math.cos(d * 1.7 + e * 0.9) + skew * (1.5 if e == 0 else -0.2 * e) + rng.gauss(0, 0.15))
             for e in range(E)] for d in range(len(DOMAINS))]
    de = []
    for row in pref:
        z = sum(row)
        per_domain = TOKENS * K // len(DOMAINS)
        de.append([int(per_domain * x / z) for x in row])
    routed = [sum(de[d][e] for d in range(len(DOMAINS))) for e in range(E)]
    total = sum(routed)
    cap = int(capacity * total / E)
    kept = [min(r, cap) for r in routed]
    load = [r / total for r in routed]
    mean = total / E
    cv = math.sqrt(sum((r - mean) ** 2 for r in routed) / E) / mean
    prob = [0.7 * l + 0.3 / E for l in load]
    joint = [[c / total for c in row] for row in de]
    pd = [sum(row) for row in joint]
    mi = sum(joint[d][e] * math.log(joint[d][e] / (pd[d] * load[e]))
             for d in range(len(DOMAINS)) for e in range(E) if joint[d][e] > 0)
    return {"tokens": TOKENS, "routed": routed, "kept": kept, "load": load, "prob": prob,
            "drop_frac": (total - sum(kept)) / total, "cv": cv, "maxvio": max(routed) / mean - 1,
            "dead": sum(1 for r in routed if r == 0), "entropy_token": 1.2 + 0.5 / (1 + skew),
            "entropy_prob": entropy(prob), "entropy_load": entropy(load),
            "aux": {"switch": aux_weight * (1 + cv * cv)}, "domain_expert": de, "domain_mi": mi}


def write_run(path, name, steps, moe, seed):
    rng = random.Random(seed)
    os.makedirs(path, exist_ok=True)
    layers = [1, 3] if moe else []
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        f.write(json.dumps({"event": "start", "step": 0, "moelab_version": "0.1.0", "num_experts": E if moe else 0,
                            "top_k": K if moe else 0, "router": "topk" if moe else "none", "moe_layers": layers,
                            "domains": DOMAINS, "config": {"name": name}}) + "\n")
        for step in range(0, steps + 1, 10):
            t = step / steps
            loss = 1.6 + 2.6 * math.exp(-5 * t) + (0.05 if moe else 0.1) + rng.gauss(0, 0.04)
            # "switch" balances slowly and drops tokens early; "aux_free" is balanced throughout.
            skew = (0.8 * math.exp(-4 * t) + 0.12) if name == "switch" else 0.25 * math.exp(-8 * t) + 0.03
            spec = 1.4 * t
            if step > 0:
                row = {"step": step, "loss": loss, "lr": 1e-3 * min(1, step / 100), "grad_norm": 0.5 + rng.random(),
                       "tokens_per_s": 21000 + rng.gauss(0, 500)}
                if moe:
                    row["moe"] = {"h%d" % l: layer_metrics(rng, skew * (1.0 if l == 1 else 0.7), spec, 1.25, 0.01)
                                  for l in layers}
                    for l in layers:
                        row["aux.switch.h%d" % l] = row["moe"]["h%d" % l]["aux"]["switch"]
                    row["aux.switch"] = sum(row["aux.switch.h%d" % l] for l in layers)
                    row["total_loss"] = loss + row["aux.switch"]
                f.write(json.dumps(row) + "\n")
            if step % 100 == 0:
                row = {"step": step, "val_loss": loss + 0.08, "train_loss": loss - 0.02}
                if moe:
                    row["moe"] = {"h%d" % l: layer_metrics(rng, skew, spec, 2.0, 0.01) for l in layers}
                f.write(json.dumps(row) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=600)
    a = ap.parse_args()
    write_run(os.path.join(a.out, "switch"), "switch", a.steps, True, 1)
    write_run(os.path.join(a.out, "aux_free"), "aux_free", a.steps, True, 2)
    write_run(os.path.join(a.out, "dense"), "dense", a.steps, False, 3)


if __name__ == "__main__":
    main()
