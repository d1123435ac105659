#include "layers/attention.h"

#include <cmath>

namespace moelab::nn {

CausalSelfAttention::CausalSelfAttention(const ModelConfig& cfg, Rng& rng) : n_head_(cfg.n_head) {
  MOELAB_CHECK(cfg.n_embd % cfg.n_head == 0, "attention: n_embd ", cfg.n_embd, " is not divisible by n_head ",
               cfg.n_head);
  c_attn = register_module("c_attn", std::make_shared<Linear>(cfg.n_embd, 3 * cfg.n_embd, cfg.bias, 0.02f, rng));
  const float proj_std = 0.02f / std::sqrt(2.f * cfg.n_layer);
  c_proj = register_module("c_proj", std::make_shared<Linear>(cfg.n_embd, cfg.n_embd, cfg.bias, proj_std, rng));
}

}  // namespace moelab::nn
