// bench/model_bench.h: `moelab bench model CONFIG`: full training steps of a config's model
// (forward, backward, clip, AdamW) on random tokens, timed; one JSON line of medians.
#pragma once
#include <ostream>

#include "train/config/run_config.h"

namespace moelab::bench {

struct ModelBenchOptions {
  int steps = 20;
  int warmup = 5;
  int vocab = 65;
};

// The thread count is the caller's (moelab --threads / train.threads, set by the program).
void run_model_bench(const train::RunConfig& cfg, const ModelBenchOptions& opts, std::ostream& out);

}  // namespace moelab::bench
