// train/generate.h: `moelab generate`: sample text from a checkpoint.
#pragma once
#include <cstdint>
#include <string>

namespace moelab::train {

struct GenerateOptions {
  std::string prompt = "\n";
  int tokens = 200;
  float temperature = 0.8f;
  int top_k = 0;  // 0: no top-k filter
  uint64_t seed = 0;
};

// The prompt followed by the sampled continuation.
std::string run_generate(const std::string& ckpt, const GenerateOptions& opts);

}  // namespace moelab::train
