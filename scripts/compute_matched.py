#!/usr/bin/env python3
"""MoE vs dense at equal steps, equal training FLOPs, equal wall time and equal parameters
(docs/moe-vs-dense.md), from a `moelab sweep` output OUT/<point>/seed<S>/metrics.jsonl.

Per group (mean ± sample std over seeds): parameters and training FLOPs per token (start row),
steps, total training FLOPs (steps x batch x block x FLOPs/token), final val loss, wall time of the
run, and the val loss at the wall time of a reference group (--ref, default the first group whose
name starts with "num_experts=0" and has the most steps): each run's (elapsed_s, val_loss) eval
curve interpolated linearly at that time (a run that had finished by then keeps its final value).
Usage: python3 scripts/compute_matched.py OUT [--ref GROUP]"""
import os, statistics, sys

from sweep_rows import mean_std, rows


def read(run_dir):
    start, evals = None, []
    for r in rows(run_dir):
        if r.get("event") == "start":
            start = r
        elif "val_loss" in r:
            evals.append(r)
    return start, evals


def at_time(evals, t):
    """The val loss at wall time t: interpolated between eval rows; a run that had finished by t
    keeps its final value."""
    pts = [(e["elapsed_s"], e["val_loss"]) for e in evals if "elapsed_s" in e]
    if pts and t >= pts[-1][0]:
        return pts[-1][1]
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if t0 <= t <= t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1
    return None


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 else 2
    out = sys.argv[1]
    groups = {}
    for g in sorted(os.listdir(out)):
        gdir = os.path.join(out, g)
        if not os.path.isdir(gdir):
            continue
        runs = [read(os.path.join(gdir, s)) for s in sorted(os.listdir(gdir))
                if s.startswith("seed") and os.path.isfile(os.path.join(gdir, s, "metrics.jsonl"))]
        runs = [(s, e) for s, e in runs if s and e]
        if runs:
            groups[g] = runs
    ref = sys.argv[sys.argv.index("--ref") + 1] if "--ref" in sys.argv else None
    if ref is None:
        dense = [g for g in groups if g.startswith("num_experts=0") and "mult=" not in g]
        ref = max(dense, key=lambda g: groups[g][0][1][-1]["step"]) if dense else next(iter(groups))
    t_ref = statistics.mean(e[-1]["elapsed_s"] for _, e in groups[ref])
    print("Reference for equal wall time: %s, %.1f s (mean over its seeds)\n" % (ref, t_ref))
    print("| group | seeds | parameters | GFLOPs/token (train) | steps | training TFLOPs | final val loss | "
          "wall time (s) | val loss at %.0f s |" % t_ref)
    print("|---|---|---|---|---|---|---|---|---|")
    for g, runs in groups.items():
        s0 = runs[0][0]
        cfg = s0["config"]
        tokens_per_step = cfg["train"]["batch_size"] * cfg["model"]["block_size"]
        steps = runs[0][1][-1]["step"]
        print("| %s | %d | %.2f M | %.4f | %d | %.2f | %s | %s | %s |" % (
            g, len(runs), s0["parameters"] / 1e6, s0["flops_per_token"] / 1e9, steps,
            steps * tokens_per_step * s0["flops_per_token"] / 1e12,
            mean_std([e[-1]["val_loss"] for _, e in runs], "%.4f"),
            mean_std([e[-1]["elapsed_s"] for _, e in runs], "%.0f"),
            mean_std([at_time(e, t_ref) for _, e in runs], "%.4f")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
