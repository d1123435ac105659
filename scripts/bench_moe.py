#!/usr/bin/env python3
"""MoE benchmarks of issue 4, side by side in one run (2 threads, medians of interleaved rounds):
  (a) moe-S (E 8, top-1, MoE every 2nd layer) vs dense-S with the same active parameters
  (b) top-1 step time for E = 4, 8, 16, 32, 64
  (c) tokens/s vs ../shared/ref/torch_moe.py bench on moe-S and moe-M (skipped without torch)
Usage: python3 scripts/bench_moe.py [--moelab build/moelab] [--rounds 3] [--steps 30] [--threads 2]"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = os.path.join(ROOT, "..", "shared", "ref", "torch_moe.py")
S = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch=12)
M = dict(n_layer=6, n_head=8, n_embd=256, block_size=128, batch=16)


def moelab_args(shape, experts, topk):
    sets = ["model.bias=true", "model.n_layer=%d" % shape["n_layer"], "model.n_head=%d" % shape["n_head"],
            "model.n_embd=%d" % shape["n_embd"], "model.block_size=%d" % shape["block_size"],
            "train.batch_size=%d" % shape["batch"]]
    sets.append("model.moe=null" if experts == 0 else
                'model.moe={"num_experts":%d,"top_k":%d,"every":2,"router":{"type":"topk"}}' % (experts, topk))
    out = []
    for s in sets:
        out += ["--set", s]
    return out


def run_moelab(exe, threads, steps, shape, experts, topk):
    cmd = [exe, "--threads", str(threads), "bench", "model", os.path.join(ROOT, "configs", "shakespeare_char.json"),
           "--steps", str(steps), "--warmup", "5"] + moelab_args(shape, experts, topk)
    return json.loads(subprocess.check_output(cmd, text=True).strip().splitlines()[-1])


def run_torch(threads, steps, shape, experts, topk):
    cmd = ["/usr/bin/python3", REF, "bench", "--threads", str(threads), "--vocab", "65",
           "--block", str(shape["block_size"]), "--batch", str(shape["batch"]), "--layers", str(shape["n_layer"]),
           "--heads", str(shape["n_head"]), "--dim", str(shape["n_embd"]), "--experts", str(experts),
           "--topk", str(topk), "--moe-every", "2", "--steps", str(steps), "--warmup", "5"]
    d = json.loads(subprocess.check_output(cmd, text=True, stderr=subprocess.DEVNULL).strip().splitlines()[-1])
    return dict(median_ms=d["ms_per_step"], tokens_per_s=d["tokens_per_s"], gflops=d["gflops"])


def have_torch():
    if not os.path.exists(REF):
        return False
    return subprocess.call(["/usr/bin/python3", "-c", "import torch"], stderr=subprocess.DEVNULL) == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moelab", default=os.path.join(ROOT, "build", "moelab"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()
    cases = [("dense-S", "moelab", S, 0, 1), ("moe-S", "moelab", S, 8, 1)]
    cases += [("top1 E=%d" % e, "moelab", S, e, 1) for e in (4, 16, 32, 64)]
    cases += [("dense-M", "moelab", M, 0, 1), ("moe-M", "moelab", M, 8, 2)]
    if not a.no_torch and have_torch():
        cases += [("moe-S", "torch", S, 8, 1), ("moe-M", "torch", M, 8, 2)]
    results = {}
    for r in range(a.rounds):  # interleaved rounds: machine noise hits every case alike
        for name, who, shape, e, k in cases:
            steps = a.steps if shape is S else max(5, a.steps // 3)
            res = (run_moelab(a.moelab, a.threads, steps, shape, e, k) if who == "moelab"
                   else run_torch(a.threads, steps, shape, e, k))
            results.setdefault((name, who), []).append(res)
            print("round %d %-10s %-6s %8.2f ms  %8.0f tok/s" % (r, name, who, res["median_ms"], res["tokens_per_s"]),
                  file=sys.stderr, flush=True)
    med = {key: statistics.median(x["median_ms"] for x in v) for key, v in results.items()}
    tps = {key: statistics.median(x["tokens_per_s"] for x in v) for key, v in results.items()}
    rss = {key: max(x.get("peak_rss_mb", 0) for x in v) for key, v in results.items()}
    print("| case | framework | ms/step | tokens/s | peak RSS MB |")
    print("|---|---|---|---|---|")
    for key in results:
        print("| %s | %s | %.2f | %.0f | %s |" % (key[0], key[1], med[key], tps[key], "%.0f" % rss[key] if rss[key] else "-"))
    print()
    d, m1 = med[("dense-S", "moelab")], med[("moe-S", "moelab")]
    print("(a) moe-S / dense-S step time: %.3f (goal <= 1.15)" % (m1 / d))
    sweep = [m1] + [med[("top1 E=%d" % e, "moelab")] for e in (4, 16, 32, 64)]
    print("(b) top-1 E = 8, 4, 16, 32, 64: %s ms; max/min = %.3f (goal <= 1.15)" %
          (", ".join("%.2f" % x for x in sweep), max(sweep) / min(sweep)))
    for case in ("moe-S", "moe-M"):
        if (case, "torch") in tps:
            print("(c) %s: moelab %.0f vs torch %.0f tokens/s = %.2fx (resolve >= 1.0, goal 1.5)" %
                  (case, tps[(case, "moelab")], tps[(case, "torch")], tps[(case, "moelab")] / tps[(case, "torch")]))
    print("    moe-M / dense-M step time (moelab): %.3f" % (med[("moe-M", "moelab")] / med[("dense-M", "moelab")]))
    print("threads: %d, rounds: %d (medians)" % (a.threads, a.rounds))


if __name__ == "__main__":
    main()
