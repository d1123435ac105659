#!/usr/bin/env python3
"""The balance study's table (docs/balance-study.md) from run folders' metrics.jsonl.
Balance columns average the last 5 training log windows (the final 250 steps at log_interval 50,
training capacity); val loss and domain MI come from the final eval row (val data).
Per-layer values are averaged over MoE layers, except MaxVio (worst layer) and dead experts (sum).
Usage: python3 scripts/study_table.py runs/study/*"""
import json, math, os, statistics, sys


def rows(path):
    out = []
    for i, line in enumerate(open(os.path.join(path, "metrics.jsonl")), 1):
        try:
            out.append(json.loads(line))
        except ValueError:
            print("warning: %s/metrics.jsonl line %d is not JSON, skipped" % (path, i), file=sys.stderr)
    return out


def summarize(path):
    rs = rows(path)
    start = next(r for r in rs if r.get("event") == "start")
    train = [r for r in rs if "moe" in r and "loss" in r][-5:]
    ev = [r for r in rs if "val_loss" in r][-1]
    layers = sorted(ev.get("moe", {}).keys())
    def avg(key, src):
        return statistics.mean(statistics.mean(r["moe"][l][key] for r in src) for l in layers)
    E = start["num_experts"]
    return dict(run=os.path.basename(path.rstrip("/")), val=ev["val_loss"], step=ev["step"],
                cv=avg("cv", train), maxvio=max(statistics.mean(r["moe"][l]["maxvio"] for r in train) for l in layers),
                drop=100 * avg("drop_frac", train), dead=sum(train[-1]["moe"][l]["dead"] for l in layers),
                ent=avg("entropy_load", train), ent_tok=avg("entropy_token", train) if "entropy_token" in train[-1]["moe"][layers[0]] else float("nan"),
                mi=statistics.mean(ev["moe"][l]["domain_mi"] for l in layers), logE=math.log(E))


def main():
    runs = [summarize(p) for p in sys.argv[1:] if os.path.exists(os.path.join(p, "metrics.jsonl"))]
    print("| run | val loss | CV | MaxVio (worst layer) | drop %% | dead experts | load entropy (max %.2f) | token entropy | domain MI (nats) |"
          % runs[0]["logE"])
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print("| %s | %.4f | %.3f | %.3f | %.2f | %d | %.3f | %s | %.4f |" % (
            r["run"], r["val"], r["cv"], r["maxvio"], r["drop"], r["dead"], r["ent"],
            "-" if math.isnan(r["ent_tok"]) else "%.3f" % r["ent_tok"], r["mi"]))


if __name__ == "__main__":
    main()
