// End to end: a tiny GPT + AdamW memorises one fixed batch (loss -> ~0), and training with a
// frozen block leaves that block bit for bit unchanged.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gradcheck.h"
#include "layers/gpt.h"
#include "optim/optimizer.h"

using moelab::IndexTensor;
using moelab::Tensor;
using moelab::testing::randint;
namespace nn = moelab::nn;
namespace ag = moelab::autograd;
namespace optim = moelab::optim;

namespace {

nn::ModelConfig overfit_config() {
  nn::ModelConfig cfg;
  cfg.vocab_size = 8;
  cfg.n_layer = 1;
  cfg.n_head = 2;
  cfg.n_embd = 16;
  cfg.block_size = 8;
  return cfg;
}

std::vector<optim::ParamRef> param_refs(nn::Module& model) {
  std::vector<optim::ParamRef> refs;
  for (const auto& np : model.named_parameters())
    refs.push_back({np.name, np.param->var, nn::decays(np.param->role), np.param->frozen});
  return refs;
}

// Next-token batch from random sequences of length T + 1: ids = seq[:T], targets = seq[1:].
void make_batch(int64_t B, int64_t T, int32_t V, uint64_t seed, IndexTensor& ids, IndexTensor& targets) {
  IndexTensor seq = randint({B, T + 1}, V, seed);
  ids = IndexTensor::empty({B, T});
  targets = IndexTensor::empty({B, T});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      ids[b * T + t] = seq[b * (T + 1) + t];
      targets[b * T + t] = seq[b * (T + 1) + t + 1];
    }
}

}  // namespace

TEST_CASE("overfit: a tiny GPT with AdamW drives the loss on one fixed batch to ~0") {
  nn::GPT model(overfit_config(), 1337);
  optim::AdamW opt(param_refs(model), optim::AdamWConfig{0.9f, 0.95f, 1e-8f, 0.f});
  IndexTensor ids, targets;
  make_batch(2, 8, 8, 2024, ids, targets);
  // Memorisable: the two rows' first tokens differ (the first prediction sees only that token).
  REQUIRE(ids[0] != ids[8]);

  float first = 0, last = 0, best = 1e9f;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    nn::ModelOutput out = model.forward(ids, targets);
    const float loss = out.loss.item();
    REQUIRE(std::isfinite(loss));
    if (step == 0) first = loss;
    last = loss;
    best = std::min(best, loss);
    ag::backward(out.loss);
    opt.step(1e-2f);
  }
  // The final loss after the last update.
  ag::clear_tape();
  const float final_loss = model.forward(ids, targets).loss.item();
  ag::clear_tape();
  MESSAGE("overfit: initial loss " << first << ", loss at step 149 " << last << ", final " << final_loss);
  CHECK(first == doctest::Approx(std::log(8.0)).epsilon(0.05));
  CHECK(final_loss < 0.05f);
  CHECK(opt.steps() == 150);
}

TEST_CASE("overfit: a frozen block is bitwise unchanged by training, the rest moves") {
  nn::ModelConfig cfg = overfit_config();
  cfg.n_layer = 2;
  nn::GPT model(cfg, 7);
  REQUIRE(model.freeze("transformer.h.0.") == 12);
  std::vector<Tensor> before;
  for (const auto& np : model.named_parameters()) before.push_back(np.param->var.value().clone());
  optim::AdamW opt(param_refs(model), optim::AdamWConfig{});
  IndexTensor ids, targets;
  make_batch(2, 8, 8, 5, ids, targets);
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    ag::backward(model.forward(ids, targets).loss);
    opt.step(1e-2f);
  }
  auto params = model.named_parameters();
  auto state = opt.state();
  for (size_t i = 0; i < params.size(); ++i) {
    CAPTURE(params[i].name);
    const Tensor& now = params[i].param->var.value();
    const bool same = std::memcmp(now.data(), before[i].data(), now.numel() * sizeof(float)) == 0;
    CHECK(same == params[i].param->frozen);
    CHECK(state.count("exp_avg." + params[i].name) == (params[i].param->frozen ? 0u : 1u));
  }
}
