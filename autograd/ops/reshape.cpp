// reshape: the output value is a view of the input's storage; the gradients are separate
// buffers of the same length, so dx += dy element for element.
#include "autograd/ops.h"

namespace moelab::ops {

Var reshape(const Var& x, const Shape& shape) {
  Var y(x.value().reshape(shape));
  if (!autograd::needs_grad({x})) return y;
  autograd::record("reshape", y, [x, y] { kernels::axpy(x.grad_accum(), y.grad().data(), 1.f, x.numel()); });
  return y;
}

}  // namespace moelab::ops
