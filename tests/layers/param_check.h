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

inline double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y[i]) * r[i];
  return s;
}

struct FdResult {
  bool ok = true;
  int checked = 0;
  double max_abs_numeric = 0;  // so a test cannot pass vacuously on all-zero gradients
  std::string report;
};

// Tape gradient of loss = sum(R * f()) w.r.t. `param` (a Var held by `owner`) vs central
// differences of its value, element by element (every `stride`-th element). A scalar f is used as is (R = 1).
inline FdResult param_fd(nn::Module& owner, const std::function<Var()>& f, const Var& param, int64_t stride = 1,
                  uint64_t seed = 99, double atol = kAtol, double rtol = kRtol) {
  clear_grads(owner);
  Var out = f();
  Tensor r = out.numel() == 1 ? Tensor::full(out.shape(), 1.f) : randn(out.shape(), seed);
  ag::backward(ops::sum(ops::mul(out, Var(r))));
  Tensor analytic = param.has_grad() ? param.grad().clone() : Tensor::zeros(param.shape());

  FdResult res;
  double worst = -1;
  Tensor x = param.value();
  for (int64_t i = 0; i < x.numel(); i += stride) {
    const float orig = x[i];
    double lp, lm;
    {
      ag::NoGrad ng;
      x[i] = orig + kEps;
      lp = weighted_sum(f().value(), r);
      x[i] = orig - kEps;
      lm = weighted_sum(f().value(), r);
      x[i] = orig;
    }
    const double numeric = (lp - lm) / (2.0 * kEps);
    const double err = std::abs(analytic[i] - numeric);
    const double ratio = err / (atol + rtol * std::abs(numeric));
    res.max_abs_numeric = std::max(res.max_abs_numeric, std::abs(numeric));
    ++res.checked;
    if (ratio > worst) {
      worst = ratio;
      std::ostringstream os;
      os << "worst element: " << shape_str(x.shape()) << " index " << i << ": analytic " << analytic[i]
         << " numeric " << numeric << " (" << ratio << "x the tolerance)";
      res.report = os.str();
    }
    if (ratio > 1.0) res.ok = false;
  }
  clear_grads(owner);
  return res;
}

// A stride that visits about `samples` elements; odd, so it is coprime with the power-of-two row
// lengths used here and every column gets visited. Keeps the number of forward passes (each a
// few OpenMP regions, slow on a loaded machine) small.
inline int64_t sample_stride(int64_t numel, int64_t samples) { return numel <= samples ? 1 : (numel / samples) | 1; }

// Every parameter of `m`, about `samples` elements each; `min_grad` guards against a vacuous pass.
inline void check_all_params(nn::Module& m, const std::function<Var()>& f, double min_grad = 10 * kAtol, int64_t samples = 24) {
  for (const auto& np : m.named_parameters()) {
    CAPTURE(np.name);
    FdResult r = param_fd(m, f, np.param->var, sample_stride(np.param->var.numel(), samples));
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.checked > 0);
    CHECK(r.max_abs_numeric > min_grad);
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
