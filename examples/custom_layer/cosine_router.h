// cosine_router.h: a new router, the cosine gate of Tutel (tutel/gates/cosine_top.py; Chi et al.
// 2022, "On the Representation Collapse of Sparse Mixture of Experts"):
//   logits[n, e] = cos(P x_n, w_e) * s,   s = exp(min(log_scale, log(1 / min_temperature)))
// i.e. cosine similarity between the projected token and a learned embedding per expert, divided by
// a temperature 1/s; then top-k over softmax(logits), gated like moelab's topk router.
//
// Config: model.moe.router.type = "cosine"; model.moe.router.params:
//   proj_dim          width of the projection P (default 256, Tutel's)
//   temperature       initial temperature (default 0.5, Tutel's init_t)
//   learn_temperature learn log_scale (default true), else a fixed temperature
//   min_temperature   floor of the learned temperature (default 0.01, Tutel's clamp)
// The shared router keys apply too: router.renorm (gates of the kept k renormalised to sum 1),
// moe.capacity.priority, and moe.loss.switch / moe.loss.z.
// Parameters: transformer.h.<layer>.moe.router.{proj.weight, proj.bias, expert_embed, log_scale}.
#pragma once
#include <memory>

#include "layers/moe/router.h"

namespace custom {

class CosineRouter : public moelab::nn::Router {
 public:
  explicit CosineRouter(const moelab::nn::RouterArgs& a);
  moelab::nn::Routing route(const moelab::autograd::Var& x, const moelab::nn::RouteContext& ctx) override;
  // The [N, E] logits alone (what route() selects from).
  moelab::autograd::Var logits(const moelab::autograd::Var& x) const;

  std::shared_ptr<moelab::nn::Linear> proj;  // d -> proj_dim, with bias (Tutel's cosine_projector)
  moelab::autograd::Var expert_embed;        // [E, proj_dim] (Tutel's sim_matrix, transposed)
  moelab::autograd::Var log_scale;           // [1] log(1 / temperature); undefined when not learned

 private:
  moelab::nn::MoeConfig cfg_;
  int64_t E_, k_;
  float fixed_scale_ = 1.f, max_log_scale_ = 0.f;
};

std::shared_ptr<moelab::nn::Router> make_cosine_router(const moelab::nn::RouterArgs& a);

}  // namespace custom
