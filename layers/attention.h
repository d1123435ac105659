// layers/attention.h: causal self-attention with a fused c_attn [3d, d] and c_proj [d, d].
#pragma once
#include "layers/basic.h"
#include "layers/config.h"

namespace moelab::nn {

class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(const ModelConfig& cfg, Rng& rng);
  Var forward(const Var& x) const { return c_proj->forward(ops::causal_attention(c_attn->forward(x), n_head_)); }
  std::shared_ptr<Linear> c_attn, c_proj;

 private:
  int64_t n_head_;
};

}  // namespace moelab::nn
