// layers/mlp.h: the dense FFN: c_fc (d -> mult*d, or 2*mult*d for swiglu), activation, c_proj.
#pragma once
#include "layers/basic.h"
#include "layers/config.h"
#include "layers/ffn.h"

namespace moelab::nn {

class MLP : public FeedForward {
 public:
  // hidden = width of the activation; proj_std is c_proj's init std (nanoGPT scales it by depth).
  MLP(int64_t dim, int64_t hidden, const std::string& activation, bool bias, float proj_std, Rng& rng);
  // The dense FFN of a block, as model.ffn describes it.
  explicit MLP(const FfnArgs& a);
  Var forward(const Var& x) const;
  Var forward(const Var& x, const FfnContext&) override { return forward(x); }
  std::string cross_row_dependency() const override { return ""; }
  std::shared_ptr<Linear> c_fc, c_proj;

 private:
  bool glu_;
  kernels::Activation act_;
};

// An activation name (gelu, swiglu, ... or a registered one) -> (kernel, is_glu); throws naming the known ones.
std::pair<kernels::Activation, bool> parse_activation(const std::string& name);

}  // namespace moelab::nn
