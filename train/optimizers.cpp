#include "train/optimizers.h"

#include <mutex>

#include "core/registry.h"

namespace moelab::train {

namespace {
Registry<OptimizerFactory>& registry() {
  static Registry<OptimizerFactory> r("optim.type");
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    r.add("adamw", [](std::vector<optim::ParamRef> p, const OptimConfig& o) -> std::unique_ptr<optim::Optimizer> {
      return std::make_unique<optim::AdamW>(std::move(p), optim::AdamWConfig{o.beta1, o.beta2, o.eps, o.weight_decay});
    });
    r.add("sgd", [](std::vector<optim::ParamRef> p, const OptimConfig& o) -> std::unique_ptr<optim::Optimizer> {
      return std::make_unique<optim::SGD>(std::move(p), optim::SGDConfig{o.momentum, o.weight_decay});
    });
  });
  return r;
}
}  // namespace

void register_optimizer(const std::string& name, OptimizerFactory factory) {
  MOELAB_CHECK(factory, "register_optimizer: \"", name, "\" needs a factory");
  registry().add(name, std::move(factory));
}
std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, std::vector<optim::ParamRef> params,
                                                 const OptimConfig& cfg) {
  return registry().at(name)(std::move(params), cfg);
}
std::vector<std::string> optimizer_names() { return registry().names(); }
bool has_optimizer(const std::string& name) { return registry().contains(name); }

}  // namespace moelab::train
