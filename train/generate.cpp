#include "train/generate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "autograd/tape.h"
#include "core/error.h"
#include "train/checkpoint/checkpoint.h"

namespace moelab::train {

std::string run_generate(const std::string& ckpt, const GenerateOptions& o) {
  MOELAB_CHECK(o.tokens >= 0, "generate: --tokens must be >= 0");
  MOELAB_CHECK(o.temperature >= 0, "generate: --temperature must be >= 0");
  LoadedModel lm = load_checkpoint(ckpt);
  std::vector<int32_t> ids = lm.tokenizer.encode(o.prompt, "generate: --prompt");
  MOELAB_CHECK(!ids.empty(), "generate: --prompt is empty");
  Rng rng(o.seed, 3);
  autograd::NoGrad no_grad;
  lm.model->set_training(false);
  const int64_t T = lm.config.model.block_size, V = lm.config.model.vocab_size;
  std::vector<float> probs(V);
  for (int n = 0; n < o.tokens; ++n) {
    const int64_t ctx = std::min<int64_t>(T, ids.size());
    IndexTensor in = IndexTensor::empty({1, ctx});
    std::copy(ids.end() - ctx, ids.end(), in.data());
    Tensor logits = lm.model->forward(in).logits.value();
    const float* last = logits.data() + (ctx - 1) * V;
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
    ids.push_back(next);
  }
  return lm.tokenizer.decode(ids);
}

}  // namespace moelab::train
