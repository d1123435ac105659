// The KV cache (layers/kv_cache.h): a prompt and then one position at a time through
// GPT::forward_cached give forward's logits for dense and MoE models; models whose tokens interact
// (expert choice, an eval capacity factor) are refused with the reason.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "autograd/tape.h"
#include "layers/gpt.h"
#include "layers/kv_cache.h"

using moelab::IndexTensor;
using moelab::Rng;
using moelab::Tensor;
namespace nn = moelab::nn;

namespace {

nn::ModelConfig small_config() {
  nn::ModelConfig cfg;
  cfg.vocab_size = 11;
  cfg.n_layer = 2;  // with moe.every 2: layer 0 dense, layer 1 MoE
  cfg.n_head = 2;
  cfg.n_embd = 8;
  cfg.block_size = 9;
  cfg.ffn.mult = 2;
  return cfg;
}

nn::ModelConfig moe_config(const std::string& router, int k) {
  nn::ModelConfig cfg = small_config();
  cfg.moe.num_experts = 4;
  cfg.moe.top_k = k;
  cfg.moe.router.type = router;
  return cfg;
}

// Columns [begin, end) of ids [B, T].
IndexTensor columns(const IndexTensor& ids, int64_t begin, int64_t end) {
  const int64_t B = ids.size(0), T = ids.size(1);
  IndexTensor out = IndexTensor::empty({B, end - begin});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = begin; t < end; ++t) out[b * (end - begin) + t - begin] = ids[b * T + t];
  return out;
}

// A model in eval mode with every parameter moved off its init (zero biases, unit norms,
// zero-initialised routers), so each one matters, and logits large enough to tell positions apart.
std::unique_ptr<nn::GPT> perturbed_model(const nn::ModelConfig& cfg) {
  auto model = std::make_unique<nn::GPT>(cfg, 5);
  Rng rng(11, 0);
  for (auto& np : model->named_parameters())
    for (int64_t i = 0; i < np.param->var.numel(); ++i) np.param->var.data()[i] += 0.3f * rng.normal();
  model->set_training(false);
  return model;
}

// The model's logits for 2 sequences of block_size tokens, all at once (forward) and through the
// cache (a prompt of `prompt` tokens, then one token per call): the largest difference, relative
// to the largest logit (at least 1).
double cached_vs_full_error(const nn::ModelConfig& cfg, int64_t prompt) {
  std::unique_ptr<nn::GPT> model_ptr = perturbed_model(cfg);
  nn::GPT& model = *model_ptr;
  Rng rng(11, 1);
  moelab::autograd::NoGrad no_grad;
  const int64_t B = 2, T = cfg.block_size, V = cfg.vocab_size;
  IndexTensor ids = IndexTensor::empty({B, T});
  for (int64_t i = 0; i < B * T; ++i) ids[i] = static_cast<int32_t>(rng.randint(V));
  const Tensor full = model.forward(ids).logits.value();
  double scale = 1, err = 0;
  for (int64_t i = 0; i < full.numel(); ++i) scale = std::max(scale, std::abs(static_cast<double>(full[i])));
  nn::KVCache cache(cfg, B);
  for (int64_t begin = 0; begin < T;) {
    const int64_t end = begin == 0 ? prompt : begin + 1;
    const Tensor part = model.forward_cached(columns(ids, begin, end), cache);
    REQUIRE(part.shape() == moelab::Shape{B, end - begin, V});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = begin; t < end; ++t)
        for (int64_t v = 0; v < V; ++v)
          err = std::max(err, std::abs(static_cast<double>(part[(b * (end - begin) + t - begin) * V + v]) -
                                       full[(b * T + t) * V + v]));
    begin = end;
  }
  CHECK(cache.length() == T);
  return err / scale;
}

}  // namespace

