#!/usr/bin/env python3
"""Paired comparison of two sweep groups by seed. A seed fixes the initial weights and the batch
order of every group of a sweep, so the per-seed difference of a final metric removes the seed's
own luck; its Student-t 95% interval resolves differences that the unpaired (Welch) verdict of
aggregate.md cannot. Usage: python3 scripts/paired_seeds.py OUT GROUP_A GROUP_B [METRIC]
(GROUP: a group folder name or a unique prefix of it; METRIC: an eval-row key, default val_loss)"""
import math, os, statistics, sys

from sweep_rows import rows

T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def final(run_dir, metric):
    value = None
    for r in rows(run_dir):
        if "val_loss" in r and r.get(metric) is not None:
            value = r[metric]
    return value


def group_dir(out, name):
    groups = os.listdir(out)
    matches = [name] if name in groups else [g for g in groups if g.startswith(name)]  # exact name first
    if len(matches) != 1:
        sys.exit("paired_seeds: %r matches %d groups in %s" % (name, len(matches), out))
    return os.path.join(out, matches[0])


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    out, a, b = sys.argv[1:4]
    metric = sys.argv[4] if len(sys.argv) > 4 else "val_loss"
    da, db = group_dir(out, a), group_dir(out, b)
    seeds = sorted(set(os.listdir(da)) & set(os.listdir(db)))
    diffs = []
    for s in seeds:
        va, vb = final(os.path.join(da, s), metric), final(os.path.join(db, s), metric)
        if va is not None and vb is not None:
            diffs.append(va - vb)
            print("%s: %s %.4f - %.4f = %+.4f" % (s, metric, va, vb, va - vb))
    if len(diffs) < 2:
        print("fewer than 2 paired seeds: nothing to test")
        return 1
    m, sd = statistics.mean(diffs), statistics.stdev(diffs)
    t = T975[len(diffs) - 2] if len(diffs) - 1 <= len(T975) else 1.96
    half = t * sd / math.sqrt(len(diffs))
    print("mean difference %+.4f, 95%% interval [%+.4f, %+.4f]: %s" % (
        m, m - half, m + half, "resolved" if abs(m) > half else "not resolved"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
