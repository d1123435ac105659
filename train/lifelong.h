// train/lifelong.h: the pieces of a Lifelong-MoE stage (docs/lifelong.md) the trainer applies:
// freezing what the previous stage learned (whole old experts, and the old rows of the router
// matrix as a slice) and finding the previous-stage model that serves as the frozen teacher.
#pragma once
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "layers/gpt.h"
#include "train/config/run_config.h"

namespace moelab::train {

// `sidecar` is the init_from checkpoint's model.json (its "expanded" record gives the old expert
// count per layer). Must run before the optimizer is built. Logs what it froze.
void apply_lifelong_freezing(nn::GPT& model, const LifelongConfig& cfg, const nlohmann::json& sidecar,
                             std::ostream& log);

// lifelong.teacher, else the checkpoint `moelab expand` started from, else init_from itself.
std::string teacher_path(const LifelongConfig& cfg, const nlohmann::json& sidecar);

}  // namespace moelab::train
