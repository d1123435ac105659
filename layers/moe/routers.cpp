// The router registry and the built-in routers' registration lines.
#include <algorithm>
#include <mutex>

#include "core/registry.h"

#include "layers/moe/router.h"

namespace moelab::nn {

// Built-in routers, one file each under layers/moe/.
std::shared_ptr<Router> make_soft_router(const RouterArgs&);
std::shared_ptr<Router> make_topk_router(const RouterArgs&);
std::shared_ptr<Router> make_noisy_topk_router(const RouterArgs&);
std::shared_ptr<Router> make_expert_choice_router(const RouterArgs&);
std::shared_ptr<Router> make_hash_router(const RouterArgs&);

namespace {
Registry<RouterFactory>& registry() {
  static Registry<RouterFactory> r("model.moe.router.type");
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    r.add("soft", make_soft_router);
    r.add("topk", make_topk_router);
    r.add("noisy_topk", make_noisy_topk_router);
    r.add("expert_choice", make_expert_choice_router);
    r.add("hash", make_hash_router);
  });
  return r;
}
}  // namespace

void register_router(const std::string& name, RouterFactory factory) {
  MOELAB_CHECK(factory, "register_router: \"", name, "\" needs a factory");
  registry().add(name, std::move(factory));
}
std::vector<std::string> router_names() { return registry().names(); }
bool has_router(const std::string& name) { return registry().contains(name); }
std::shared_ptr<Router> make_router(const std::string& name, const RouterArgs& args) {
  return registry().at(name)(args);
}

AuxLoss switch_loss(const Var& probs, const std::vector<int64_t>& counts, double coef) {
  const int64_t N = probs.size(0), E = probs.size(1);
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  // coef * E * sum_i f_i * (1/N) sum_n p[n, i]  ==  sum over [N, E] of p * w, w_i = coef * E * f_i / N
  Tensor w = Tensor::empty({E});
  for (int64_t i = 0; i < E; ++i)
    w[i] = static_cast<float>(coef * E * (total ? static_cast<double>(counts[i]) / total : 0.0) / N);
  return {"switch", ops::sum(ops::mul(probs, Var(w)))};
}

AuxLoss z_loss(const Var& logits, double coef) {
  Var lse = ops::logsumexp(logits);
  return {"z", ops::scale(ops::mean(ops::mul(lse, lse)), static_cast<float>(coef))};
}

}  // namespace moelab::nn
