// layers/config.h: the typed model configuration (parsed and validated in train/config/;
// defaults live here only).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moelab::nn {

struct FfnConfig {
  std::string type = "mlp";         // FFN kind of dense layers (layers/ffn.h registry)
  std::string activation = "gelu";  // gelu | gelu_tanh | relu | silu | swiglu | geglu | reglu | registered
  int mult = 4;                     // hidden width = mult * n_embd
  nlohmann::json params = nlohmann::json::object();  // free-form settings for a registered FFN kind
};

// The router: how tokens pick experts (docs/config.md, model.moe.router).
struct RouterConfig {
  std::string type = "topk";   // soft | topk | noisy_topk | expert_choice | hash (layers/moe/routers.cpp)
  bool renorm = false;         // topk: kept k gates renormalised to sum 1 (GShard, GLaM)
  bool topk_softmax = false;   // topk: softmax over the k kept logits (Mixtral; equals renorm up to rounding)
  double random_second = 0;    // topk, k=2: GShard random routing, keep expert 2 iff U < g2/theta (0 = off)
  double bias_rate = 0;        // topk: aux-loss-free bias balancing rate gamma (DeepSeek-V3; 0 = off)
  double noise_eps = 1e-2;     // noisy_topk: floor added to the softplus noise stddev
  double ec_factor = 2;        // expert_choice: each expert takes C = floor(tokens * ec_factor / E) tokens
  nlohmann::json params = nlohmann::json::object();  // free-form settings for a registered router
};

struct CapacityConfig {
  double factor = 0;                  // capacity factor while training; 0 = dropless
  double eval_factor = -1;            // at eval; < 0 = same as factor
  std::string convention = "google";  // google: floor(T*CF/E) | times_k: ceil(T*k*CF/E) (DeepSpeed, Megatron)
  std::string priority = "slot";      // slot: all first choices before second ones | token: token order
  int groups = 1;                     // the batch's rows form this many groups, each with its own capacity (GShard)
};

struct MoeLossConfig {
  double switch_aux = 0.01;  // Switch load balancing alpha * E * sum f_i P_i (uniform routing: alpha)
  double z = 0.001;          // router z-loss beta * mean(logsumexp(logits)^2)
  double importance = 0.1;   // noisy_topk: w * CV(importance)^2
  double load = 0.1;         // noisy_topk: w * CV(smooth load)^2
  std::map<std::string, double> extra;  // coefficients of registered aux losses (layers/moe/aux_losses.h)
};

struct MoeConfig {
  int num_experts = 0;  // 0 = a dense model
  std::map<int, int> experts_by_layer;  // per-layer overrides of num_experts (grown by moelab expand)
  int top_k = 2;
  // Which layers are MoE: an explicit list, else a pattern ("DMDM", one letter per layer), else every
  // `every`-th layer from `offset` (offset -1 = every - 1: layers 1, 3, 5 ... for every = 2, like GLaM).
  std::vector<int> layers;
  std::string pattern;
  int every = 2;
  int offset = -1;
  int expert_hidden = 0;   // hidden width of each routed expert (0 = ffn.mult * n_embd)
  int shared_experts = 0;  // always-on experts every token passes through (DeepSeekMoE)
  int shared_hidden = 0;   // their hidden width (0 = expert width)
  RouterConfig router;
  CapacityConfig capacity;
  MoeLossConfig loss;

  bool enabled() const { return num_experts > 0; }
  int experts_at(int layer) const {
    auto it = experts_by_layer.find(layer);
    return it == experts_by_layer.end() ? num_experts : it->second;
  }
  bool is_moe_layer(int layer, int n_layer) const;
};

struct ModelConfig {
  int vocab_size = 0;  // from the tokenizer
  int n_layer = 4;
  int n_head = 4;
  int n_embd = 128;
  int block_size = 64;
  float dropout = 0.f;
  bool bias = true;
  std::string norm = "layernorm";  // layernorm | rmsnorm
  FfnConfig ffn;
  MoeConfig moe;

  // A lower bound on the parameter count (embeddings, attention, 2-matrix MLPs and experts; a
  // registered FFN kind counts 0), in double so absurd sizes cannot overflow. Checked before
  // anything is allocated: against the machine's memory (training) or a checkpoint's tensors.
  // Counting stops once the count exceeds `stop_above`.
  double min_parameter_count(double stop_above = 1e18) const;
};

}  // namespace moelab::nn
