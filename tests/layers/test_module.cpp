// Module tree of the GPT: parameter names, order, shapes and roles (the checkpoint and optimizer
// contract), initialisation statistics, seeding, freezing and the config switches.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "layers/gpt.h"
#include "layers/param_check.h"

using moelab::Error;
using moelab::IndexTensor;
using moelab::Shape;
using moelab::shape_str;
using moelab::Tensor;
using moelab::autograd::Var;
using moelab::testing::randint;
namespace nn = moelab::nn;
namespace ag = moelab::autograd;
using moelab::testing::tiny_gpt_config;

namespace {

struct Expected {
  std::string name;
  Shape shape;
  nn::Role role;
};

std::vector<Expected> expected_tiny_params() {
  const int64_t V = 11, T = 6, d = 8;
  std::vector<Expected> e = {
      {"transformer.wte.weight", {V, d}, nn::Role::Embedding},
      {"transformer.wpe.weight", {T, d}, nn::Role::Embedding},
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    std::vector<Expected> block = {
        {p + "ln_1.weight", {d}, nn::Role::Norm},
        {p + "ln_1.bias", {d}, nn::Role::Norm},
        {p + "attn.c_attn.weight", {3 * d, d}, nn::Role::Matmul},
        {p + "attn.c_attn.bias", {3 * d}, nn::Role::Bias},
        {p + "attn.c_proj.weight", {d, d}, nn::Role::Matmul},
        {p + "attn.c_proj.bias", {d}, nn::Role::Bias},
        {p + "ln_2.weight", {d}, nn::Role::Norm},
        {p + "ln_2.bias", {d}, nn::Role::Norm},
        {p + "mlp.c_fc.weight", {4 * d, d}, nn::Role::Matmul},
        {p + "mlp.c_fc.bias", {4 * d}, nn::Role::Bias},
        {p + "mlp.c_proj.weight", {d, 4 * d}, nn::Role::Matmul},
        {p + "mlp.c_proj.bias", {d}, nn::Role::Bias},
    };
    e.insert(e.end(), block.begin(), block.end());
  }
  e.push_back({"transformer.ln_f.weight", {d}, nn::Role::Norm});
  e.push_back({"transformer.ln_f.bias", {d}, nn::Role::Norm});
  return e;
}

double mean_of(const Tensor& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t[i];
  return s / static_cast<double>(t.numel());
}

double std_of(const Tensor& t) {
  const double m = mean_of(t);
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += (t[i] - m) * (t[i] - m);
  return std::sqrt(s / static_cast<double>(t.numel()));
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TEST_CASE("gpt: named parameters have the nanoGPT names, order, shapes and roles; lm_head is tied") {
  nn::GPT model(tiny_gpt_config(), 42);
  auto params = model.named_parameters();
  const auto expected = expected_tiny_params();
  REQUIRE(params.size() == expected.size());
  int64_t total = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(params[i].name == expected[i].name);
    CHECK(shape_str(params[i].param->var.shape()) == shape_str(expected[i].shape));
    CHECK(nn::role_name(params[i].param->role) == std::string(nn::role_name(expected[i].role)));
    CHECK(params[i].param->var.requires_grad());
    CHECK_FALSE(params[i].param->frozen);
    total += params[i].param->var.numel();
  }
  for (const auto& np : params) CHECK(np.name.find("lm_head") == std::string::npos);
  // 88 + 48 + 2 * (16 + 216 + 72 + 16 + 288 + 264) + 16
  CHECK(total == 1896);
  CHECK(model.num_parameters() == 1896);

  // find_parameter returns the registered parameter, and the module's public Var is the same handle.
  nn::Parameter* wte = model.find_parameter("transformer.wte.weight");
  REQUIRE(wte != nullptr);
  CHECK(wte->var.same(model.transformer->wte->weight));
  nn::Parameter* c_attn = model.find_parameter("transformer.h.1.attn.c_attn.weight");
  REQUIRE(c_attn != nullptr);
  CHECK(c_attn->var.same((*model.transformer->h)[1].attn->c_attn->weight));
  CHECK(model.find_parameter("lm_head.weight") == nullptr);
  CHECK(model.find_parameter("transformer.h.2.ln_1.weight") == nullptr);
}

TEST_CASE("roles: only matmul, embedding and router parameters decay") {
  CHECK(nn::decays(nn::Role::Matmul));
  CHECK(nn::decays(nn::Role::Embedding));
  CHECK(nn::decays(nn::Role::Router));
  CHECK_FALSE(nn::decays(nn::Role::Norm));
  CHECK_FALSE(nn::decays(nn::Role::Bias));
}

TEST_CASE("gpt: initialisation statistics (N(0, 0.02), residual projections scaled by depth, norms 1/0)") {
  nn::ModelConfig cfg;
  cfg.vocab_size = 100;
  cfg.n_layer = 4;
  cfg.n_head = 4;
  cfg.n_embd = 128;
  cfg.block_size = 64;
  nn::GPT model(cfg, 7);
  const double base = 0.02, proj = 0.02 / std::sqrt(2.0 * cfg.n_layer);  // 0.02 / sqrt(8)
  int checked_matmul = 0, checked_zero = 0, checked_ones = 0;
  for (const auto& np : model.named_parameters()) {
    CAPTURE(np.name);
    const Tensor& w = np.param->var.value();
    const nn::Role role = np.param->role;
    if (role == nn::Role::Matmul || role == nn::Role::Embedding) {
      const bool is_proj = ends_with(np.name, "c_proj.weight");
      const double want = is_proj ? proj : base;
      CHECK(std::abs(mean_of(w)) < 0.1 * want);
      CHECK(std_of(w) == doctest::Approx(want).epsilon(0.1));
      ++checked_matmul;
    } else if (role == nn::Role::Bias || ends_with(np.name, ".bias")) {
      for (int64_t i = 0; i < w.numel(); ++i) REQUIRE(w[i] == 0.f);
      ++checked_zero;
    } else {
      REQUIRE(role == nn::Role::Norm);
      REQUIRE(ends_with(np.name, ".weight"));
      for (int64_t i = 0; i < w.numel(); ++i) REQUIRE(w[i] == 1.f);
      ++checked_ones;
    }
  }
  CHECK(checked_matmul == 2 + 4 * 4);
  CHECK(checked_zero == 4 * 6 + 1);  // 4 linear biases + 2 LN biases per block, ln_f.bias
  CHECK(checked_ones == 4 * 2 + 1);

  // The depth scaling in isolation: c_attn at 0.02, both c_proj at 0.02/sqrt(8).
  auto& blk = (*model.transformer->h)[2];
  CHECK(std_of(blk.attn->c_attn->weight.value()) == doctest::Approx(0.02).epsilon(0.1));
  CHECK(std_of(blk.attn->c_proj->weight.value()) == doctest::Approx(proj).epsilon(0.1));
  CHECK(std_of(blk.mlp->c_fc->weight.value()) == doctest::Approx(0.02).epsilon(0.1));
  CHECK(std_of(blk.mlp->c_proj->weight.value()) == doctest::Approx(proj).epsilon(0.1));
  // Different layers draw different values.
  CHECK_FALSE(bitwise_equal((*model.transformer->h)[0].attn->c_attn->weight.value(), blk.attn->c_attn->weight.value()));
}

TEST_CASE("gpt: the same seed gives identical parameters, a different seed different ones") {
  nn::GPT a(tiny_gpt_config(), 123), b(tiny_gpt_config(), 123), c(tiny_gpt_config(), 124);
  auto pa = a.named_parameters(), pb = b.named_parameters(), pc = c.named_parameters();
  REQUIRE(pa.size() == pb.size());
  REQUIRE(pa.size() == pc.size());
  int differing = 0, random_params = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    CAPTURE(pa[i].name);
    CHECK(bitwise_equal(pa[i].param->var.value(), pb[i].param->var.value()));
    CHECK_FALSE(pa[i].param->var.value().shares_storage(pb[i].param->var.value()));
    const nn::Role r = pa[i].param->role;
    if (r == nn::Role::Matmul || r == nn::Role::Embedding) {
      ++random_params;
      if (!bitwise_equal(pa[i].param->var.value(), pc[i].param->var.value())) ++differing;
    }
  }
  CHECK(random_params == 2 + 2 * 4);
  CHECK(differing == random_params);

