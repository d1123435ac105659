#include "layers/moe/moe.h"

#include "layers/moe/aux_losses.h"
#include "layers/moe/capacity.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>
#include <cmath>

namespace moelab::nn {

MoE::MoE(const ModelConfig& cfg, int layer, uint64_t seed, Rng& init_rng, const ExpertParallel* ep)
    : cfg_(cfg.moe), layer_(layer), ep_(ep ? *ep : ExpertParallel{}), route_rng_(seed, 1000 + static_cast<uint64_t>(layer)) {
  cfg_.num_experts = cfg.moe.experts_at(layer);  // this layer's own count from here on
  const MoeConfig& m = cfg_;
  MOELAB_CHECK(m.num_experts >= 1, "moe: num_experts must be >= 1");
  const int64_t d = cfg.n_embd;
  const int64_t hidden = m.expert_hidden > 0 ? m.expert_hidden : int64_t{cfg.ffn.mult} * d;
  const float proj_std = 0.02f / std::sqrt(2.f * cfg.n_layer);
  router = register_module("router", make_router(m.router.type, RouterArgs{m, d, init_rng}));
  // Expert parallel: this process keeps experts [first, first + E / size). Every expert is still
  // built in order, so the ones kept get the initial values one process gives them.
  MOELAB_CHECK(m.num_experts % ep_.size == 0, "dist.expert_parallel ", ep_.size, " does not divide layer ", layer,
               "'s ", m.num_experts, " experts");
  const int64_t held = m.num_experts / ep_.size;
  first_expert_ = held * ep_.rank;
  experts = register_module("experts", std::make_shared<ModuleList<MLP>>(first_expert_));
  for (int e = 0; e < m.num_experts; ++e) {
    auto mlp = std::make_shared<MLP>(d, hidden, cfg.ffn.activation, cfg.bias, proj_std, init_rng);
    if (e >= first_expert_ && e < first_expert_ + held) experts->push_back(mlp);
  }
  if (m.shared_experts > 0) {
    const int64_t sh = m.shared_hidden > 0 ? m.shared_hidden : hidden;
    shared = register_module("shared", std::make_shared<ModuleList<MLP>>());
    for (int s = 0; s < m.shared_experts; ++s)
      shared->push_back(std::make_shared<MLP>(d, sh, cfg.ffn.activation, cfg.bias, proj_std, init_rng));
  }
  auto [act, glu] = parse_activation(cfg.ffn.activation);
  shape_ = {d, hidden, act, glu};
}

double MoE::capacity_factor(bool training) const {
  return training || cfg_.capacity.eval_factor < 0 ? cfg_.capacity.factor : cfg_.capacity.eval_factor;
}

int64_t MoE::capacity_for(int64_t tokens, bool training) const {
  return expert_capacity(capacity_factor(training), tokens, cfg_.top_k, cfg_.num_experts,
                         cfg_.capacity.convention == "times_k");
}

std::string MoE::cross_row_dependency() const {
  if (!router->causal())
    return "its router (" + cfg_.router.type + ") ranks the tokens of the sequence against each other";
  // (conservative: a router that fixes each expert's load itself would ignore the factor)
  if (capacity_factor(false) > 0)
    return detail::concat("its eval capacity factor ", capacity_factor(false),
                          " drops a token depending on the other tokens routed to its experts");
  return "";
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
  Var y;
  std::shared_ptr<const kernels::DispatchPlan> plan_ptr;
  if (expert_parallel()) {
    MOELAB_CHECK(partitioned, "moe: an expert-parallel layer needs the batch partition of a distributed run");
    plan_ptr = std::make_shared<const kernels::DispatchPlan>(  // this process's assignments, for stats and aux losses
        kernels::build_dispatch_plan(r.assignments, N, cfg_.num_experts, -1));
    y = forward_expert_parallel(xf, r, part->row_offset * per_row, part->global_rows * per_row / cfg_.capacity.groups,
                                r.capacity_applies ? capacity_for(part->global_rows * per_row / cfg_.capacity.groups,
                                                                  training())
                                                   : -1);
  } else {
    plan_ptr = std::make_shared<const kernels::DispatchPlan>(
        kernels::build_dispatch_plan(r.assignments, N, cfg_.num_experts, cap, group_tokens));
    std::vector<ops::ExpertVars> ev;
    for (size_t e = 0; e < experts->size(); ++e) {
      const MLP& m = (*experts)[e];
      ev.push_back({m.c_fc->weight, m.c_fc->bias, m.c_proj->weight, m.c_proj->bias});
    }
    y = ops::moe_experts(xf, plan_ptr, r.gates, ev, shape_);
  }
  const kernels::DispatchPlan& plan = *plan_ptr;
  for (const auto& [name, coef] : cfg_.loss.extra)
    if (coef > 0)
      r.losses.push_back({name, ops::scale(aux_loss(name)(AuxLossInput{xf, r, plan, cfg_.num_experts, cfg_.top_k}),
                                           static_cast<float>(coef))});
  if (shared)
    for (size_t s = 0; s < shared->size(); ++s) y = ops::add(y, (*shared)[s].forward(xf));

  stats_.tokens = N;
  stats_.routed = plan.routed;
  if (!expert_parallel()) {  // (the expert-parallel path filled in capacity and kept: its owners know them)
    stats_.capacity = cap;
    stats_.kept.resize(cfg_.num_experts);
    for (int64_t e = 0; e < cfg_.num_experts; ++e) stats_.kept[e] = plan.kept(e);
  }
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

namespace moelab::nn {

// Expert parallelism, in four steps (docs/distributed.md):
//  1. dispatch: each assignment's token row goes to its expert's owner (exchange_rows, an all-to-all;
//     with it the global token index, the slot and the expert);
//  2. the owner orders what it received as one process orders the whole batch's assignments (token
//     or slot priority), keeps each (capacity group, expert)'s first `cap`, runs its experts;
//  3. return: the outputs travel back to the tokens' processes (the reverse all-to-all);
//  4. combine: each token's outputs are added, weighted by the gates (scatter_add_rows).
// The exchanges are autograd ops (their backward is the reverse exchange), so gradients reach the
// routers and the tokens on every process and the experts on their owners.
comm::CommStats MoE::take_exchange_stats() {
  const comm::CommStats s = *exchange_stats_;
  *exchange_stats_ = comm::CommStats{};
  return s;
}

Var MoE::forward_expert_parallel(const Var& xf, const Routing& r, int64_t token_offset, int64_t group_tokens,
                                 int64_t cap) {
  comm::Communicator& group = *ep_.group;
  const int64_t P = ep_.size, E = cfg_.num_experts, held = E / P, N = xf.size(0);
  const std::vector<kernels::Assignment>& as = r.assignments;
  const int64_t A = static_cast<int64_t>(as.size());
  // 1. what goes where: rows ordered by destination, each destination's in this process's priority order
  std::vector<int64_t> send_counts(P, 0), slot(A), token_seen(N, 0);
  for (int64_t a = 0; a < A; ++a) {
    ++send_counts[as[a].expert / held];
    slot[a] = token_seen[as[a].token]++;  // the token's first, second ... choice
  }
  std::vector<int64_t> start(P, 0);
  for (int64_t p = 1; p < P; ++p) start[p] = start[p - 1] + send_counts[p - 1];
  IndexTensor send_token = IndexTensor::empty({A}), send_gate = IndexTensor::empty({A});
  std::vector<int64_t> meta(3 * A);  // global token, slot, expert
  for (int64_t a = 0; a < A; ++a) {
    const int64_t pos = start[as[a].expert / held]++;
    send_token[pos] = as[a].token;
    send_gate[pos] = as[a].gate_index;
    meta[3 * pos] = token_offset + as[a].token;
    meta[3 * pos + 1] = slot[a];
    meta[3 * pos + 2] = as[a].expert;
  }
  comm::CommStats* account = exchange_stats_.get();
  std::vector<int64_t> recv_counts(P);
  comm::accounted(group, account, [&] { group.alltoall(send_counts.data(), recv_counts.data(), 1); });
  int64_t R = 0;
  for (int64_t c : recv_counts) R += c;
  Var x_recv = ops::exchange_rows(ops::gather_rows(xf, send_token), send_counts, recv_counts, group, account);
  std::vector<int64_t> meta_recv(3 * R), meta_send_counts(P), meta_recv_counts(P);
  for (int64_t p = 0; p < P; ++p) meta_send_counts[p] = 3 * send_counts[p], meta_recv_counts[p] = 3 * recv_counts[p];
  comm::accounted(group, account,
                  [&] { group.alltoallv(meta.data(), meta_send_counts, meta_recv.data(), meta_recv_counts); });

  // 2. the owner: one process's priority order over the group's assignments, capacity, experts
  std::vector<int64_t> order(R);
  for (int64_t i = 0; i < R; ++i) order[i] = i;
  const bool by_token = cfg_.capacity.priority == "token";
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const int64_t ta = meta_recv[3 * a], tb = meta_recv[3 * b], sa = meta_recv[3 * a + 1], sb = meta_recv[3 * b + 1];
    return by_token ? std::tie(ta, sa) < std::tie(tb, sb) : std::tie(sa, ta) < std::tie(sb, tb);
  });
  std::map<std::pair<int64_t, int64_t>, int64_t> used;  // (capacity group, expert) -> rows kept
  std::vector<kernels::Assignment> local;
  std::vector<int64_t> kept(E, 0);
  for (int64_t i : order) {
    const int64_t gt = meta_recv[3 * i], e = meta_recv[3 * i + 2];
    if (cap >= 0) {
      int64_t& u = used[{gt / std::max<int64_t>(group_tokens, 1), e}];
      if (u >= cap) continue;  // dropped: this row's output stays 0
      ++u;
    }
    ++kept[e];
    local.push_back({static_cast<int32_t>(i), static_cast<int32_t>(e - first_expert_), static_cast<int32_t>(i)});
  }
  auto plan = std::make_shared<const kernels::DispatchPlan>(kernels::build_dispatch_plan(local, R, held, -1));
  std::vector<ops::ExpertVars> ev;
  for (size_t e = 0; e < experts->size(); ++e) {
    const MLP& m = (*experts)[e];
    ev.push_back({m.c_fc->weight, m.c_fc->bias, m.c_proj->weight, m.c_proj->bias});
  }
  Var y_recv = ops::moe_experts(x_recv, plan, Var(), ev, shape_);

  // 3. back to the tokens' processes; 4. weighted by the gates, added per token
  Var y_back = ops::exchange_rows(y_recv, recv_counts, send_counts, group, account);
  Var gates;
  if (r.gates.defined())
    gates = ops::reshape(ops::gather_rows(ops::reshape(r.gates, {r.gates.numel(), 1}), send_gate), {A});
  stats_.capacity = cap;
  stats_.kept = kept;  // this process's experts; the others' are counted by their owners
  return ops::scatter_add_rows(y_back, send_token, N, gates);
}

}  // namespace moelab::nn
