// topk: token choice. p = softmax(W x) over E; each token keeps its k most probable experts.
//   gate = p_i (Switch, k = 1: the full-softmax probability gives the router its gradient),
//          or p_i / sum of the kept p (renorm: GShard, GLaM), or softmax over the kept logits (Mixtral).
// Options: GShard random routing of the 2nd expert (keep it iff U < g2 / theta); aux-loss-free bias
// balancing (DeepSeek-V3): a per-expert bias added to p for the selection only, never to the gates,
// updated after each training forward by b_i += gamma * sign(mean load - load_i); a buffer, not a
// parameter. Losses: Switch load balancing (f counted before capacity) and z-loss.
#include <cmath>

#include "core/kernels/index.h"
#include "layers/moe/router.h"

namespace moelab::nn {

namespace {

class TopKRouter : public LinearRouter {
 public:
  explicit TopKRouter(const RouterArgs& a) : LinearRouter(a) {
    if (cfg_.router.bias_rate > 0) bias_balance = register_buffer("bias_balance", Tensor::zeros({E_}));
  }

  Routing route(const Var& x, const RouteContext& ctx) override {
    const int64_t N = x.size(0);
    const RouterConfig& rc = cfg_.router;
    Var logits = ops::linear(x, weight);
    Var probs = ops::softmax(logits);
    // selection (integers, off the tape): top-k of p, or of p + bias with bias balancing
    Tensor scores = probs.value();
    if (bias_balance.defined()) {
      scores = probs.value().clone();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < E_; ++i) scores[n * E_ + i] += bias_balance[i];
    }
    Tensor top_v = Tensor::empty({N, k_});
    IndexTensor idx = IndexTensor::empty({N, k_});
    kernels::topk_rows(top_v.data(), idx.data(), scores.data(), N, E_, k_);

    Routing r;
    if (rc.topk_softmax)
      r.gates = ops::softmax(ops::gather_cols(logits, idx));
    else if (rc.renorm)
      r.gates = ops::normalize_rows(ops::gather_cols(probs, idx));
    else
      r.gates = ops::gather_cols(probs, idx);
    r.gates = ops::reshape(r.gates, {N * k_});

    std::vector<char> keep(N * k_, 1);
    if (rc.random_second > 0 && k_ == 2 && ctx.training) {
      // GShard: the 2nd expert's normalised weight g2' = p2 / (p1 + p2) decides, U ~ [0, 1)
      const float* p = probs.data();
      for (int64_t n = 0; n < N; ++n) {
        const float p1 = p[n * E_ + idx[n * 2]], p2 = p[n * E_ + idx[n * 2 + 1]];
        const double g2 = p2 / std::max(p1 + p2, 1e-30f);
        keep[n * 2 + 1] = ctx.rng->uniform() < g2 / rc.random_second;
      }
    }
    std::vector<int64_t> counts(E_, 0);
    for (int64_t a = 0; a < N * k_; ++a) ++counts[idx[a]];
    ctx.sum_over_processes(counts);  // f_i and the bias update use the whole batch's load
    auto add = [&](int64_t n, int64_t j) {
      if (keep[n * k_ + j])
        r.assignments.push_back({static_cast<int32_t>(n), idx[n * k_ + j], static_cast<int32_t>(n * k_ + j)});
    };
    if (cfg_.capacity.priority == "token") {
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < k_; ++j) add(n, j);
    } else {  // slot: every token's first choice is queued before any second choice
      for (int64_t j = 0; j < k_; ++j)
        for (int64_t n = 0; n < N; ++n) add(n, j);
    }
    if (cfg_.loss.switch_aux > 0) r.losses.push_back(switch_loss(probs, counts, cfg_.loss.switch_aux));
    record_softmax(r, logits, probs);

    if (bias_balance.defined() && ctx.training) {
      int64_t total = 0;
      for (int64_t c : counts) total += c;
      const double mean = static_cast<double>(total) / E_;
      for (int64_t i = 0; i < E_; ++i) {
        const double e = mean - static_cast<double>(counts[i]);
        bias_balance[i] += static_cast<float>(rc.bias_rate * ((e > 0) - (e < 0)));
      }
    }
    return r;
  }

  int64_t random_draws_per_token(bool training) const override {
    return training && cfg_.router.random_second > 0 && k_ == 2 ? 1 : 0;
  }

  Tensor bias_balance;
};

}  // namespace

std::shared_ptr<Router> make_topk_router(const RouterArgs& a) { return std::make_shared<TopKRouter>(a); }

}  // namespace moelab::nn
