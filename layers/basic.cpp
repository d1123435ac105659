#include "layers/basic.h"

namespace moelab::nn {

Tensor normal(const Shape& s, float std, Rng& rng) {
  Tensor t = Tensor::empty(s);
  rng.fill_normal(t, 0.f, std);
  return t;
}

Linear::Linear(int64_t in, int64_t out, bool with_bias, float init_std, Rng& rng) {
  weight = register_parameter("weight", normal({out, in}, init_std, rng), Role::Matmul);
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out}), Role::Bias);
}

Embedding::Embedding(int64_t num, int64_t dim, float init_std, Rng& rng) {
  weight = register_parameter("weight", normal({num, dim}, init_std, rng), Role::Embedding);
}

Norm::Norm(const std::string& kind, int64_t dim, bool with_bias) : rms_(kind == "rmsnorm") {
  MOELAB_CHECK(kind == "layernorm" || kind == "rmsnorm", "norm: unknown kind \"", kind,
               "\" (known: layernorm, rmsnorm)");
  weight = register_parameter("weight", Tensor::full({dim}, 1.f), Role::Norm);
  if (with_bias && !rms_) bias = register_parameter("bias", Tensor::zeros({dim}), Role::Norm);
}

Var Norm::forward(const Var& x) const {
  return rms_ ? ops::rmsnorm(x, weight, 1e-5f) : ops::layernorm(x, weight, bias, 1e-5f);
}

}  // namespace moelab::nn
