// train/routing_metrics.h: the routing-balance metrics of docs/metrics.md, as plain functions (tested on
// hand-built routings) and a per-layer window that accumulates an MoE layer's stats step by step.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/comm/communicator.h"
#include "layers/gpt.h"
#include "layers/moe/moe.h"
#include "train/token_routing.h"

namespace moelab::train {

// Population std / mean of the values (0 when the mean is 0).
double coefficient_of_variation(const std::vector<double>& v);
// max / mean - 1 (0 when the mean is 0).
double max_violation(const std::vector<double>& v);
// Entropy in nats of the distribution proportional to v (non-negative; 0 when v sums to 0).
double entropy(const std::vector<double>& v);
// Mutual information in nats between the row and column variables of a joint count table.
double mutual_information(const std::vector<std::vector<double>>& joint);

// Accumulates one MoE layer's routing over a window of forward passes (training steps between
// two log rows, or the eval batches) and turns it into the `moe.hL` object of metrics.jsonl.
class RoutingWindow {
 public:
  // vocab: also count (input token, expert) pairs, the "what experts learn" view (null: off).
  RoutingWindow(int64_t num_experts, int64_t num_domains, std::shared_ptr<const TokenVocabulary> vocab = nullptr);
  // domains: per input token of the forward pass (empty = unknown); aux: this layer's weighted losses;
  // ids: the forward's input token ids (null: not counted).
  void add(const nn::MoeStats& stats, const std::vector<uint16_t>& domains,
           const std::vector<std::pair<std::string, double>>& aux, const IndexTensor* ids = nullptr);
  bool empty() const { return forwards_ == 0; }
  // A distributed run: every process saw its own rows; afterwards each holds the whole batch's
  // window (counts summed, aux losses averaged). Every process calls it, in the same order.
  void sum_over(comm::Communicator& comm);
  nlohmann::json to_json(const std::vector<float>& bias) const;
  void reset();

 private:
  int64_t E_, D_;
  int64_t forwards_ = 0, tokens_ = 0;
  std::vector<double> routed_, kept_, prob_sum_;
  double entropy_sum_ = 0;
  bool has_probs_ = false;
  std::vector<std::vector<double>> domain_expert_;
  std::vector<std::pair<std::string, double>> aux_sum_;
  std::vector<double> received_per_rank_;  // a distributed run's, per process (filled by sum_over)
  std::unique_ptr<TokenExpertCounts> token_expert_;
};

// The training loop's view: one RoutingWindow per MoE layer of a model, fed after each forward
// and emptied into a metrics row's `moe` object ({"h1": {...}, ...}).
class ModelRoutingMetrics {
 public:
  // vocab: count (token, expert) pairs too (the eval windows'; null: off).
  ModelRoutingMetrics(nn::GPT& model, int64_t num_domains, std::shared_ptr<const TokenVocabulary> vocab = nullptr);
  // After a forward pass of `model` on a batch whose input tokens (`ids`) came from `domains`.
  void add(const nn::ModelOutput& out, const std::vector<uint16_t>& domains, const IndexTensor* ids = nullptr);
  bool empty() const { return layers_.empty(); }
  // {"h1": {...}, ...}, then starts a fresh window. With `comm`, over the whole batch of a
  // distributed run (a collective: every process calls it).
  nlohmann::json take(comm::Communicator* comm = nullptr);
  double seconds() const { return seconds_; }  // time spent on routing metrics (layers' stats + windows + JSON)

 private:
  nn::GPT& model_;
  std::vector<int> layers_;
  std::vector<RoutingWindow> windows_;
  double seconds_ = 0;
};

}  // namespace moelab::train
