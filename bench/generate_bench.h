// bench/generate_bench.h: `moelab bench generate CONFIG`: tokens/s of generation with and without
// the KV cache on the config's (untrained) model, both timed in the same run; one JSON line of medians.
#pragma once
#include <ostream>

#include "train/config/run_config.h"

namespace moelab::bench {

struct GenerateBenchOptions {
  int tokens = 256;  // new tokens after a 1-token prompt (block_size 256: the context fills exactly)
  int repeats = 3;   // timed runs of each path (median reported)
  int vocab = 65;
};

// Throws if the two paths sample different tokens (greedy, so they must not). The thread count is
// the caller's (moelab --threads / train.threads, set by the program).
void run_generate_bench(const train::RunConfig& cfg, const GenerateBenchOptions& opts, std::ostream& out);

}  // namespace moelab::bench
