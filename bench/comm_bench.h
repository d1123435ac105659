// bench/comm_bench.h: `mpirun -np N moelab bench comm`: the time of the two collectives training
// uses (the gradient all-reduce and expert parallelism's all-to-all) over message sizes, on the
// processes and links mpirun gave it; with the latency and bandwidth a scaling projection needs
// (scripts/project_scaling.py, docs/distributed.md).
#pragma once
#include <cstdint>
#include <ostream>
#include <vector>

#include "core/comm/communicator.h"

namespace moelab::bench {

struct CommBenchOptions {
  std::vector<int64_t> sizes;  // bytes per process; empty: 8 B .. 64 MB, powers of 4
  int repeats = 5;             // samples per size (median reported)
};

// Every process must call it (collectives); rank 0 writes the table and a closing JSON line.
void run_comm_bench(comm::Communicator& comm, const CommBenchOptions& opts, std::ostream& out);

}  // namespace moelab::bench
