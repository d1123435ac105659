#!/usr/bin/env python3
"""Distributed training speed, side by side in one run (issue 15's benchmark).

dense-M and moe-M (6 layers, 8 heads, d 256, block 128, batch 16; moe-M: the default config's MoE, every 2nd
layer, E 8, top-2, switch and z losses), trained on the default corpus by `moelab train` (the path users run), as
  1 process x 2 threads   against   mpirun -np 2 x 1 thread: data parallel (EP 1), with the gradient
  all-reduce overlapped with backward (dist.overlap, the default) and without, and for moe-M also
  expert parallel (EP 2).
Rounds are interleaved; each figure is the median over rounds of the median over a run's steps
(after 10 warm-up steps); "vs 1x2" is the median over rounds of the ratio to the same round's
1-process run (the machine's speed drifts between rounds more than within one), with its range. Step time is split into all-to-all (expert parallel dispatch and return,
forward and backward), allreduce (gradients, losses, statistics) and the rest (compute), from rank
0's metrics.jsonl; bytes are rank 0's sends per step per MoE layer.

Usage: python3 scripts/bench_dist.py [--moelab build/moelab] [--rounds 3] [--steps 40] [--json out.json]
       [--models dense-M,moe-M]
(--json: the medians per case, the input of scripts/project_scaling.py)
(as root, set OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; it does.)
"""
import argparse, json, os, statistics, subprocess, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
M = ["model.n_layer=6", "model.n_head=8", "model.n_embd=256", "model.block_size=128", "train.batch_size=16",
     "model.bias=true"]


def run(exe, procs, threads, sets, steps, out):
    args = ["train", os.path.join(ROOT, "configs", "default.json"), "--out", out,
            "--set", "train.max_iters=%d" % steps, "--set", "train.log_interval=1", "--set", "train.eval_interval=100000",
            "--set", "train.eval_iters=1", "--set", "train.routing_metrics=false", "--set", "train.checkpoint_interval=0",
            "--set", "optim.lr_decay_iters=%d" % steps, "--set", "optim.warmup_iters=5"]
    for s in sets:
        args += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    args += ["--set", "train.threads=%d" % threads]
    cmd = ([exe] if procs == 1 else ["mpirun", "--oversubscribe", "-np", str(procs), "-x", "OMP_NUM_THREADS", exe]) + args
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if '"loss"' in l]
    rows = [r for r in rows if r["step"] > 10]
    tps = statistics.median(r["tokens_per_s"] for r in rows)
    d = [r.get("dist", {}) for r in rows]
    med = lambda k: statistics.median(x.get(k, 0.0) for x in d)
    return dict(tps=tps, a2a_ms=1e3 * med("alltoall_s"), ar_ms=1e3 * med("allreduce_s"), a2a_mb=med("alltoall_mb"),
                ar_mb=med("allreduce_mb"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moelab", default=os.path.join(ROOT, "build", "moelab"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--json", help="write the medians per case here")
    ap.add_argument("--models", default="dense-M,moe-M", help="which of dense-M, moe-M to run (comma-separated)")
    a = ap.parse_args()
    dense = M + ["model.moe=null"]
    cases = [("dense-M", 1, 2, dense), ("dense-M", 2, 1, dense), ("dense-M", 2, 1, dense + ["dist.overlap=false"]),
             ("moe-M", 1, 2, M), ("moe-M", 2, 1, M), ("moe-M", 2, 1, M + ["dist.overlap=false"]),
             ("moe-M", 2, 1, M + ["dist.expert_parallel=2"])]
    cases = [c for c in cases if c[0] in a.models.split(",")]
    results = {i: [] for i in range(len(cases))}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for i, (name, procs, threads, sets) in enumerate(cases):
                results[i].append(run(a.moelab, procs, threads, sets, a.steps, os.path.join(tmp, "r%d_%d" % (r, i))))
    tokens = 16 * 128
    print("| model | processes x threads | EP | overlap | tokens/s | vs 1x2 (range) | ms/step | all-to-all ms | allreduce ms | "
          "compute ms | all-to-all MB/step/MoE layer | allreduce MB/step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = {}
    summary = []
    for i, (name, procs, threads, sets) in enumerate(cases):
        med = {k: statistics.median(x[k] for x in results[i]) for k in results[i][0]}
        ep = 2 if any(s.startswith("dist.expert_parallel=2") for s in sets) else 1
        overlap = "-" if procs == 1 else ("off" if "dist.overlap=false" in sets else "on")
        if procs == 1:
            base[name] = i
        ratios = [x["tps"] / y["tps"] for x, y in zip(results[i], results[base[name]])]
        ratio = statistics.median(ratios)
        ms = 1e3 * tokens / med["tps"]
        print("| %s | %d x %d | %s | %s | %.0f | %.2f (%.2f-%.2f) | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f |" % (
            name, procs, threads, ep if procs > 1 else "-", overlap, med["tps"], ratio, min(ratios), max(ratios), ms, med["a2a_ms"],
            med["ar_ms"], ms - med["a2a_ms"] - med["ar_ms"], med["a2a_mb"] / 3, med["ar_mb"]))
        summary.append(dict(model=name, processes=procs, threads=threads, expert_parallel=ep if procs > 1 else 1,
                            overlap=overlap == "on",
                            tokens_per_step=tokens, moe_layers=3 if name == "moe-M" else 0, step_ms=ms,
                            alltoall_ms=med["a2a_ms"], allreduce_ms=med["ar_ms"],
                            compute_ms=ms - med["a2a_ms"] - med["ar_ms"], alltoall_mb=med["a2a_mb"],
                            allreduce_mb=med["ar_mb"], tokens_per_s=med["tps"], vs_one_process=ratio,
                            vs_one_process_range=[min(ratios), max(ratios)]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
