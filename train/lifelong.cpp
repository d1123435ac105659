#include "train/lifelong.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "train/expand.h"

namespace moelab::train {

namespace {
// The experts each layer had before `moelab expand` (the sidecar's "expanded.old_experts"), checked
// against the model: a damaged or hand-edited model.json must not freeze rows that do not exist.
std::map<int, int64_t> old_experts(nn::GPT& model, const LifelongConfig& cfg, const nlohmann::json& sidecar) {
  std::map<int, int64_t> old;
  if (!sidecar.is_object() || !sidecar.contains("expanded") || !sidecar.at("expanded").is_object() ||
      !sidecar.at("expanded").contains("old_experts"))
    return old;
  const nlohmann::json& record = sidecar.at("expanded").at("old_experts");
  const std::string where = "lifelong.init_from: " + cfg.init_from + ": model.json: expanded.old_experts";
  MOELAB_CHECK(record.is_object(), where, ": expected {\"layer\": experts}, got ", record.type_name());
  const std::vector<int> moe_layers = model.moe_layers();
  for (const auto& [key, count] : record.items()) {
    const bool digits = !key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos;
    const int layer = digits ? std::stoi(key) : -1;
    const bool moe = std::find(moe_layers.begin(), moe_layers.end(), layer) != moe_layers.end();
    MOELAB_CHECK(moe, where, ": \"", key, "\" is not an MoE layer of this model");
    const int64_t experts = model.moe(layer).num_experts();
    MOELAB_CHECK(count.is_number_integer() && count.get<int64_t>() >= 1 && count.get<int64_t>() <= experts, where,
                 ": layer ", layer, ": ", count.dump(), " (expected a count in [1, ", experts, "])");
    old[layer] = count.get<int64_t>();
  }
  return old;
}
}  // namespace

void apply_lifelong_freezing(nn::GPT& model, const LifelongConfig& cfg, const nlohmann::json& sidecar,
                             std::ostream& log) {
  const std::map<int, int64_t> old = old_experts(model, cfg, sidecar);
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
    if (is_expert && cfg.freeze_old_experts && old.count(layer) && expert < old.at(layer)) freeze = true;
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
        p.frozen_rows = old.at(layer);
        ++frozen_rows;
        frozen_values += old.at(layer) * p.var.size(1);
      }
    }
  }
  log << "lifelong: froze " << frozen_tensors << " tensors and the old rows of " << frozen_rows << " router matrices ("
      << frozen_values << " of " << model.num_parameters() << " values)\n";
}

std::string teacher_path(const LifelongConfig& cfg, const nlohmann::json& sidecar) {
  if (!cfg.teacher.empty()) return cfg.teacher;
  if (sidecar.is_object() && sidecar.contains("expanded") && sidecar.at("expanded").is_object() &&
      sidecar.at("expanded").contains("source")) {
    const nlohmann::json& source = sidecar.at("expanded").at("source");
    MOELAB_CHECK(source.is_string(), "lifelong.init_from: ", cfg.init_from,
                 ": model.json: expanded.source: expected the path of the checkpoint it was expanded from, got ",
                 source.dump());
    return source.get<std::string>();
  }
  return cfg.init_from;
}

}  // namespace moelab::train