  // And the forward pass is a pure function of (seed, input).
  IndexTensor ids = randint({2, 5}, 11, 9);
  Var la = a.forward(ids).logits, lb = b.forward(ids).logits;
  ag::clear_tape();
  CHECK(bitwise_equal(la.value(), lb.value()));
}

TEST_CASE("gpt: forward shapes, initial loss near log(V), input validation") {
  nn::GPT model(tiny_gpt_config(), 1);
  IndexTensor ids = randint({3, 5}, 11, 2), targets = randint({3, 5}, 11, 3);
  nn::ModelOutput out = model.forward(ids, targets);
  CHECK(shape_str(out.logits.shape()) == "[3,5,11]");
  REQUIRE(out.loss.defined());
  CHECK(out.loss.numel() == 1);
  // Small init: logits are nearly uniform.
  CHECK(out.loss.item() == doctest::Approx(std::log(11.0)).epsilon(0.02));
  ag::clear_tape();
  nn::ModelOutput no_targets = model.forward(ids);
  CHECK_FALSE(no_targets.loss.defined());
  ag::clear_tape();
  CHECK_THROWS_AS(model.forward(randint({1, 7}, 11, 4)), Error);                     // T > block_size
  CHECK_THROWS_AS(model.forward(randint({5}, 11, 4)), Error);                        // not [B, T]
  CHECK_THROWS_AS(model.forward(ids, randint({3, 4}, 11, 5)), Error);                // targets mismatch
  ag::clear_tape();
  // Full block_size works.
  CHECK(shape_str(model.forward(randint({1, 6}, 11, 6)).logits.shape()) == "[1,6,11]");
  ag::clear_tape();
}

