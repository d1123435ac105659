// layers/attention.h: causal self-attention with a fused c_attn [3d, d] and c_proj [d, d].
#pragma once
#include "layers/basic.h"
#include "layers/config.h"
#include "layers/kv_cache.h"

namespace moelab::nn {

class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(const ModelConfig& cfg, Rng& rng);
  Var forward(const Var& x) const { return c_proj->forward(ops::causal_attention(c_attn->forward(x), n_head_)); }
  // x [B, T, d]: the new positions cache.length() .. of sequences whose earlier keys and values
  // `cache` holds; stores theirs in it (layer `layer`) and attends over all of them.
  Var forward_cached(const Var& x, KVCache& cache, int64_t layer) const {
    Var qkv = c_attn->forward(x);
    cache.write(layer, qkv.value());
    return c_proj->forward(ops::cached_attention(qkv, cache.keys(layer), cache.values(layer), cache.length(), n_head_));
  }
  std::shared_ptr<Linear> c_attn, c_proj;

 private:
  int64_t n_head_;
};

}  // namespace moelab::nn
