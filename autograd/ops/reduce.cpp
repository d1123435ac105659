// sum: y = sum x, dx += dy.  mean: y = sum x / n, dx += dy / n.
#include "autograd/ops.h"
#include "core/kernels/reduce.h"

namespace moelab::ops {
namespace {
Var reduce_scaled(const char* op, const Var& x, float s) {
  Var y(Tensor::full({}, static_cast<float>(kernels::sum(x.data(), x.numel()) * s)));
  if (!autograd::needs_grad({x})) return y;
  autograd::record(op, y, [x, y, s] {
    const float g = y.grad().item() * s;
    float* dx = x.grad_accum();
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] += g;
  });
  return y;
}
}  // namespace

Var sum(const Var& x) { return reduce_scaled("sum", x, 1.f); }
Var mean(const Var& x) {
  MOELAB_CHECK(x.numel() > 0, "mean: empty input ", shape_str(x.shape()));
  return reduce_scaled("mean", x, 1.f / static_cast<float>(x.numel()));
}

}  // namespace moelab::ops