TEST_CASE("gpt: freeze(prefix) freezes exactly the matching parameters and stops their gradients") {
  nn::GPT model(tiny_gpt_config(), 5);
  const std::string prefix = "transformer.h.0.";
  CHECK(model.freeze(prefix) == 12);
  int frozen = 0;
  for (const auto& np : model.named_parameters()) {
    CAPTURE(np.name);
    const bool match = np.name.rfind(prefix, 0) == 0;
    CHECK(np.param->frozen == match);
    CHECK(np.param->var.requires_grad() == !match);
    if (match) ++frozen;
  }
  CHECK(frozen == 12);

  // Backward leaves frozen parameters without gradients and still reaches everything else.
  IndexTensor ids = randint({2, 5}, 11, 7), targets = randint({2, 5}, 11, 8);
  ag::backward(model.forward(ids, targets).loss);
  for (const auto& np : model.named_parameters()) {
    CAPTURE(np.name);
    const bool match = np.name.rfind(prefix, 0) == 0;
    CHECK(np.param->var.has_grad() == !match);
  }

  // Unfreezing restores both flags; an unmatched prefix changes nothing.
  CHECK(model.freeze(prefix, false) == 12);
  for (const auto& np : model.named_parameters()) {
    CHECK_FALSE(np.param->frozen);
    CHECK(np.param->var.requires_grad());
  }
  CHECK(model.freeze("nothing.") == 0);
  CHECK(model.freeze("transformer.wte") == 1);
  CHECK(model.find_parameter("transformer.wte.weight")->frozen);
  CHECK_FALSE(model.find_parameter("transformer.wpe.weight")->frozen);
}

TEST_CASE("config: bias = false registers no bias parameters (linear or layernorm)") {
  nn::ModelConfig cfg = tiny_gpt_config();
  cfg.bias = false;
  nn::GPT model(cfg, 3);
  auto params = model.named_parameters();
  CHECK(params.size() == 2 + 2 * 6 + 1);
  for (const auto& np : params) {
    CAPTURE(np.name);
    CHECK_FALSE(ends_with(np.name, ".bias"));
    CHECK(np.param->role != nn::Role::Bias);
  }
  auto& blk = (*model.transformer->h)[0];
  CHECK_FALSE(blk.attn->c_attn->bias.defined());
  CHECK_FALSE(blk.ln_1->bias.defined());
  // And it still runs.
  CHECK(std::isfinite(model.forward(randint({1, 4}, 11, 1), randint({1, 4}, 11, 2)).loss.item()));
  ag::clear_tape();
}

