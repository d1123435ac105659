// layers/moe/aux_losses.h: extra auxiliary losses by name. The built-in losses (switch, z,
// importance, load) are computed by the routers that define them; a registered loss is computed
// for every MoE layer whose config gives it a coefficient (model.moe.loss.<name> > 0), weighted by
// it, and logged per layer like the built-in ones.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "layers/moe/router.h"

namespace moelab::nn {

struct AuxLossInput {
  const Var& x;                          // the layer input [N, d]
  const Routing& routing;                // assignments, gates, logits/probs when the router has them
  const kernels::DispatchPlan& plan;     // after capacity
  int64_t num_experts, top_k;
};
using AuxLossFn = std::function<Var(const AuxLossInput&)>;  // returns the unweighted scalar

void register_aux_loss(const std::string& name, AuxLossFn fn);
bool has_aux_loss(const std::string& name);
std::vector<std::string> aux_loss_names();
const AuxLossFn& aux_loss(const std::string& name);

}  // namespace moelab::nn
