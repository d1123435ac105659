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

}  // namespace moelab::nn