TEST_CASE("config: rmsnorm has only weight parameters; linear biases remain") {
  nn::ModelConfig cfg = tiny_gpt_config();
  cfg.norm = "rmsnorm";
  nn::GPT model(cfg, 3);
  int norm_params = 0, bias_params = 0;
  for (const auto& np : model.named_parameters()) {
    CAPTURE(np.name);
    if (np.param->role == nn::Role::Norm) {
      ++norm_params;
      CHECK(ends_with(np.name, ".weight"));
    }
    if (np.param->role == nn::Role::Bias) ++bias_params;
  }
  CHECK(norm_params == 2 * 2 + 1);
  CHECK(bias_params == 2 * 4);
  CHECK(model.find_parameter("transformer.ln_f.bias") == nullptr);
  CHECK(model.find_parameter("transformer.h.1.ln_2.bias") == nullptr);
  CHECK(std::isfinite(model.forward(randint({1, 4}, 11, 1), randint({1, 4}, 11, 2)).loss.item()));
  ag::clear_tape();

  cfg.norm = "batchnorm";
  CHECK_THROWS_AS(nn::GPT(cfg, 3), Error);
}

TEST_CASE("config: swiglu doubles c_fc's output width; unknown activations are rejected") {
  nn::ModelConfig cfg = tiny_gpt_config();
  cfg.ffn.activation = "swiglu";
  nn::GPT model(cfg, 3);
  const int64_t d = 8;
  auto* fc = model.find_parameter("transformer.h.0.mlp.c_fc.weight");
  auto* fcb = model.find_parameter("transformer.h.0.mlp.c_fc.bias");
  auto* proj = model.find_parameter("transformer.h.0.mlp.c_proj.weight");
  REQUIRE(fc != nullptr);
  REQUIRE(fcb != nullptr);
  REQUIRE(proj != nullptr);
  CHECK(fc->var.shape() == Shape{2 * 4 * d, d});
  CHECK(fcb->var.shape() == Shape{2 * 4 * d});
  CHECK(proj->var.shape() == Shape{d, 4 * d});
  CHECK(std::isfinite(model.forward(randint({1, 4}, 11, 1), randint({1, 4}, 11, 2)).loss.item()));
  ag::clear_tape();

  cfg.ffn.activation = "gelu";
  cfg.ffn.mult = 2;
  nn::GPT narrow(cfg, 3);
  CHECK(narrow.find_parameter("transformer.h.0.mlp.c_fc.weight")->var.shape() == Shape{2 * d, d});

  cfg.ffn.activation = "tanh";
  CHECK_THROWS_AS(nn::GPT(cfg, 3), Error);
  cfg = tiny_gpt_config();
  cfg.n_head = 3;  // 8 % 3 != 0
  CHECK_THROWS_AS(nn::GPT(cfg, 3), Error);
  cfg = tiny_gpt_config();
  cfg.vocab_size = 0;
  CHECK_THROWS_AS(nn::GPT(cfg, 3), Error);
}

TEST_CASE("dropout is active in training mode only; set_training reaches every submodule") {
  nn::ModelConfig cfg = tiny_gpt_config();
  cfg.dropout = 0.5f;
  nn::GPT model(cfg, 3);
  IndexTensor ids = randint({2, 5}, 11, 4);
  CHECK(model.training());
  CHECK((*model.transformer->h)[1].attn->c_proj->training());
  Var t1 = model.forward(ids).logits, t2 = model.forward(ids).logits;
  ag::clear_tape();
  CHECK_FALSE(bitwise_equal(t1.value(), t2.value()));
  model.set_training(false);
  CHECK_FALSE(model.training());
  CHECK_FALSE((*model.transformer->h)[1].attn->c_proj->training());
  Var e1 = model.forward(ids).logits, e2 = model.forward(ids).logits;
  ag::clear_tape();
  CHECK(bitwise_equal(e1.value(), e2.value()));
  // Eval mode equals a dropout-free model with the same seed.
  cfg.dropout = 0.f;
  nn::GPT plain(cfg, 3);
  Var p = plain.forward(ids).logits;
  ag::clear_tape();
  CHECK(bitwise_equal(e1.value(), p.value()));
}
