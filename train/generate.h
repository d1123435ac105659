// train/generate.h: `moelab generate`: sample text from a checkpoint.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace moelab::train {

struct GenerateOptions {
  std::string prompt = "\n";
  int tokens = 200;
  float temperature = 0.8f;
  int top_k = 0;  // 0: no top-k filter
  uint64_t seed = 0;
};

// Samples opts.tokens tokens after the prompt. `on_text` receives the prompt, then each token's text
// as soon as it is sampled (a program prints them as they come, so Ctrl-C keeps what was printed).
// Memory does not grow with the token count: only the last block_size ids are kept. Non-finite
// outputs are an error.
void run_generate(const std::string& ckpt, const GenerateOptions& opts,
                  const std::function<void(const std::string&)>& on_text);
// The prompt and the sampled continuation as one string.
std::string generate_text(const std::string& ckpt, const GenerateOptions& opts);

}  // namespace moelab::train
