// train/generate.h: `moelab generate`: sample text from a checkpoint.
#pragma once
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "layers/gpt.h"

namespace moelab::train {

struct GenerateOptions {
  std::string prompt = "\n";
  int tokens = 200;
  float temperature = 0.8f;
  int top_k = 0;  // 0: no top-k filter
  uint64_t seed = 0;
  // Keys and values of past positions are kept (layers/kv_cache.h), so a token costs one position,
  // not the whole context. The tokens are those of the recompute (false): see generate_tokens.
  bool kv_cache = true;
};

// Samples opts.tokens tokens after `prompt` (non-empty token ids) with `model`, which this puts in
// eval mode, under NoGrad; on_token gets each as soon as it is sampled. Only the last block_size ids
// are kept, so memory does not grow with the token count. With opts.kv_cache the prompt is run once
// and each new token as one position; once the context outgrows block_size the window slides, every
// position shifts, and each token recomputes the last block_size (as without the cache). A model the
// cache would change (expert choice, an eval capacity factor: layers/kv_cache.h) recomputes from the
// start, and `notes` gets one line saying why. Non-finite outputs are an error naming `source`.
void generate_tokens(nn::GPT& model, const std::vector<int32_t>& prompt, const GenerateOptions& opts,
                     const std::function<void(int32_t)>& on_token, const std::string& source,
                     std::ostream& notes = std::cerr);

// Samples opts.tokens tokens after the prompt. `on_text` receives the prompt, then each token's text
// as soon as it is sampled (a program prints them as they come, so Ctrl-C keeps what was printed).
void run_generate(const std::string& ckpt, const GenerateOptions& opts,
                  const std::function<void(const std::string&)>& on_text, std::ostream& notes = std::cerr);
// The prompt and the sampled continuation as one string.
std::string generate_text(const std::string& ckpt, const GenerateOptions& opts, std::ostream& notes = std::cerr);

}  // namespace moelab::train
