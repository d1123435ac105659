#include "layers/moe/aux_losses.h"

#include "core/registry.h"

namespace moelab::nn {

namespace {
Registry<AuxLossFn>& registry() {
  static Registry<AuxLossFn> r("model.moe.loss");
  return r;
}
}  // namespace

void register_aux_loss(const std::string& name, AuxLossFn fn) {
  for (const char* builtin : {"switch", "z", "importance", "load"})
    MOELAB_CHECK(name != builtin, "register_aux_loss: \"", name, "\" is a built-in loss");
  MOELAB_CHECK(fn, "register_aux_loss: \"", name, "\" needs a function");
  registry().add(name, std::move(fn));
}
bool has_aux_loss(const std::string& name) { return registry().contains(name); }
std::vector<std::string> aux_loss_names() { return registry().names(); }
const AuxLossFn& aux_loss(const std::string& name) { return registry().at(name); }

}  // namespace moelab::nn
