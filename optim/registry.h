// optim/registry.h: optimizers by name (optim.type). Built in: adamw, sgd. A new optimizer is an
// Optimizer subclass plus one register_optimizer() call; its own settings can come from
// optim.params (free-form JSON) next to the common keys of OptimConfig.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "optim/config.h"
#include "optim/optimizer.h"

namespace moelab::optim {

using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::vector<ParamRef>, const OptimConfig&)>;

void register_optimizer(const std::string& name, OptimizerFactory factory);
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamRef> params, const OptimConfig& cfg);
std::vector<std::string> optimizer_names();
bool has_optimizer(const std::string& name);

}  // namespace moelab::optim
