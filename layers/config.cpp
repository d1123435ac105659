#include "layers/config.h"

namespace moelab::nn {

bool MoeConfig::is_moe_layer(int layer, int n_layer) const {
  if (!enabled()) return false;
  if (!layers.empty()) {
    for (int l : layers)
      if (l == layer) return true;
    return false;
  }
  if (!pattern.empty()) return layer < static_cast<int>(pattern.size()) && pattern[layer] == 'M';
  const int start = offset < 0 ? every - 1 : offset;
  (void)n_layer;
  return every > 0 && layer >= start && (layer - start) % every == 0;
}

double ModelConfig::min_parameter_count(double stop_above) const {
  const double d = n_embd;
  double n = (static_cast<double>(vocab_size) + block_size) * d + 4.0 * d * d * n_layer;
  for (int l = 0; l < n_layer && n <= stop_above; ++l) {  // stops early on absurd sizes (2^31 layers)
    const double dense_hidden = static_cast<double>(ffn.mult) * d;
    if (moe.enabled() && moe.is_moe_layer(l, n_layer)) {
      const double hidden = moe.expert_hidden > 0 ? moe.expert_hidden : dense_hidden;
      const double shared = moe.shared_hidden > 0 ? moe.shared_hidden : hidden;
      n += 2 * d * (moe.experts_at(l) * hidden + moe.shared_experts * shared);
    } else if (ffn.type == "mlp") {
      n += 2 * d * dense_hidden;
    }
  }
  return n;
}

}  // namespace moelab::nn
