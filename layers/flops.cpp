#include "layers/flops.h"

#include <algorithm>

#include "layers/ffn.h"

namespace moelab::nn {

double flops_per_token(const ModelConfig& m) {
  const double d = m.n_embd, glu = activation_kind(m.ffn.activation).glu ? 2 : 1;
  auto ffn_params = [&](double hidden) { return glu * hidden * d + hidden * d; };
  double params = static_cast<double>(m.vocab_size) * d;  // wte doubles as lm_head
  for (int l = 0; l < m.n_layer; ++l) {
    params += 4 * d * d;  // c_attn + c_proj
    if (!m.moe.is_moe_layer(l, m.n_layer)) {
      params += ffn_params(m.ffn.mult * d);
      continue;
    }
    // active experts per token: k for token choice, ec_factor on average for expert choice, all for soft
    const std::string& type = m.moe.router.type;
    const double E = m.moe.experts_at(l);
    const double active = type == "soft" ? E : type == "expert_choice" ? std::min(m.moe.router.ec_factor, E) : m.moe.top_k;
    const double hidden = m.moe.expert_hidden > 0 ? m.moe.expert_hidden : m.ffn.mult * d;
    const double shared_hidden = m.moe.shared_hidden > 0 ? m.moe.shared_hidden : hidden;
    params += active * ffn_params(hidden) + m.moe.shared_experts * ffn_params(shared_hidden);
    if (type != "hash") params += E * d * (type == "noisy_topk" ? 2 : 1);  // router
  }
  return 6 * params + 12.0 * m.n_layer * m.block_size * d;
}

}  // namespace moelab::nn
