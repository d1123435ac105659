// linear: y = x W^T + b with W [out, in] (PyTorch layout), x [..., in].
//   dx = dy W,  dW = dy^T x,  db = sum over rows of dy.
#include "autograd/ops.h"
#include "core/kernels/matmul.h"

namespace moelab::ops {

Var linear(const Var& x, const Var& weight, const Var& bias) {
  MOELAB_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.shape().back() == weight.size(1), "linear: input ",
               shape_str(x.shape()), " does not match weight ", shape_str(weight.shape()), " ([out, in])");
  const int64_t in = weight.size(1), out_f = weight.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
  MOELAB_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_f), "linear: bias ",
               shape_str(bias.defined() ? bias.shape() : Shape{}), " does not match weight ",
               shape_str(weight.shape()));
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  Var y(Tensor::empty(out_shape));
  kernels::matmul(Trans::No, Trans::Yes, 1, rows, out_f, in, x.data(), 0, weight.data(), 0, y.data(), 0, 0.f);
  if (bias.defined()) kernels::add_bias_rows(y.data(), bias.data(), rows, out_f);
  if (!autograd::needs_grad({x, weight, bias})) return y;
  autograd::record("linear", y, [x, weight, bias, y, rows, in, out_f] {
    const float* dy = y.grad().data();
    bool fresh;
    if (x.requires_grad()) {
      float* dx = x.grad_for_write(&fresh);
      kernels::matmul(Trans::No, Trans::No, 1, rows, in, out_f, dy, 0, weight.data(), 0, dx, 0, fresh ? 0.f : 1.f);
    }
    if (weight.requires_grad()) {
      float* dw = weight.grad_for_write(&fresh);
      kernels::matmul(Trans::Yes, Trans::No, 1, out_f, in, rows, dy, 0, x.data(), 0, dw, 0, fresh ? 0.f : 1.f);
    }
    if (bias.defined() && bias.requires_grad()) kernels::sum_rows_into(bias.grad_accum(), dy, rows, out_f);
  });
  return y;
}

}  // namespace moelab::ops
