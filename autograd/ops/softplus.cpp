// softplus: y = log(1 + exp(x)) (computed as max(x, 0) + log1p(exp(-|x|)))  ->  dx += dy sigmoid(x)
// The learned noise scale of Shazeer's noisy top-k router.
#include <cmath>

#include "autograd/ops.h"

namespace moelab::ops {

Var softplus(const Var& x) {
  Var y(Tensor::empty(x.shape()));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data()[i];
    y.data()[i] = std::max(v, 0.f) + std::log1p(std::exp(-std::fabs(v)));
  }
  if (!autograd::needs_grad({x})) return y;
  autograd::record("softplus", y, [x, y] {
    float* dx = x.grad_accum();
    const float* dy = y.grad().data();
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] += dy[i] / (1.f + std::exp(-x.data()[i]));
  });
  return y;
}

}  // namespace moelab::ops
