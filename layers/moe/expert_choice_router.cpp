// expert_choice: Zhou et al. 2022. S = softmax(W x) over experts per token; each expert takes the
// C = floor(N * ec_factor / E) tokens with the highest score (ties: lower token index), gate S[n, e];
// with capacity groups, within each group of N / groups tokens.
// Perfect balance by construction; a token may get 0 .. E experts. NOT causal: a token's routing
// depends on the other tokens of the batch, including later ones (the model warns when built).
// Losses: z-loss only.
#include <algorithm>

#include "core/kernels/index.h"
#include "layers/moe/capacity.h"
#include "layers/moe/router.h"

namespace moelab::nn {

namespace {

class ExpertChoiceRouter : public LinearRouter {
 public:
  explicit ExpertChoiceRouter(const RouterArgs& a) : LinearRouter(a) {}
  bool causal() const override { return false; }

  Routing route(const Var& x, const RouteContext& ctx) override {
    const int64_t N = x.size(0);
    Var logits = ops::linear(x, weight);
    Var probs = ops::softmax(logits);
    // each capacity group (contiguous, equal rows of the batch) is ranked on its own
    const int64_t G = std::max<int64_t>(1, ctx.groups), Ng = N / G;
    MOELAB_CHECK(Ng * G == N, "expert_choice: ", N, " tokens do not split into ", G, " groups");
    const int64_t C = std::max<int64_t>(1, scaled_floor(cfg_.router.ec_factor, Ng, E_, Ng));  // exact, at most Ng
    Routing r;
    r.capacity_applies = false;
    Tensor scores_t = Tensor::empty({E_, Ng});  // expert-major copy, so each expert's pick is one top-k row
    Tensor top_v = Tensor::empty({E_, C});
    IndexTensor top_n = IndexTensor::empty({E_, C});
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t n = 0; n < Ng; ++n)
        for (int64_t i = 0; i < E_; ++i) scores_t[i * Ng + n] = probs.data()[(g * Ng + n) * E_ + i];
      kernels::topk_rows(top_v.data(), top_n.data(), scores_t.data(), E_, Ng, C);
      for (int64_t i = 0; i < E_; ++i)
        for (int64_t j = 0; j < C; ++j) {
          const int32_t n = static_cast<int32_t>(g * Ng + top_n[i * C + j]);
          r.assignments.push_back({n, static_cast<int32_t>(i), static_cast<int32_t>(n * E_ + i)});
        }
    }
    r.gates = ops::reshape(probs, {N * E_});
    record_softmax(r, logits, probs);
    return r;
  }

};

}  // namespace

std::shared_ptr<Router> make_expert_choice_router(const RouterArgs& a) {
  return std::make_shared<ExpertChoiceRouter>(a);
}

}  // namespace moelab::nn
