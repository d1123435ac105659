"""Shared by the study scripts (sweep_over_time.py, compute_matched.py, paired_seeds.py): reading a
run's metrics.jsonl (bad lines skipped with a warning, as `moelab report` does) and printing a
mean ± sample std cell."""
import json, os, statistics, sys


def rows(run_dir):
    """The run's metrics.jsonl rows, in order."""
    out = []
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for n, line in enumerate(f, 1):
            try:
                out.append(json.loads(line))
            except ValueError:
                print("warning: %s/metrics.jsonl line %d is not JSON, skipped" % (run_dir, n), file=sys.stderr)
    return out


def mean_std(values, fmt):
    """'mean ± std' of the values that are not None ('-' for none, the value alone for one)."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt % values[0]
    return (fmt + " ± " + fmt) % (statistics.mean(values), statistics.stdev(values))
