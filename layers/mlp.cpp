#include "layers/mlp.h"

#include <cmath>

namespace moelab::nn {

std::pair<kernels::Activation, bool> parse_activation(const std::string& name) {
  const ActivationKind k = activation_kind(name);
  return {k.act, k.glu};
}

MLP::MLP(int64_t dim, int64_t hidden, const std::string& activation, bool bias, float proj_std, Rng& rng) {
  std::tie(act_, glu_) = parse_activation(activation);
  c_fc = register_module("c_fc", std::make_shared<Linear>(dim, glu_ ? 2 * hidden : hidden, bias, 0.02f, rng));
  c_proj = register_module("c_proj", std::make_shared<Linear>(hidden, dim, bias, proj_std, rng));
}

MLP::MLP(const FfnArgs& a)
    : MLP(a.model.n_embd, int64_t{a.model.ffn.mult} * a.model.n_embd, a.model.ffn.activation, a.model.bias,
          0.02f / std::sqrt(2.f * a.model.n_layer), a.init_rng) {}

Var MLP::forward(const Var& x) const {
  Var h = c_fc->forward(x);
  h = glu_ ? ops::glu(h, act_) : ops::activation(h, act_);
  return c_proj->forward(h);
}

}  // namespace moelab::nn
