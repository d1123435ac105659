// noisy_topk: Shazeer et al. 2017. While training, H = W_g x + eps * s with s = softplus(W_noise x)
// + noise_eps and eps ~ N(0, 1); at eval H = W_g x. G = softmax over the k largest H (zeros elsewhere).
// W_g and W_noise start at zero (the paper's balanced start: only noise decides at first).
// Losses: importance w_imp * CV(sum_n G(n))^2 and load w_load * CV(load)^2 with the smooth load
// estimate (ops::noisy_topk_load; hard counts, without gradient, at eval or when k = E); z-loss.
#include "core/kernels/index.h"
#include "layers/moe/router.h"

namespace moelab::nn {

namespace {

class NoisyTopKRouter : public LinearRouter {
 public:
  explicit NoisyTopKRouter(const RouterArgs& a) : LinearRouter(a, /*zero_init=*/true) {
    w_noise = register_parameter("w_noise", Tensor::zeros({E_, a.dim}), Role::Router);
  }

  Routing route(const Var& x, const RouteContext& ctx) override {
    const int64_t N = x.size(0);
    Var clean = ops::linear(x, weight);
    Var noisy = clean, stddev;
    if (ctx.training) {
      stddev = ops::add(ops::softplus(ops::linear(x, w_noise)),
                        Var(Tensor::full({E_}, static_cast<float>(cfg_.router.noise_eps))));
      Tensor eps = Tensor::empty({N, E_});
      ctx.rng->fill_normal(eps);
      noisy = ops::add(clean, ops::mul(Var(eps), stddev));
    }
    Tensor top_v = Tensor::empty({N, k_});
    IndexTensor idx = IndexTensor::empty({N, k_});
    kernels::topk_rows(top_v.data(), idx.data(), noisy.data(), N, E_, k_);
    Var gates = ops::softmax(ops::gather_cols(noisy, idx));  // [N, k]

    Routing r;
    r.gates = ops::reshape(gates, {N * k_});
    const bool by_token = cfg_.capacity.priority == "token";
    for (int64_t a = 0; a < N * k_; ++a) {
      const int64_t n = by_token ? a / k_ : a % N, j = by_token ? a % k_ : a / N;
      r.assignments.push_back({static_cast<int32_t>(n), idx[n * k_ + j], static_cast<int32_t>(n * k_ + j)});
    }
    r.logits = clean;
    // routing distribution for metrics: the dense gates
    r.probs = Tensor::zeros({N, E_});
    for (int64_t a = 0; a < N * k_; ++a) r.probs[a / k_ * E_ + idx[a]] = gates.data()[a];

    if (cfg_.loss.importance > 0) {
      IndexTensor flat = IndexTensor::empty({N * k_});
      for (int64_t a = 0; a < N * k_; ++a) flat[a] = idx[a];
      Var importance = ops::allreduce_sum(ops::scatter_add_rows(ops::reshape(gates, {N * k_, 1}), flat, E_), ctx.comm);
      r.losses.push_back({"importance", ops::scale(ops::cv_squared(importance), float(cfg_.loss.importance))});
    }
    if (cfg_.loss.load > 0) {
      Var load;
      if (ctx.training && k_ < E_) {
        load = ops::noisy_topk_load(clean, noisy, stddev, k_);
      } else {
        load = Var(Tensor::zeros({E_}));
        for (int64_t a = 0; a < N * k_; ++a) load.data()[idx[a]] += 1.f;
      }
      r.losses.push_back({"load", ops::scale(ops::cv_squared(ops::allreduce_sum(load, ctx.comm)), float(cfg_.loss.load))});
    }
    if (cfg_.loss.z > 0) r.losses.push_back(z_loss(clean, cfg_.loss.z));
    return r;
  }

  int64_t random_draws_per_token(bool training) const override { return training ? E_ : 0; }

  Var w_noise;
};

}  // namespace

std::shared_ptr<Router> make_noisy_topk_router(const RouterArgs& a) { return std::make_shared<NoisyTopKRouter>(a); }

}  // namespace moelab::nn
