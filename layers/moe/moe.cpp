#include "layers/moe/moe.h"

#include "layers/moe/aux_losses.h"
#include "layers/moe/capacity.h"

#include <chrono>
#include <cmath>

namespace moelab::nn {

MoE::MoE(const ModelConfig& cfg, int layer, uint64_t seed, Rng& init_rng)
    : cfg_(cfg.moe), layer_(layer), route_rng_(seed, 1000 + static_cast<uint64_t>(layer)) {
  cfg_.num_experts = cfg.moe.experts_at(layer);  // this layer's own count from here on
  const MoeConfig& m = cfg_;
  MOELAB_CHECK(m.num_experts >= 1, "moe: num_experts must be >= 1");
  const int64_t d = cfg.n_embd;
  const int64_t hidden = m.expert_hidden > 0 ? m.expert_hidden : int64_t{cfg.ffn.mult} * d;
  const float proj_std = 0.02f / std::sqrt(2.f * cfg.n_layer);
  router = register_module("router", make_router(m.router.type, RouterArgs{m, d, init_rng}));
  experts = register_module("experts", std::make_shared<ModuleList<MLP>>());
  for (int e = 0; e < m.num_experts; ++e)
    experts->push_back(std::make_shared<MLP>(d, hidden, cfg.ffn.activation, cfg.bias, proj_std, init_rng));
  if (m.shared_experts > 0) {
    const int64_t sh = m.shared_hidden > 0 ? m.shared_hidden : hidden;
    shared = register_module("shared", std::make_shared<ModuleList<MLP>>());
    for (int s = 0; s < m.shared_experts; ++s)
      shared->push_back(std::make_shared<MLP>(d, sh, cfg.ffn.activation, cfg.bias, proj_std, init_rng));
  }
  auto [act, glu] = parse_activation(cfg.ffn.activation);
  shape_ = {d, hidden, act, glu};
}

int64_t MoE::capacity_for(int64_t tokens, bool training) const {
  const double cf = training || cfg_.capacity.eval_factor < 0 ? cfg_.capacity.factor : cfg_.capacity.eval_factor;
  return expert_capacity(cf, tokens, cfg_.top_k, cfg_.num_experts, cfg_.capacity.convention == "times_k");
}

Var MoE::forward(const Var& x, const IndexTensor& ids, std::vector<AuxLoss>* aux, const BatchPartition* part) {
  const Shape shape = x.shape();
  const int64_t d = shape.back(), N = x.numel() / d;
  const int64_t rows = shape.size() >= 3 ? shape[0] : N, per_row = N / std::max<int64_t>(rows, 1);
  const bool partitioned = part && part->global_rows > 0;
  comm::Communicator* comm = part ? part->comm : nullptr;
  // capacity groups: consecutive equal sets of rows; a data-parallel process holds groups / processes
  // of them (fewer rows than groups, as in generation: a group per row)
  int64_t groups = cfg_.capacity.groups;
  if (partitioned && comm) groups = std::max<int64_t>(1, groups / comm->size());
  groups = std::min(groups, std::max<int64_t>(rows, 1));
  MOELAB_CHECK(rows % groups == 0, "model.moe.capacity.groups: the ", rows, " rows of this batch do not split into ",
               groups, " equal groups");
  Var xf = ops::reshape(x, {N, d});
  IndexTensor flat_ids = ids.defined() ? ids.reshape({N}) : IndexTensor();
  RouteContext ctx{ids.defined() ? &flat_ids : nullptr, training(), &route_rng_, layer_, comm, groups};
  // random draws at the global tokens' positions of the stream, so every process draws what one would
  const int64_t draws = router->random_draws_per_token(training());
  const uint64_t rng_start = route_rng_.counter();
  if (partitioned && draws > 0) route_rng_.set_counter(rng_start + part->row_offset * per_row * draws);
  Routing r = router->route(xf, ctx);
  if (partitioned && draws > 0) route_rng_.set_counter(rng_start + part->global_rows * per_row * draws);

  const int64_t group_tokens = N / groups;
  const int64_t cap = r.capacity_applies ? capacity_for(group_tokens, training()) : -1;
  auto plan_ptr = std::make_shared<const kernels::DispatchPlan>(
      kernels::build_dispatch_plan(r.assignments, N, cfg_.num_experts, cap, group_tokens));
  const kernels::DispatchPlan& plan = *plan_ptr;
  std::vector<ops::ExpertVars> ev;
  for (size_t e = 0; e < experts->size(); ++e) {
    const MLP& m = (*experts)[e];
    ev.push_back({m.c_fc->weight, m.c_fc->bias, m.c_proj->weight, m.c_proj->bias});
  }
  Var y = ops::moe_experts(xf, plan_ptr, r.gates, ev, shape_);
  for (const auto& [name, coef] : cfg_.loss.extra)
    if (coef > 0)
      r.losses.push_back({name, ops::scale(aux_loss(name)(AuxLossInput{xf, r, plan, cfg_.num_experts, cfg_.top_k}),
                                           static_cast<float>(coef))});
  if (shared)
    for (size_t s = 0; s < shared->size(); ++s) y = ops::add(y, (*shared)[s].forward(xf));

  stats_.tokens = N;
  stats_.capacity = cap;
  stats_.routed = plan.routed;
  stats_.kept.resize(cfg_.num_experts);
  for (int64_t e = 0; e < cfg_.num_experts; ++e) stats_.kept[e] = plan.kept(e);
  stats_.mean_prob.clear();
  stats_.mean_token_entropy = 0;
  stats_.assigned_token.clear();
  stats_.assigned_expert.clear();
  stats_.losses.clear();
  stats_.collect_seconds = 0;
  if (!collect_stats_) {
    if (aux) aux->insert(aux->end(), r.losses.begin(), r.losses.end());
    return ops::reshape(y, shape);
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (r.probs.defined()) {
    const int64_t E = cfg_.num_experts;
    stats_.mean_prob.assign(E, 0.0);
    const bool softmax_logits = r.probs_are_softmax_of_logits && r.logits.defined() && r.logits.shape() == r.probs.shape();
    double h = 0;
    for (int64_t n = 0; n < N; ++n) {
      const float* p = r.probs.data() + n * E;
      for (int64_t e = 0; e < E; ++e) stats_.mean_prob[e] += p[e];
      if (softmax_logits) {
        // p = softmax(l): H = lse - sum p l, and lse = l_j - log p_j at the largest p_j (one log per token)
        const float* l = r.logits.data() + n * E;
        int64_t j = 0;
        double pl = 0;
        for (int64_t e = 0; e < E; ++e) {
          pl += static_cast<double>(p[e]) * l[e];
          if (p[e] > p[j]) j = e;
        }
        h += l[j] - std::log(static_cast<double>(p[j])) - pl;
      } else {
        for (int64_t e = 0; e < E; ++e)
          if (p[e] > 0) h -= p[e] * std::log(p[e]);
      }
    }
    for (double& p : stats_.mean_prob) p /= static_cast<double>(N);
    stats_.mean_token_entropy = h / static_cast<double>(N);
  }
  stats_.assigned_token.resize(r.assignments.size());
  stats_.assigned_expert.resize(r.assignments.size());
  for (size_t a = 0; a < r.assignments.size(); ++a) {
    stats_.assigned_token[a] = r.assignments[a].token;
    stats_.assigned_expert[a] = r.assignments[a].expert;
  }
  for (const AuxLoss& a : r.losses) stats_.losses.emplace_back(a.name, a.value.item());
  stats_.collect_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (aux) aux->insert(aux->end(), r.losses.begin(), r.losses.end());
  return ops::reshape(y, shape);
}

}  // namespace moelab::nn
