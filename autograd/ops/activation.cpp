// relu / gelu / gelu_tanh / silu: y = f(x), dx += f'(x) dy (derivatives in core/kernels/elementwise.cpp)
#include "autograd/ops.h"

namespace moelab::ops {

Var activation(const Var& x, kernels::Activation act) {
  Var y(Tensor::empty(x.shape()));
  kernels::activation_forward(act, y.data(), x.data(), x.numel());
  if (!autograd::needs_grad({x})) return y;
  autograd::record("activation", y, [x, y, act] {
    kernels::activation_backward(act, x.grad_accum(), x.data(), y.grad().data(), x.numel());
  });
  return y;
}

Var relu(const Var& x) { return activation(x, kernels::Activation::Relu); }
Var gelu(const Var& x) { return activation(x, kernels::Activation::Gelu); }
Var gelu_tanh(const Var& x) { return activation(x, kernels::Activation::GeluTanh); }
Var silu(const Var& x) { return activation(x, kernels::Activation::Silu); }

}  // namespace moelab::ops
