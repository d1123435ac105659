// tests/layers/param_check.h: finite-difference checks of a module's own parameters (the Vars it
// holds), shared by the layer and MoE tests. Include after doctest.
#pragma once
#include <cmath>
#include <functional>
#include <sstream>
#include <string>

#include "gradcheck.h"
#include "layers/config.h"
#include "layers/module.h"

namespace moelab::testing {

namespace nn = moelab::nn;
namespace ag = moelab::autograd;

constexpr float kEps = 5e-3f;
constexpr double kAtol = 1e-3, kRtol = 1e-2;

// Replaces every parameter with seeded random values so gradients are O(1) and biases and norm
// parameters are not at their trivial init (matmul/embedding/bias ~ N(0, scale^2), norm weights 1 + N(0, 0.1^2)).
inline void randomize(nn::Module& m, uint64_t seed, float scale) {
  ag::NoGrad ng;
  for (const auto& np : m.named_parameters()) {
    const Tensor& v = np.param->var.value();
    const bool norm_weight = np.param->role == nn::Role::Norm && np.name.size() >= 6 &&
                             np.name.compare(np.name.size() - 6, 6, "weight") == 0;
    Tensor r = randn(v.shape(), seed++, norm_weight ? 0.1f : scale);
    if (norm_weight)
      for (int64_t i = 0; i < r.numel(); ++i) r[i] += 1.f;
    v.copy_from(r);
  }
}

inline void clear_grads(nn::Module& m) {
  for (const auto& np : m.named_parameters()) np.param->var.clear_grad();
}

// The library's gradcheck on one Var held by `owner` (every `stride`-th element about: `samples`
// elements; 0 = all); every gradient of `owner` is cleared afterwards.
inline GradcheckResult param_fd(nn::Module& owner, const std::function<Var()>& f, const Var& param, int64_t samples = 0,
                                uint64_t seed = 99, double atol = kAtol, double rtol = kRtol, double min_grad = kAtol) {
  GradcheckOptions o;
  o.eps = kEps;
  o.atol = atol;
  o.rtol = rtol;
  o.seed = seed;
  o.samples = samples;
  o.min_abs_gradient = min_grad;
  GradcheckResult r = gradcheck(f, {{"param", param}}, o);
  clear_grads(owner);
  return r;
}

// Every parameter of `m`, about `samples` elements each; `min_grad` guards against a vacuous pass.
inline void check_all_params(nn::Module& m, const std::function<Var()>& f, double min_grad = 10 * kAtol, int64_t samples = 24) {
  for (const auto& np : m.named_parameters()) {
    CAPTURE(np.name);
    GradcheckResult r = param_fd(m, f, np.param->var, samples, 99, kAtol, kRtol, min_grad);
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.checked > 0);
  }
}

// The small GPT the layer tests build (vocab 11, 2 layers, 2 heads, d 8, block 6).
inline nn::ModelConfig tiny_gpt_config() {
  nn::ModelConfig cfg;
  cfg.vocab_size = 11;
  cfg.n_layer = 2;
  cfg.n_head = 2;
  cfg.n_embd = 8;
  cfg.block_size = 6;
  return cfg;
}

}  // namespace moelab::testing
