#!/usr/bin/env python3
"""Routing balance over training, per sweep group, with seeds: for each group folder of a
`moelab sweep` output (OUT/<point>/seed<S>/metrics.jsonl) and each chosen step, the mean ± sample
std over seeds of max/mean load, dead experts and dropped assignments in the training window
ending at that step (each run's values averaged over its MoE layers). docs/collapse.md uses it.
Usage: python3 scripts/sweep_over_time.py OUT [--steps 100,250,500,1000]"""
import os, statistics, sys

from sweep_rows import mean_std, rows


def windows(run_dir):
    out = {}
    for r in rows(run_dir):
        if "loss" in r and "moe" in r:
            layers = r["moe"].values()
            out[r["step"]] = {
                "max_mean": statistics.mean(w["maxvio"] + 1 for w in layers),
                "dead": statistics.mean(w["dead"] for w in layers),
                "drop": 100 * statistics.mean(w["drop_frac"] for w in layers),
            }
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 else 2
    out = sys.argv[1]
    steps = [100, 250, 500, 1000]
    if "--steps" in sys.argv:
        steps = [int(s) for s in sys.argv[sys.argv.index("--steps") + 1].split(",")]
    print("| group | seeds | step | max/mean load | dead experts | dropped % |")
    print("|---|---|---|---|---|---|")
    for group in sorted(os.listdir(out)):
        gdir = os.path.join(out, group)
        runs = [os.path.join(gdir, s) for s in sorted(os.listdir(gdir)) if s.startswith("seed")] if os.path.isdir(gdir) else []
        runs = [r for r in runs if os.path.isfile(os.path.join(r, "metrics.jsonl"))]
        if not runs:
            continue
        per_run = [windows(r) for r in runs]
        for step in steps:
            got = [w[step] for w in per_run if step in w]
            if not got:
                continue
            print("| %s | %d | %d | %s | %s | %s |" % (
                group, len(got), step, mean_std([g["max_mean"] for g in got], "%.2f"),
                mean_std([g["dead"] for g in got], "%.1f"), mean_std([g["drop"] for g in got], "%.1f")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
