#include "bilinear_glu.h"

#include <cmath>

namespace custom {

namespace nn = moelab::nn;
namespace ops = moelab::ops;

BilinearGLU::BilinearGLU(const nn::FfnArgs& a) {
  const nlohmann::json& p = a.model.ffn.params;  // free-form: this layer validates its own keys
  for (const auto& [key, value] : p.items())
    MOELAB_CHECK(key == "hidden", "model.ffn.params: unknown key \"", key, "\" for bilinear_glu (known: hidden)");
  const int64_t d = a.model.n_embd;
  const int64_t hidden = p.value("hidden", int64_t{2} * a.model.ffn.mult * d / 3);
  MOELAB_CHECK(hidden >= 1, "model.ffn.params.hidden: ", hidden, " must be >= 1");
  // Initialised like moelab's MLP: N(0, 0.02), the output projection scaled by 1/sqrt(2 n_layer).
  // Registration order = initialisation order (a.init_rng) = checkpoint order.
  w1 = register_module("w1", std::make_shared<nn::Linear>(d, hidden, /*bias=*/false, 0.02f, a.init_rng));
  w3 = register_module("w3", std::make_shared<nn::Linear>(d, hidden, false, 0.02f, a.init_rng));
  w2 = register_module("w2", std::make_shared<nn::Linear>(hidden, d, false, 0.02f / std::sqrt(2.f * a.model.n_layer),
                                                           a.init_rng));
}

moelab::autograd::Var BilinearGLU::forward(const moelab::autograd::Var& x, const nn::FfnContext&) {
  return w2->forward(ops::mul(w1->forward(x), w3->forward(x)));  // x [..., d] -> [..., d]
}

std::shared_ptr<nn::FeedForward> make_bilinear_glu(const nn::FfnArgs& a) { return std::make_shared<BilinearGLU>(a); }

}  // namespace custom
