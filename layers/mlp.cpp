#include "layers/mlp.h"

namespace moelab::nn {

std::pair<kernels::Activation, bool> parse_activation(const std::string& name) {
  if (name == "gelu") return {kernels::Activation::Gelu, false};
  if (name == "gelu_tanh") return {kernels::Activation::GeluTanh, false};
  if (name == "relu") return {kernels::Activation::Relu, false};
  if (name == "silu") return {kernels::Activation::Silu, false};
  if (name == "swiglu") return {kernels::Activation::Silu, true};
  throw Error("activation: unknown \"" + name + "\" (known: gelu, gelu_tanh, relu, silu, swiglu)");
}

MLP::MLP(int64_t dim, int64_t hidden, const std::string& activation, bool bias, float proj_std, Rng& rng) {
  std::tie(act_, glu_) = parse_activation(activation);
  c_fc = register_module("c_fc", std::make_shared<Linear>(dim, glu_ ? 2 * hidden : hidden, bias, 0.02f, rng));
  c_proj = register_module("c_proj", std::make_shared<Linear>(hidden, dim, bias, proj_std, rng));
}

Var MLP::forward(const Var& x) const {
  Var h = c_fc->forward(x);
  h = glu_ ? ops::glu(h, act_) : ops::activation(h, act_);
  return c_proj->forward(h);
}

}  // namespace moelab::nn
