// layers/moe/router.h: the gating network interface. A router turns the layer input into expert
// assignments (token, expert, gate) in priority order, the gate values (differentiable), and its aux
// losses. The MoE layer (layers/moe/moe.h) turns assignments into a dispatch plan and runs the experts.
// Routers are created by name (model.moe.router.type) from the registry; adding one is one file plus
// one line in layers/moe/routers.cpp.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/kernels/dispatch.h"
#include "core/rng.h"
#include "layers/basic.h"
#include "layers/config.h"
#include "layers/ffn.h"

namespace moelab::nn {

struct RouteContext {
  const IndexTensor* token_ids = nullptr;  // [N] input token of each row (hash routing)
  bool training = true;
  Rng* rng = nullptr;  // noise, random routing: the layer's own stream, positioned at this process's tokens
  int layer = 0;
  comm::Communicator* comm = nullptr;  // a distributed run's processes (null: one): sum batch statistics over it
  int64_t groups = 1;                  // capacity groups in x's rows (contiguous, equal): expert choice selects per group
  // Counts of the whole batch: summed over the processes of a distributed run.
  void sum_over_processes(std::vector<int64_t>& counts) const {
    if (comm) comm->allreduce_sum(counts.data(), static_cast<int64_t>(counts.size()));
  }
};

struct Routing {
  std::vector<kernels::Assignment> assignments;  // priority order (capacity keeps the earliest)
  Var gates;                                     // flat, indexed by Assignment::gate_index; undefined = 1
  bool capacity_applies = true;                  // false when the router fixes each expert's load itself
  Tensor probs;                                  // [N, E] routing distribution, for metrics (may be undefined)
  Var logits, prob;                              // [N, E] differentiable, for aux losses (learned routers)
  bool probs_are_softmax_of_logits = false;      // lets metrics get entropies with one log per token
  std::vector<AuxLoss> losses;
};

class Router : public Module {
 public:
  virtual Routing route(const Var& x, const RouteContext& ctx) = 0;
  // Causal routers see only the token itself; expert choice ranks tokens across the batch.
  virtual bool causal() const { return true; }
  // Random values drawn per token from ctx.rng (noise, random routing). The layer positions the stream
  // at the token's global index, so a distributed run draws what one process draws.
  virtual int64_t random_draws_per_token(bool training) const {
    (void)training;
    return 0;
  }
};

struct RouterArgs {
  const MoeConfig& moe;
  int64_t dim;
  Rng& init_rng;
};

// Loss helpers shared by routers (exact formulas in docs/moe.md).
// Switch: coef * E * sum_i f_i P_i, f_i = counts_i / sum(counts) (no gradient), P_i = mean_n probs[n, i].
AuxLoss switch_loss(const Var& probs, const std::vector<int64_t>& counts, double coef);
// z-loss: coef * mean_n logsumexp(logits[n])^2
AuxLoss z_loss(const Var& logits, double coef);

// A router with a learned linear gate `weight` [E, d] (checkpoint name ...moe.router.weight, no bias),
// initialised N(0, 0.02) unless the router says otherwise.
class LinearRouter : public Router {
 public:
  Var weight;

 protected:
  explicit LinearRouter(const RouterArgs& a, bool zero_init = false)
      : cfg_(a.moe), E_(a.moe.num_experts), k_(a.moe.top_k) {
    weight = register_parameter("weight", zero_init ? Tensor::zeros({E_, a.dim}) : normal({E_, a.dim}, 0.02f, a.init_rng),
                                Role::Router);
  }
  // For p = softmax(logits): records both on the routing (metrics, registered aux losses) and
  // adds the router z-loss when configured.
  void record_softmax(Routing& r, const Var& logits, const Var& probs) const {
    r.probs = probs.value();
    r.logits = logits;
    r.prob = probs;
    r.probs_are_softmax_of_logits = true;
    if (cfg_.loss.z > 0) r.losses.push_back(z_loss(logits, cfg_.loss.z));
  }
  MoeConfig cfg_;
  int64_t E_, k_;
};
using RouterFactory = std::function<std::shared_ptr<Router>(const RouterArgs&)>;

// The registry. Unknown names get an error listing the known ones.
void register_router(const std::string& name, RouterFactory factory);
std::shared_ptr<Router> make_router(const std::string& name, const RouterArgs& args);
std::vector<std::string> router_names();
bool has_router(const std::string& name);

}  // namespace moelab::nn
