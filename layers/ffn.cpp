#include "layers/ffn.h"

#include <mutex>

#include "core/registry.h"
#include "layers/mlp.h"
#include "layers/moe/moe.h"

namespace moelab::nn {

namespace {
struct FfnEntry {
  FfnFactory factory;
  std::string module_name;
};

Registry<FfnEntry>& ffn_registry() {
  static Registry<FfnEntry> r("model.ffn.type");
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    r.add("mlp", {[](const FfnArgs& a) -> std::shared_ptr<FeedForward> { return std::make_shared<MLP>(a); }, "mlp"});
    r.add("moe", {[](const FfnArgs& a) -> std::shared_ptr<FeedForward> {
                    return std::make_shared<MoE>(a.model, a.layer, a.seed, a.init_rng, a.expert_parallel);
                  },
                  "moe"});
  });
  return r;
}

Registry<ActivationKind>& activation_registry() {
  static Registry<ActivationKind> r("model.ffn.activation");
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    r.add("gelu", {kernels::Activation::Gelu, false});
    r.add("gelu_tanh", {kernels::Activation::GeluTanh, false});
    r.add("relu", {kernels::Activation::Relu, false});
    r.add("silu", {kernels::Activation::Silu, false});
    r.add("swiglu", {kernels::Activation::Silu, true});
    r.add("geglu", {kernels::Activation::Gelu, true});
    r.add("reglu", {kernels::Activation::Relu, true});
  });
  return r;
}
}  // namespace

void register_ffn(const std::string& kind, FfnFactory factory, const std::string& module_name) {
  MOELAB_CHECK(factory, "register_ffn: \"", kind, "\" needs a factory");
  ffn_registry().add(kind, {std::move(factory), module_name});
}
std::shared_ptr<FeedForward> make_ffn(const std::string& kind, const FfnArgs& args) {
  return ffn_registry().at(kind).factory(args);
}
std::string ffn_module_name(const std::string& kind) { return ffn_registry().at(kind).module_name; }
std::vector<std::string> ffn_kinds() { return ffn_registry().names(); }
bool has_ffn(const std::string& kind) { return ffn_registry().contains(kind); }

void register_activation(const std::string& name, ActivationKind kind) { activation_registry().add(name, kind); }
ActivationKind activation_kind(const std::string& name) { return activation_registry().at(name); }
std::vector<std::string> activation_names() { return activation_registry().names(); }

}  // namespace moelab::nn
