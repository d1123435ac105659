// The router registry and the built-in routers' registration lines.
#include <algorithm>
#include <mutex>

#include "layers/moe/router.h"

namespace moelab::nn {

// Built-in routers, one file each under layers/moe/.
std::shared_ptr<Router> make_soft_router(const RouterArgs&);
std::shared_ptr<Router> make_topk_router(const RouterArgs&);
std::shared_ptr<Router> make_noisy_topk_router(const RouterArgs&);
std::shared_ptr<Router> make_expert_choice_router(const RouterArgs&);
std::shared_ptr<Router> make_hash_router(const RouterArgs&);

namespace {
std::map<std::string, RouterFactory>& registry() {
  static std::map<std::string, RouterFactory> r;
  static std::once_flag builtins;
  std::call_once(builtins, [] {
    r["soft"] = make_soft_router;
    r["topk"] = make_topk_router;
    r["noisy_topk"] = make_noisy_topk_router;
    r["expert_choice"] = make_expert_choice_router;
    r["hash"] = make_hash_router;
  });
  return r;
}
}  // namespace

void register_router(const std::string& name, RouterFactory factory) {
  MOELAB_CHECK(!name.empty() && factory, "register_router: needs a name and a factory");
  registry()[name] = std::move(factory);
}

std::vector<std::string> router_names() {
  std::vector<std::string> names;
  for (const auto& [n, f] : registry()) names.push_back(n);
  return names;
}

std::shared_ptr<Router> make_router(const std::string& name, const RouterArgs& args) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const std::string& n : router_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("model.moe.router.type: unknown \"" + name + "\"; known: " + known);
  }
  return it->second(args);
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
