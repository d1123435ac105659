#!/usr/bin/env python3
"""Cost of the routing metrics (issue 5: at most 2% of step time at the default log interval).
Trains the default config with train.routing_metrics true and false, alternating, and compares
median tokens/s of the training rows (eval excluded). On a noisy VM the A/B difference is dominated by
noise; `moelab train` also prints the in-process time spent on the metrics at the end of a run.
Usage: python3 scripts/logging_overhead.py [--rounds 3]"""
import argparse, json, os, statistics, subprocess, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(exe, on, steps, threads):
    with tempfile.TemporaryDirectory() as out:
        subprocess.check_call([exe, "--threads", str(threads), "train", os.path.join(ROOT, "configs", "default.json"),
                               "--out", out, "--set", "train.max_iters=%d" % steps,
                               "--set", "train.eval_interval=100000", "--set", "train.checkpoint_interval=0",
                               "--set", "train.routing_metrics=%s" % ("true" if on else "false")],
                              stdout=subprocess.DEVNULL)
        rows = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
        return [r["tokens_per_s"] for r in rows if "tokens_per_s" in r and r["step"] > 50]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moelab", default=os.path.join(ROOT, "build", "moelab"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    on, off = [], []
    for _ in range(a.rounds):
        on += run(a.moelab, True, a.steps, a.threads)
        off += run(a.moelab, False, a.steps, a.threads)
    m_on, m_off = statistics.median(on), statistics.median(off)
    print("routing metrics on : median %.0f tokens/s over %d log windows" % (m_on, len(on)))
    print("routing metrics off: median %.0f tokens/s over %d log windows" % (m_off, len(off)))
    print("overhead: %.2f%% of step time (threads %d, default log_interval, %d rounds)" %
          (100.0 * (m_off / m_on - 1.0), a.threads, a.rounds))


if __name__ == "__main__":
    main()
