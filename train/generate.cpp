#include "train/generate.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "autograd/tape.h"
#include "core/error.h"
#include "train/checkpoint/checkpoint.h"

namespace moelab::train {

namespace {
// The next token from one position's logits: the argmax at temperature 0, else a draw from
// softmax(logits / temperature) restricted to the top_k largest.
int32_t sample_token(const float* logits, int64_t V, const GenerateOptions& o, Rng& rng, std::vector<float>& probs) {
  if (o.temperature == 0) return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  float cutoff = -INFINITY;
  if (o.top_k > 0 && o.top_k < V) {
    std::vector<float> sorted(logits, logits + V);
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<float>());
    cutoff = sorted[o.top_k - 1];
  }
  const float mx = *std::max_element(logits, logits + V);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) {
    probs[v] = logits[v] < cutoff ? 0.f : std::exp((logits[v] - mx) / o.temperature);
    sum += probs[v];
  }
  const double u = rng.uniform() * sum;
  double acc = 0;
  for (int64_t v = 0; v < V; ++v) {
    acc += probs[v];
    if (u < acc) return static_cast<int32_t>(v);
  }
  return static_cast<int32_t>(V - 1);
}

IndexTensor as_row(std::deque<int32_t>::const_iterator begin, std::deque<int32_t>::const_iterator end) {
  IndexTensor in = IndexTensor::empty({1, static_cast<int64_t>(end - begin)});
  std::copy(begin, end, in.data());
  return in;
}
}  // namespace

void generate_tokens(nn::GPT& model, const std::vector<int32_t>& prompt, const GenerateOptions& o,
                     const std::function<void(int32_t)>& on_token, const std::string& source, std::ostream& notes) {
  MOELAB_CHECK(o.tokens >= 0, "generate: --tokens must be >= 0");
  MOELAB_CHECK(o.temperature >= 0, "generate: --temperature must be >= 0");
  MOELAB_CHECK(!prompt.empty(), "generate: --prompt is empty");
  Rng rng(o.seed, 3);
  autograd::NoGrad no_grad;
  model.set_training(false);
  const int64_t T = model.config().block_size, V = model.config().vocab_size;
  std::deque<int32_t> context(prompt.end() - std::min<int64_t>(T, static_cast<int64_t>(prompt.size())), prompt.end());
  std::optional<nn::KVCache> cache;
  if (o.kv_cache) {
    const std::string blocker = model.cached_forward_blocker();
    if (blocker.empty())
      cache.emplace(model.config());
    else
      notes << "generate: no KV cache (each token recomputes the whole context), as it would change the output: "
            << blocker << "\n";
  }
  std::vector<float> probs(V);
  for (int64_t n = 0; n < o.tokens; ++n) {
    Tensor logits;
    if (cache) {  // the positions not cached yet: the whole prompt first, then the last token sampled
      logits = model.forward_cached(as_row(context.begin() + cache->length(), context.end()), *cache);
    } else {
      logits = model.forward(as_row(context.begin(), context.end())).logits.value();
    }
    const float* last = logits.data() + (logits.numel() / V - 1) * V;
    for (int64_t v = 0; v < V; ++v)
      MOELAB_CHECK(std::isfinite(last[v]), "generate: ", source, " gives non-finite outputs (logit ", last[v],
                   " for token ", v, "): the model is broken");
    const int32_t next = sample_token(last, V, o, rng, probs);
    if (static_cast<int64_t>(context.size()) == T) {
      context.pop_front();
      cache.reset();  // the window slid: every position moved, no cached key is valid any more
    }
    context.push_back(next);
    on_token(next);
  }
}

void run_generate(const std::string& ckpt, const GenerateOptions& o, const std::function<void(const std::string&)>& on_text,
                  std::ostream& notes) {
  MOELAB_CHECK(o.tokens >= 0, "generate: --tokens must be >= 0");
  MOELAB_CHECK(o.temperature >= 0, "generate: --temperature must be >= 0");
  LoadedModel lm = load_checkpoint(ckpt);
  const std::vector<int32_t> prompt = lm.tokenizer.encode(o.prompt, "generate: --prompt");
  MOELAB_CHECK(!prompt.empty(), "generate: --prompt is empty");
  on_text(o.prompt);
  generate_tokens(*lm.model, prompt, o, [&](int32_t token) { on_text(lm.tokenizer.decode({token})); }, ckpt, notes);
}

std::string generate_text(const std::string& ckpt, const GenerateOptions& opts, std::ostream& notes) {
  std::string text;
  run_generate(ckpt, opts, [&](const std::string& piece) { text += piece; }, notes);
  return text;
}

}  // namespace moelab::train
