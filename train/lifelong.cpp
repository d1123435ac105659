#include "train/lifelong.h"

#include <map>

#include "core/error.h"
#include "train/expand.h"

namespace moelab::train {

void apply_lifelong_freezing(nn::GPT& model, const LifelongConfig& cfg, const nlohmann::json& sidecar,
                             std::ostream& log) {
  std::map<int, int64_t> old;
  if (sidecar.contains("expanded") && sidecar["expanded"].contains("old_experts"))
    for (const auto& [layer, e] : sidecar["expanded"]["old_experts"].items()) old[std::stoi(layer)] = e.get<int64_t>();
  MOELAB_CHECK(old.size() > 0 || !(cfg.freeze_old_experts || cfg.freeze_old_router_rows), "lifelong.init_from: ",
               cfg.init_from, " was not made by moelab expand --add-experts, so there are no old experts to freeze",
               " (set lifelong.freeze_old_experts and lifelong.freeze_old_router_rows to false)");
  int64_t frozen_tensors = 0, frozen_rows = 0, frozen_values = 0;
  for (auto& np : model.named_parameters()) {
    nn::Parameter& p = *np.param;
    int layer = -1, expert = -1;
    std::string rest;
    const bool is_expert = parse_expert_name(np.name, &layer, &expert, &rest);
    const bool in_moe = np.name.find(".moe.") != std::string::npos;
    bool freeze = cfg.freeze_non_expert && !in_moe;
    if (is_expert && cfg.freeze_old_experts && old.count(layer) && expert < old[layer]) freeze = true;
    if (freeze) {
      p.frozen = true;
      p.var.set_requires_grad(false);
      ++frozen_tensors;
      frozen_values += p.var.numel();
      continue;
    }
    const bool router_rows = np.name.find(".moe.router.weight") != std::string::npos ||
                             np.name.find(".moe.router.w_noise") != std::string::npos;
    if (router_rows && cfg.freeze_old_router_rows) {
      layer = std::stoi(np.name.substr(std::string("transformer.h.").size()));
      if (old.count(layer)) {
        p.frozen_rows = old[layer];
        ++frozen_rows;
        frozen_values += old[layer] * p.var.size(1);
      }
    }
  }
  log << "lifelong: froze " << frozen_tensors << " tensors and the old rows of " << frozen_rows << " router matrices ("
      << frozen_values << " of " << model.num_parameters() << " values)\n";
}

std::string teacher_path(const LifelongConfig& cfg, const nlohmann::json& sidecar) {
  if (!cfg.teacher.empty()) return cfg.teacher;
  if (sidecar.contains("expanded") && sidecar["expanded"].contains("source"))
    return sidecar["expanded"]["source"].get<std::string>();
  return cfg.init_from;
}

}  // namespace moelab::train
