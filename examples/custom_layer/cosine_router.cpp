#include "cosine_router.h"

#include <cmath>

#include "cosine_ops.h"

namespace custom {

namespace nn = moelab::nn;
namespace ops = moelab::ops;
using moelab::Tensor;
using moelab::autograd::Var;

CosineRouter::CosineRouter(const nn::RouterArgs& a) : cfg_(a.moe), E_(a.moe.num_experts), k_(a.moe.top_k) {
  const nlohmann::json& p = a.moe.router.params;
  for (const auto& [key, value] : p.items())
    MOELAB_CHECK(key == "proj_dim" || key == "temperature" || key == "learn_temperature" || key == "min_temperature",
                 "model.moe.router.params: unknown key \"", key,
                 "\" for the cosine router (known: proj_dim, temperature, learn_temperature, min_temperature)");
  const int64_t proj_dim = p.value("proj_dim", int64_t{256});
  const double temperature = p.value("temperature", 0.5), min_temperature = p.value("min_temperature", 0.01);
  MOELAB_CHECK(proj_dim >= 1, "model.moe.router.params.proj_dim: ", proj_dim, " must be >= 1");
  MOELAB_CHECK(temperature > 0 && min_temperature > 0 && temperature >= min_temperature,
               "model.moe.router.params: need 0 < min_temperature <= temperature, got ", min_temperature, " and ",
               temperature);

  proj = register_module("proj", std::make_shared<nn::Linear>(a.dim, proj_dim, /*bias=*/true, 0.02f, a.init_rng));
  expert_embed = register_parameter("expert_embed", nn::normal({E_, proj_dim}, 0.01f, a.init_rng), nn::Role::Router);
  max_log_scale_ = static_cast<float>(std::log(1.0 / min_temperature));
  if (p.value("learn_temperature", true))
    // Role::Norm: no weight decay (decay would pull the temperature towards 1).
    log_scale = register_parameter("log_scale", Tensor::full({1}, static_cast<float>(std::log(1.0 / temperature))),
                                   nn::Role::Norm);
  else
    fixed_scale_ = static_cast<float>(1.0 / temperature);
}

Var CosineRouter::logits(const Var& x) const {
  const int64_t N = x.size(0);
  Var cos = ops::linear(l2_normalize_rows(proj->forward(x)), l2_normalize_rows(expert_embed));  // [N, E]
  if (!log_scale.defined()) return ops::scale(cos, fixed_scale_);
  // [N*E, 1] * [1]: moelab broadcasts the smaller operand over the larger one's leading dims.
  Var scaled = ops::mul(ops::reshape(cos, {N * E_, 1}), clamped_exp(log_scale, max_log_scale_));
  return ops::reshape(scaled, {N, E_});
}

nn::Routing CosineRouter::route(const Var& x, const nn::RouteContext&) {
  const int64_t N = x.size(0);
  Var logits = this->logits(x);
  Var probs = ops::softmax(logits);
  ops::TopK top = ops::topk(probs, k_);  // values on the tape, indices plain integers
  nn::Routing r;
  r.gates = ops::reshape(cfg_.router.renorm ? ops::normalize_rows(top.values) : top.values, {N * k_});
  // Assignments in priority order (capacity keeps the earliest): "slot" queues every first choice
  // before any second choice, "token" goes token by token. gate_index n*k+j points into r.gates.
  auto add = [&](int64_t n, int64_t j) {
    r.assignments.push_back({static_cast<int32_t>(n), top.indices[n * k_ + j], static_cast<int32_t>(n * k_ + j)});
  };
  if (cfg_.capacity.priority == "token") {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < k_; ++j) add(n, j);
  } else {
    for (int64_t j = 0; j < k_; ++j)
      for (int64_t n = 0; n < N; ++n) add(n, j);
  }
  r.probs = probs.value();  // routing metrics
  r.logits = logits;        // for aux losses, built-in and registered
  r.prob = probs;
  std::vector<int64_t> counts(E_, 0);
  for (int64_t a = 0; a < N * k_; ++a) ++counts[top.indices[a]];
  if (cfg_.loss.switch_aux > 0) r.losses.push_back(nn::switch_loss(probs, counts, cfg_.loss.switch_aux));
  if (cfg_.loss.z > 0) r.losses.push_back(nn::z_loss(logits, cfg_.loss.z));
  return r;
}

std::shared_ptr<nn::Router> make_cosine_router(const nn::RouterArgs& a) { return std::make_shared<CosineRouter>(a); }

}  // namespace custom