TEST_CASE("kv cache: prompt + one position at a time = the full forward's logits") {
  nn::ModelConfig cfg = small_config();
  SUBCASE("dense, layernorm with bias") {}
  SUBCASE("dense, rmsnorm without bias, swiglu") {
    cfg.norm = "rmsnorm";
    cfg.bias = false;
    cfg.ffn.activation = "swiglu";
  }
  SUBCASE("moe topk k=1") { cfg = moe_config("topk", 1); }
  SUBCASE("moe topk k=2 renorm, shared expert, rmsnorm, no bias") {
    cfg = moe_config("topk", 2);
    cfg.moe.router.renorm = true;
    cfg.moe.shared_experts = 1;
    cfg.norm = "rmsnorm";
    cfg.bias = false;
  }
  SUBCASE("moe topk k=2, capacity while training only (dropless at eval)") {
    cfg = moe_config("topk", 2);
    cfg.moe.capacity.factor = 1.0;
    cfg.moe.capacity.eval_factor = 0;
  }
  SUBCASE("moe soft") { cfg = moe_config("soft", 1); }
  SUBCASE("moe noisy_topk (eval: no noise)") { cfg = moe_config("noisy_topk", 2); }
  SUBCASE("moe hash") { cfg = moe_config("hash", 1); }
  CHECK(nn::GPT(cfg, 5).cached_forward_blocker().empty());
  for (int64_t prompt : {1, 4, 9}) {  // 9 = block_size: the whole sequence is the prompt
    CAPTURE(prompt);
    CHECK(cached_vs_full_error(cfg, prompt) < 1e-5);
  }
}

TEST_CASE("kv cache: a token cached at the wrong position gives other logits (the comparison can fail)") {
  const nn::ModelConfig cfg = small_config();
  std::unique_ptr<nn::GPT> model = perturbed_model(cfg);
  moelab::autograd::NoGrad no_grad;
  IndexTensor ids = IndexTensor::empty({1, 3});
  ids[0] = 1, ids[1] = 2, ids[2] = 3;
  const Tensor full = model->forward(ids).logits.value();
  nn::KVCache right(cfg, 1), skipped(cfg, 1);
  model->forward_cached(columns(ids, 0, 2), right);
  const Tensor at_2 = model->forward_cached(columns(ids, 2, 3), right);
  model->forward_cached(columns(ids, 0, 1), skipped);
  const Tensor at_1 = model->forward_cached(columns(ids, 2, 3), skipped);  // "1 3": token 3 at position 1
  double right_err = 0, skipped_err = 0;
  for (int64_t v = 0; v < cfg.vocab_size; ++v) {
    right_err = std::max(right_err, std::abs(static_cast<double>(at_2[v]) - full[2 * cfg.vocab_size + v]));
    skipped_err = std::max(skipped_err, std::abs(static_cast<double>(at_1[v]) - full[2 * cfg.vocab_size + v]));
  }
  CHECK(right_err < 1e-5);
  CHECK(skipped_err > 1e-2);
}

TEST_CASE("kv cache: models whose tokens interact are refused, naming why") {
  nn::ModelConfig cfg = moe_config("expert_choice", 1);
  CHECK(nn::GPT(cfg, 5).cached_forward_blocker().find("layer 1's FFN: its router (expert_choice)") == 0);
  cfg = moe_config("topk", 2);
  cfg.moe.capacity.factor = 1.25;  // eval_factor -1: the same at eval
  nn::GPT model(cfg, 5);
  CHECK(model.cached_forward_blocker().find("eval capacity factor 1.25") != std::string::npos);
  model.set_training(false);
  moelab::autograd::NoGrad no_grad;
  nn::KVCache cache(cfg, 1);
  IndexTensor one = IndexTensor::zeros({1, 1});
  CHECK_THROWS_WITH_AS(model.forward_cached(one, cache), doctest::Contains("would change this model's outputs"),
                       moelab::Error);
}

TEST_CASE("kv cache: past block_size, under the tape or in training mode is an error") {
  const nn::ModelConfig cfg = small_config();
  nn::GPT model(cfg, 5);
  nn::KVCache cache(cfg, 1);
  IndexTensor one = IndexTensor::zeros({1, 1});
  CHECK_THROWS_WITH_AS(model.forward_cached(one, cache), doctest::Contains("inference"), moelab::Error);
  model.set_training(false);
  moelab::autograd::NoGrad no_grad;
  model.forward_cached(IndexTensor::zeros({1, cfg.block_size}), cache);
  CHECK(cache.length() == cfg.block_size);
  CHECK_THROWS_WITH_AS(model.forward_cached(one, cache), doctest::Contains("exceed block_size"), moelab::Error);
  nn::KVCache two(cfg, 2);
  CHECK_THROWS_WITH_AS(model.forward_cached(one, two), doctest::Contains("must be [2, time >= 1]"), moelab::Error);
}
