// soft: the original mixture of experts (Jacobs et al. 1991). Every expert sees every token, weighted
// by p = softmax(W x): y = sum_i p_i expert_i(x). Costs E x a dense FFN; no capacity, no balance loss
// (every expert gets all tokens); z-loss only.
#include "layers/moe/router.h"

namespace moelab::nn {

namespace {

class SoftRouter : public LinearRouter {
 public:
  explicit SoftRouter(const RouterArgs& a) : LinearRouter(a) {}

  Routing route(const Var& x, const RouteContext&) override {
    const int64_t N = x.size(0);
    Var logits = ops::linear(x, weight);
    Var probs = ops::softmax(logits);
    Routing r;
    r.capacity_applies = false;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < E_; ++i)
        r.assignments.push_back({static_cast<int32_t>(n), static_cast<int32_t>(i), static_cast<int32_t>(n * E_ + i)});
    r.gates = ops::reshape(probs, {N * E_});
    record_softmax(r, logits, probs);
    return r;
  }

};

}  // namespace

std::shared_ptr<Router> make_soft_router(const RouterArgs& a) { return std::make_shared<SoftRouter>(a); }

}  // namespace moelab::nn
