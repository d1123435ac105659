#!/usr/bin/env python3
"""A projection (not a measurement) of moe-M training on 8-64 processes over 25 and 100 Gb/s links.

Fed by measurements: the compute time per step of one process and the bytes each collective moves,
from scripts/bench_dist.py --json (moe-M on 2 processes x 1 thread), and the latency and bandwidth
of the collectives, from `mpirun -np N moelab bench comm` (its closing JSON line). Model:

  step = compute + allreduce(gradients) + all-to-all(expert parallel exchanges)   (no overlap)
  allreduce of S bytes over P processes (ring, in 4 MB pieces):  2(P-1)(a * pieces) + 2(P-1)/P * S / B
  all-to-all of S bytes per process over P processes:             (P-1) a + (P-1)/P * S / B

a = latency per message, B = bandwidth of one process's link. Weak scaling: every process keeps the
measured local batch (so the compute per process stays what was measured) and the global batch
grows with P. Two layouts of the same model (8 experts per MoE layer): pure data parallel, and
expert parallel over groups of 8 (EP 8 x DP P/8: each process holds one expert per layer, expert
gradients are all-reduced over the P/8 replicas). The experts are assumed balanced: the measured
waits for a more loaded process are not projected (they are the compute of the imbalance).

With --comm (required): the model is first checked on the link it was measured on (P = 2): the
training run's all-reduce and all-to-all times against the model's. The measured ones are larger
(the wait for the slower process, and a gradient buffer too big for the cache, which bench comm's
reused buffers are not); the "calibrated" columns multiply the projected all-reduce by that ratio
and add the measured all-to-all wait per step to the expert-parallel layouts.

Usage: python3 scripts/project_scaling.py --bench bench.json --comm comm.txt
  (comm.txt: the output of `mpirun -np 2 moelab bench comm`; its last line is used)
"""
import argparse, json

PIECE = 4 << 20
# Links: (name, bytes/s of one process's link at 90% of the line rate, latency per message).
# Latencies are assumptions, not measured here: MPI over TCP on 25 GbE, over RDMA on 100 Gb/s.
LINKS = [("25 Gb/s (TCP, 20 us)", 25e9 / 8 * 0.9, 20e-6), ("100 Gb/s (RDMA, 3 us)", 100e9 / 8 * 0.9, 3e-6)]
EXCHANGES_PER_LAYER = 6  # forward: counts, rows, row metadata, return; backward: the two row exchanges


def allreduce_s(nbytes, p, a, b):
    if p == 1 or nbytes == 0:
        return 0.0
    pieces = max(1, -(-nbytes // PIECE))
    return 2 * (p - 1) * a * pieces + 2 * (p - 1) / p * nbytes / b


def alltoall_s(nbytes, p, a, b):
    return 0.0 if p == 1 else (p - 1) * a + (p - 1) / p * nbytes / b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="scripts/bench_dist.py --json output")
    ap.add_argument("--comm", required=True, help="a file holding `moelab bench comm`'s output (its last line is used)")
    a = ap.parse_args()
    cases = json.load(open(a.bench))
    dp = next(c for c in cases if c["model"] == "moe-M" and c["processes"] == 2 and c["expert_parallel"] == 1
              and not c.get("overlap", False))  # the all-reduce in full, not what overlap leaves of it
    ep = next(c for c in cases if c["model"] == "moe-M" and c["processes"] == 2 and c["expert_parallel"] == 2)
    MB = 1 << 20
    grads = dp["allreduce_mb"] * MB  # every gradient (plus a few scalars)
    replicated = ep["allreduce_mb"] * MB  # the non-expert gradients (EP 2 = world: experts not all-reduced)
    experts = grads - replicated
    layers = ep["moe_layers"]
    # bytes one process's exchanges move per MoE layer per step (measured: what rank 0 sent to the other
    # of 2 processes, which is half of it)
    exchange = 2 * ep["alltoall_mb"] * MB / layers
    tokens = dp["tokens_per_step"] // 2  # per process
    print("Inputs (measured, moe-M, %d tokens per process per step): compute %.0f ms (data parallel), %.0f ms "
          "(expert parallel, incl. waits for the more loaded process: %.0f ms all-to-all at 2 processes); "
          "gradients %.1f MB (%.1f MB replicated, %.1f MB experts); exchanges %.2f MB per MoE layer per step" % (
              tokens, dp["compute_ms"], ep["compute_ms"], ep["alltoall_ms"], grads / MB, replicated / MB,
              experts / MB, exchange / MB))
    lines = [l for l in open(a.comm) if l.startswith("{")]
    c = json.loads(lines[-1])
    lat, bw = c["allreduce_latency_us"] * 1e-6, c["allreduce_bus_gb_s"] * 1e9
    a2a_lat, a2a_bw = c["alltoall_latency_us"] * 1e-6, c["alltoall_bus_gb_s"] * 1e9
    ar_model = allreduce_s(grads, 2, lat, bw)
    ar_factor = max(1.0, dp["allreduce_ms"] / 1e3 / ar_model)
    a2a_model = layers * EXCHANGES_PER_LAYER * alltoall_s(exchange / EXCHANGES_PER_LAYER, 2, a2a_lat, a2a_bw)
    a2a_wait = max(0.0, ep["alltoall_ms"] / 1e3 - a2a_model)
    print("Check on the measured link (bench comm at P = 2: all-reduce %.1f us + %.2f GB/s, all-to-all %.1f us + "
          "%.2f GB/s): all-reduce of the gradients, model %.1f ms, measured in training %.1f ms (ratio %.2f); "
          "expert-parallel exchanges, model %.1f ms, measured %.1f ms (a wait of %.1f ms per step)" % (
              lat * 1e6, bw / 1e9, a2a_lat * 1e6, a2a_bw / 1e9, ar_model * 1e3, dp["allreduce_ms"], ar_factor,
              a2a_model * 1e3, ep["alltoall_ms"], a2a_wait * 1e3))
    print()
    print("| link | processes | layout | step ms | comm ms | tokens/s | efficiency | calibrated: step ms | efficiency |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, b, lat in LINKS:
        for p in (8, 16, 32, 64):
            g = 8
            rows = [("DP %d" % p, dp["compute_ms"] / 1e3, allreduce_s(grads, p, lat, b), 0.0, 0.0)]
            reduce_ = allreduce_s(replicated, p, lat, b) + allreduce_s(experts / g, p // g, lat, b)
            exch = layers * EXCHANGES_PER_LAYER * alltoall_s(exchange / EXCHANGES_PER_LAYER, g, lat, b)
            rows.append(("EP 8 x DP %d" % (p // g), ep["compute_ms"] / 1e3, reduce_, exch, a2a_wait))
            for layout, compute, reduce_, exch, wait in rows:
                step = compute + reduce_ + exch
                calibrated = compute + ar_factor * reduce_ + exch + wait
                print("| %s | %d | %s | %.0f | %.0f | %.0f | %.2f | %.0f | %.2f |" % (
                    name, p, layout, step * 1e3, (reduce_ + exch) * 1e3, p * tokens / step, compute / step,
                    calibrated * 1e3, compute / calibrated))


if __name__ == "__main__":
    main()
