// rmsnorm over the last dim: y = x * rrms * w, rrms = 1/sqrt(mean(x^2) + eps).
// dx = rrms g - x rrms^3 mean(g x) with g = dy w;  dw = sum dy x rrms.
#include "autograd/ops.h"
#include "core/kernels/norm.h"

namespace moelab::ops {

Var rmsnorm(const Var& x, const Var& weight, float eps) {
  MOELAB_CHECK(x.dim() >= 1, "rmsnorm: input needs at least 1 dim");
  const int64_t cols = x.shape().back(), rows = cols ? x.numel() / cols : 0;
  MOELAB_CHECK(!weight.defined() || weight.shape() == Shape{cols}, "rmsnorm: weight ",
               shape_str(weight.defined() ? weight.shape() : Shape{}), " does not match input ",
               shape_str(x.shape()));
  Var y(Tensor::empty(x.shape()));
  Tensor rrms = Tensor::empty({rows});
  kernels::rmsnorm_forward(y.data(), rrms.data(), x.data(), weight.defined() ? weight.data() : nullptr, rows, cols,
                           eps);
  if (!autograd::needs_grad({x, weight})) return y;
  autograd::record("rmsnorm", y, [x, weight, y, rrms, rows, cols] {
    kernels::rmsnorm_backward(x.requires_grad() ? x.grad_accum() : nullptr,
                              weight.defined() && weight.requires_grad() ? weight.grad_accum() : nullptr,
                              y.grad().data(), x.data(), rrms.data(), weight.defined() ? weight.data() : nullptr,
                              rows, cols);
  });
  return y;
}

}  // namespace moelab::ops
