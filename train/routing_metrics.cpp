#include "train/routing_metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace moelab::train {

namespace {
constexpr int kTopTokens = 12;  // per expert in the token view
}

double coefficient_of_variation(const std::vector<double>& v) {
  if (v.empty()) return 0;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  if (mean == 0) return 0;
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  return std::sqrt(var / v.size()) / mean;
}

double max_violation(const std::vector<double>& v) {
  if (v.empty()) return 0;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  return mean == 0 ? 0 : *std::max_element(v.begin(), v.end()) / mean - 1;
}

double entropy(const std::vector<double>& v) {
  const double total = std::accumulate(v.begin(), v.end(), 0.0);
  if (total <= 0) return 0;
  double h = 0;
  for (double x : v)
    if (x > 0) h -= x / total * std::log(x / total);
  return h;
}

double mutual_information(const std::vector<std::vector<double>>& joint) {
  double total = 0;
  std::vector<double> cols;
  for (const auto& row : joint) {
    if (cols.size() < row.size()) cols.resize(row.size(), 0.0);
    for (size_t j = 0; j < row.size(); ++j) cols[j] += row[j], total += row[j];
  }
  if (total <= 0) return 0;
  double mi = 0;
  for (const auto& row : joint) {
    const double r = std::accumulate(row.begin(), row.end(), 0.0);
    for (size_t j = 0; j < row.size(); ++j)
      if (row[j] > 0) mi += row[j] / total * std::log(row[j] * total / (r * cols[j]));
  }
  return std::max(0.0, mi);  // tiny negative rounding of an independent table
}

RoutingWindow::RoutingWindow(int64_t num_experts, int64_t num_domains, std::shared_ptr<const TokenVocabulary> vocab)
    : E_(num_experts), D_(num_domains) {
  if (vocab) token_expert_ = std::make_unique<TokenExpertCounts>(std::move(vocab), num_experts);
  reset();
}

void RoutingWindow::reset() {
  forwards_ = tokens_ = 0;
  routed_.assign(E_, 0.0);
  kept_.assign(E_, 0.0);
  prob_sum_.assign(E_, 0.0);
  entropy_sum_ = 0;
  has_probs_ = false;
  domain_expert_.assign(D_, std::vector<double>(E_, 0.0));
  aux_sum_.clear();
  received_per_rank_.clear();
  if (token_expert_) token_expert_->reset();
}

void RoutingWindow::add(const nn::MoeStats& s, const std::vector<uint16_t>& domains,
                        const std::vector<std::pair<std::string, double>>& aux, const IndexTensor* ids) {
  ++forwards_;
  if (token_expert_ && ids && ids->numel() == s.tokens)
    token_expert_->add(ids->data(), ids->numel(), s.assigned_token, s.assigned_expert);
  tokens_ += s.tokens;
  for (int64_t e = 0; e < E_; ++e) {
    routed_[e] += static_cast<double>(s.routed[e]);
    kept_[e] += static_cast<double>(s.kept[e]);
  }
  if (!s.mean_prob.empty()) {
    has_probs_ = true;
    for (int64_t e = 0; e < E_; ++e) prob_sum_[e] += s.mean_prob[e] * static_cast<double>(s.tokens);
    entropy_sum_ += s.mean_token_entropy * static_cast<double>(s.tokens);
  }
  if (D_ > 0 && static_cast<int64_t>(domains.size()) == s.tokens)
    for (size_t a = 0; a < s.assigned_token.size(); ++a) {
      const uint16_t d = domains[s.assigned_token[a]];
      if (d < D_) domain_expert_[d][s.assigned_expert[a]] += 1;
    }
  for (const auto& loss : aux) {
    auto it = std::find_if(aux_sum_.begin(), aux_sum_.end(), [&](const auto& p) { return p.first == loss.first; });
    if (it == aux_sum_.end()) aux_sum_.push_back(loss);
    else it->second += loss.second;
  }
}

