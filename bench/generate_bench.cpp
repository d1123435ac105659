#include "bench/generate_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "layers/gpt.h"
#include "train/generate.h"
#include "train/memory.h"

namespace moelab::bench {

void run_generate_bench(const train::RunConfig& cfg_in, const GenerateBenchOptions& o, std::ostream& out) {
  MOELAB_CHECK(o.tokens >= 1 && o.tokens <= 1000000, "bench generate: --tokens ", o.tokens, " is not in 1..1000000");
  MOELAB_CHECK(o.repeats >= 1 && o.repeats <= 1000, "bench generate: --repeats ", o.repeats, " is not in 1..1000");
  train::RunConfig cfg = cfg_in;
  cfg.model.vocab_size = o.vocab;
  train::check_fits_in_memory(cfg.model, 1, 0);  // (a training bound, above what generation needs) typos fail early
  nn::GPT model(cfg.model, cfg.train.seed);
  const std::vector<int32_t> prompt = {0};
  train::GenerateOptions g;
  g.tokens = o.tokens;
  g.temperature = 0;  // greedy: both paths must give the same tokens
  // One timed generation: seconds, and the tokens it sampled.
  auto run = [&](bool kv_cache, std::vector<int32_t>& tokens) {
    g.kv_cache = kv_cache;
    tokens.clear();
    const auto t0 = std::chrono::steady_clock::now();
    train::generate_tokens(model, prompt, g, [&](int32_t t) { tokens.push_back(t); }, "bench generate");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  std::vector<double> cached_s, recompute_s;
  std::vector<int32_t> with_cache, without_cache;
  for (int r = 0; r < o.repeats; ++r) {
    cached_s.push_back(run(true, with_cache));
    recompute_s.push_back(run(false, without_cache));
    MOELAB_CHECK(with_cache == without_cache, "bench generate: the KV cache changed the greedy tokens (run ", r, ")");
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double cached = o.tokens / median(cached_s), recompute = o.tokens / median(recompute_s);
  char line[512];
  std::snprintf(line, sizeof line,
                "{\"threads\": %d, \"params\": %lld, \"block\": %d, \"prompt_tokens\": 1, \"new_tokens\": %d, "
                "\"repeats\": %d, \"kv_cache_tokens_per_s\": %.1f, \"recompute_tokens_per_s\": %.1f, "
                "\"speedup\": %.2f, \"identical_tokens\": true}\n",
                num_threads(), static_cast<long long>(model.num_parameters()), cfg.model.block_size, o.tokens,
                o.repeats, cached, recompute, cached / recompute);
  out << line;
}

}  // namespace moelab::bench
