#include "train/generate.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <vector>

#include "autograd/tape.h"
#include "core/error.h"
#include "train/checkpoint/checkpoint.h"

namespace moelab::train {

void run_generate(const std::string& ckpt, const GenerateOptions& o, const std::function<void(const std::string&)>& on_text) {
  MOELAB_CHECK(o.tokens >= 0, "generate: --tokens must be >= 0");
  MOELAB_CHECK(o.temperature >= 0, "generate: --temperature must be >= 0");
  LoadedModel lm = load_checkpoint(ckpt);
  const std::vector<int32_t> prompt = lm.tokenizer.encode(o.prompt, "generate: --prompt");
  MOELAB_CHECK(!prompt.empty(), "generate: --prompt is empty");
  on_text(o.prompt);
  Rng rng(o.seed, 3);
  autograd::NoGrad no_grad;
  lm.model->set_training(false);
  const int64_t T = lm.config.model.block_size, V = lm.config.model.vocab_size;
  std::deque<int32_t> context(prompt.end() - std::min<int64_t>(T, static_cast<int64_t>(prompt.size())), prompt.end());
  std::vector<float> probs(V);
  for (int64_t n = 0; n < o.tokens; ++n) {
    const int64_t ctx = static_cast<int64_t>(context.size());
    IndexTensor in = IndexTensor::empty({1, ctx});
    std::copy(context.begin(), context.end(), in.data());
    Tensor logits = lm.model->forward(in).logits.value();
    const float* last = logits.data() + (ctx - 1) * V;
    for (int64_t v = 0; v < V; ++v)
      MOELAB_CHECK(std::isfinite(last[v]), "generate: ", ckpt, " gives non-finite outputs (logit ", last[v],
                   " for token ", v, "): the model is broken");
    int32_t next = 0;
    if (o.temperature == 0) {
      next = static_cast<int32_t>(std::max_element(last, last + V) - last);
    } else {
      float cutoff = -INFINITY;
      if (o.top_k > 0 && o.top_k < V) {
        std::vector<float> sorted(last, last + V);
        std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<float>());
        cutoff = sorted[o.top_k - 1];
      }
      const float mx = *std::max_element(last, last + V);
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) {
        probs[v] = last[v] < cutoff ? 0.f : std::exp((last[v] - mx) / o.temperature);
        sum += probs[v];
      }
      double u = rng.uniform() * sum, acc = 0;
      next = static_cast<int32_t>(V - 1);
      for (int64_t v = 0; v < V; ++v) {
        acc += probs[v];
        if (u < acc) {
          next = static_cast<int32_t>(v);
          break;
        }
      }
    }
    if (static_cast<int64_t>(context.size()) == T) context.pop_front();
    context.push_back(next);
    on_text(lm.tokenizer.decode({next}));
  }
}

std::string generate_text(const std::string& ckpt, const GenerateOptions& opts) {
  std::string text;
  run_generate(ckpt, opts, [&](const std::string& piece) { text += piece; });
  return text;
}

}  // namespace moelab::train
