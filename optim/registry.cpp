#include "optim/registry.h"

#include <mutex>

#include "core/registry.h"

namespace moelab::optim {

namespace {
Registry<OptimizerFactory>& registry() {
  static Registry<OptimizerFactory> r("optim.type");
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    r.add("adamw", [](std::vector<ParamRef> p, const OptimConfig& o) -> std::unique_ptr<Optimizer> {
      return std::make_unique<AdamW>(std::move(p), AdamWConfig{o.beta1, o.beta2, o.eps, o.weight_decay});
    });
    r.add("sgd", [](std::vector<ParamRef> p, const OptimConfig& o) -> std::unique_ptr<Optimizer> {
      return std::make_unique<SGD>(std::move(p), SGDConfig{o.momentum, o.weight_decay});
    });
  });
  return r;
}
}  // namespace

void register_optimizer(const std::string& name, OptimizerFactory factory) {
  MOELAB_CHECK(factory, "register_optimizer: \"", name, "\" needs a factory");
  registry().add(name, std::move(factory));
}
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamRef> params, const OptimConfig& cfg) {
  return registry().at(name)(std::move(params), cfg);
}
std::vector<std::string> optimizer_names() { return registry().names(); }
bool has_optimizer(const std::string& name) { return registry().contains(name); }

}  // namespace moelab::optim