void RoutingWindow::sum_over(comm::Communicator& comm) {
  std::vector<double> v;  // every additive field, flat, in a fixed order
  v.push_back(static_cast<double>(tokens_));
  v.push_back(entropy_sum_);
  v.insert(v.end(), routed_.begin(), routed_.end());
  v.insert(v.end(), kept_.begin(), kept_.end());
  v.insert(v.end(), prob_sum_.begin(), prob_sum_.end());
  for (const auto& row : domain_expert_) v.insert(v.end(), row.begin(), row.end());
  if (token_expert_) v.insert(v.end(), token_expert_->counts().begin(), token_expert_->counts().end());
  for (const auto& a : aux_sum_) v.push_back(a.second / comm.size());  // each process's mean over its rows
  // the rows each process's experts computed (its own slot, 0 in the others'): how even expert parallelism is
  const size_t per_rank = v.size();
  v.resize(per_rank + static_cast<size_t>(comm.size()), 0.0);
  v[per_rank + static_cast<size_t>(comm.rank())] = std::accumulate(kept_.begin(), kept_.end(), 0.0);
  comm.allreduce_sum(v.data(), static_cast<int64_t>(v.size()));
  size_t at = 0;
  tokens_ = static_cast<int64_t>(v[at++]);
  entropy_sum_ = v[at++];
  for (double& x : routed_) x = v[at++];
  for (double& x : kept_) x = v[at++];
  for (double& x : prob_sum_) x = v[at++];
  for (auto& row : domain_expert_)
    for (double& x : row) x = v[at++];
  if (token_expert_)
    for (double& x : token_expert_->counts()) x = v[at++];
  for (auto& a : aux_sum_) a.second = v[at++];
  received_per_rank_.assign(v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
}

nlohmann::json RoutingWindow::to_json(const std::vector<float>& bias) const {
  using nlohmann::json;
  const double total = std::accumulate(routed_.begin(), routed_.end(), 0.0);
  const double kept = std::accumulate(kept_.begin(), kept_.end(), 0.0);
  std::vector<double> load(E_, 0.0);
  for (int64_t e = 0; e < E_; ++e) load[e] = total > 0 ? routed_[e] / total : 0.0;
  json j = {{"tokens", tokens_},
            {"routed", std::vector<int64_t>(routed_.begin(), routed_.end())},
            {"kept", std::vector<int64_t>(kept_.begin(), kept_.end())},
            {"load", load},
            {"drop_frac", total > 0 ? (total - kept) / total : 0.0},
            {"cv", coefficient_of_variation(routed_)},
            {"maxvio", max_violation(routed_)},
            {"dead", std::count(routed_.begin(), routed_.end(), 0.0)},
            {"entropy_load", entropy(load)}};
  if (has_probs_ && tokens_ > 0) {
    std::vector<double> prob(E_);
    for (int64_t e = 0; e < E_; ++e) prob[e] = prob_sum_[e] / static_cast<double>(tokens_);
    j["prob"] = prob;
    j["entropy_prob"] = entropy(prob);
    j["entropy_token"] = entropy_sum_ / static_cast<double>(tokens_);
  }
  if (!aux_sum_.empty()) {
    json aux = json::object();
    for (const auto& [name, v] : aux_sum_) aux[name] = v / static_cast<double>(forwards_);
    j["aux"] = aux;
  }
  if (!bias.empty()) j["bias"] = bias;
  if (!received_per_rank_.empty()) j["recv_per_rank"] = received_per_rank_;
  if (D_ > 0) {
    std::vector<std::vector<int64_t>> m(D_, std::vector<int64_t>(E_));
    for (int64_t d = 0; d < D_; ++d)
      for (int64_t e = 0; e < E_; ++e) m[d][e] = static_cast<int64_t>(domain_expert_[d][e]);
    j["domain_expert"] = m;
    j["domain_mi"] = mutual_information(domain_expert_);
  }
  if (token_expert_) j.update(token_expert_->to_json(kTopTokens));
  return j;
}

ModelRoutingMetrics::ModelRoutingMetrics(nn::GPT& model, int64_t num_domains,
                                         std::shared_ptr<const TokenVocabulary> vocab)
    : model_(model), layers_(model.moe_layers()) {
  for (int l : layers_) windows_.emplace_back(model.moe(l).num_experts(), num_domains, vocab);
}

void ModelRoutingMetrics::add(const nn::ModelOutput& out, const std::vector<uint16_t>& domains,
                              const IndexTensor* ids) {
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < layers_.size(); ++i) {
    seconds_ += model_.moe(layers_[i]).last_stats().collect_seconds;
    std::vector<std::pair<std::string, double>> aux;
    for (const nn::LayerAuxLoss& a : out.aux)
      if (a.layer == layers_[i]) aux.emplace_back(a.name, a.value.item());
    windows_[i].add(model_.moe(layers_[i]).last_stats(), domains, aux, ids);
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json ModelRoutingMetrics::take(comm::Communicator* comm) {
  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (comm && comm->size() > 1) windows_[i].sum_over(*comm);
    std::vector<float> bias;
    for (const nn::NamedBuffer& nb : model_.moe(layers_[i]).named_buffers())
      if (nb.name == "router.bias_balance") bias.assign(nb.tensor->data(), nb.tensor->data() + nb.tensor->numel());
    std::string key = "h";  // (not "h" + to_string(): GCC 12 warns falsely of an overlapping memcpy there)
    key += std::to_string(layers_[i]);
    j[key] = windows_[i].to_json(bias);
    nn::MoE& moe = model_.moe(layers_[i]);
    if (moe.expert_parallel()) {  // this process's exchanges for the layer, forward and backward
      const comm::CommStats x = moe.take_exchange_stats();
      j[key]["alltoall_s"] = x.alltoall_seconds + x.other_seconds;
      j[key]["alltoall_mb"] = static_cast<double>(x.alltoall_bytes) / 1048576.0;
    }
    windows_[i].reset();
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return j;
}

}  // namespace moelab::train
