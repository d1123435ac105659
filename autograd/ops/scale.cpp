// scale: y = s x, dx += s dy
#include "autograd/ops.h"

namespace moelab::ops {

Var scale(const Var& x, float s) {
  Var y(Tensor::empty(x.shape()));
  kernels::scale_forward(y.data(), x.data(), s, x.numel());
  if (!autograd::needs_grad({x})) return y;
  autograd::record("scale", y, [x, y, s] { kernels::axpy(x.grad_accum(), y.grad().data(), s, x.numel()); });
  return y;
}

}  // namespace moelab::ops
