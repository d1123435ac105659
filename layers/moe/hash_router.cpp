// hash: Roller et al. 2021. The expert is a fixed hash of the input token id (salted by the layer),
// gate weight 1, no learned parameters, no aux loss: the routing-free control for balance studies
// (its load depends only on token frequencies). top_k = 1.
#include "layers/moe/router.h"

namespace moelab::nn {

namespace {

class HashRouter : public Router {
 public:
  explicit HashRouter(const RouterArgs& a) : E_(a.moe.num_experts) {}

  Routing route(const Var& x, const RouteContext& ctx) override {
    const int64_t N = x.size(0);
    MOELAB_CHECK(ctx.token_ids && ctx.token_ids->numel() == N, "hash router: needs the ", N,
                 " input token ids of the layer's rows");
    Routing r;
    for (int64_t n = 0; n < N; ++n) {
      const uint64_t h = Rng::hash(0x9e3779b97f4a7c15ULL, static_cast<uint64_t>(ctx.layer),
                                   static_cast<uint64_t>((*ctx.token_ids)[n]));
      r.assignments.push_back({static_cast<int32_t>(n), static_cast<int32_t>(h % E_), static_cast<int32_t>(n)});
    }
    return r;
  }

 private:
  int64_t E_;
};

}  // namespace

std::shared_ptr<Router> make_hash_router(const RouterArgs& a) { return std::make_shared<HashRouter>(a); }

}  // namespace moelab::nn
