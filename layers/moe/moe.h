// layers/moe/moe.h: the MoE FFN layer: y = sum over a token's kept assignments of gate * expert(x),
// plus the shared experts. Router by name (layers/moe/router.h); experts are MLPs like the dense FFN
// (parameters transformer.h.{l}.moe.experts.{e}.c_fc.weight ...); the compute is one grouped op
// (ops::moe_experts) on a counting-sorted dispatch plan, so it costs what the active experts cost.
#pragma once
#include <vector>

#include "layers/mlp.h"
#include "layers/moe/router.h"

namespace moelab::nn {

// What the last forward routed, for metrics (cheap: counts and per-expert means).
struct MoeStats {
  int64_t tokens = 0;
  int64_t capacity = -1;         // per expert; -1 = dropless
  std::vector<int64_t> routed;   // [E] assignments before capacity
  std::vector<int64_t> kept;     // [E] after capacity
  std::vector<double> mean_prob; // [E] mean routing probability (empty when the router has none)
  double mean_token_entropy = 0; // mean over tokens of the routing distribution's entropy (nats)
  std::vector<int32_t> assigned_token, assigned_expert;  // every assignment before capacity
  std::vector<std::pair<std::string, double>> losses;  // weighted aux losses by name
  double collect_seconds = 0;    // time this forward spent computing these stats (the metrics' cost)
};

class MoE : public FeedForward {
 public:
  // ep: split the experts over an expert-parallel group (null: this process holds all of them).
  MoE(const ModelConfig& cfg, int layer, uint64_t seed, Rng& init_rng, const ExpertParallel* ep = nullptr);
  // x [..., d] ([rows, T, d] in a model); ids: the model's input token ids with x's leading shape
  // (hash routing). Appends the router's weighted aux losses to *aux. `part`: where these rows sit
  // in a distributed run's batch (null: one process).
  Var forward(const Var& x, const IndexTensor& ids, std::vector<AuxLoss>* aux, const BatchPartition* part = nullptr);
  Var forward(const Var& x, const FfnContext& ctx) override {
    return forward(x, ctx.ids ? *ctx.ids : IndexTensor(), ctx.aux, ctx.partition);
  }

  std::shared_ptr<Router> router;
  std::shared_ptr<ModuleList<MLP>> experts;  // this process's: global indices first_expert() ..
  std::shared_ptr<ModuleList<MLP>> shared;  // null without shared experts
  // Expert choice and an eval capacity factor make a token's output depend on the other tokens.
  std::string cross_row_dependency() const override;
  const MoeStats& last_stats() const { return stats_; }
  // Off: only the counts (routed, kept) are kept; no probabilities, entropies or assignment lists.
  void set_collect_stats(bool on) { collect_stats_ = on; }
  Rng& route_rng() { return route_rng_; }
  // Per expert (and capacity group) for `tokens` tokens; -1 = dropless.
  int64_t capacity_for(int64_t tokens, bool training) const;
  double capacity_factor(bool training) const;  // <= 0: dropless
  int64_t num_experts() const { return cfg_.num_experts; }  // of the layer (all processes)
  int64_t first_expert() const { return first_expert_; }     // the first this process holds
  bool expert_parallel() const { return ep_.size > 1; }
  // Expert parallel: this process's all-to-all time and bytes for this layer (forward and backward)
  // since the last call.
  comm::CommStats take_exchange_stats();

 private:
  // The expert-parallel path of forward: assignments travel to the experts' owners and back.
  Var forward_expert_parallel(const Var& xf, const Routing& r, int64_t token_offset, int64_t group_tokens, int64_t cap);

  MoeConfig cfg_;
  int layer_;
  ExpertParallel ep_;
  int64_t first_expert_ = 0;
  kernels::ExpertMlpShape shape_;
  Rng route_rng_;
  MoeStats stats_;
  bool collect_stats_ = true;
  std::unique_ptr<comm::CommStats> exchange_stats_ = std::make_unique<comm::CommStats>();  // (a stable address)
};

}  // namespace moelab::nn
