// layernorm over the last dim: y = (x - mean) * rstd * w + b, keeping mean and rstd per row.
// dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy w;  dw = sum dy xhat;  db = sum dy.
#include "autograd/ops.h"
#include "core/kernels/norm.h"

namespace moelab::ops {

Var layernorm(const Var& x, const Var& weight, const Var& bias, float eps) {
  MOELAB_CHECK(x.dim() >= 1, "layernorm: input needs at least 1 dim");
  const int64_t cols = x.shape().back(), rows = cols ? x.numel() / cols : 0;
  MOELAB_CHECK(!weight.defined() || weight.shape() == Shape{cols}, "layernorm: weight ",
               shape_str(weight.defined() ? weight.shape() : Shape{}), " does not match input ",
               shape_str(x.shape()));
  MOELAB_CHECK(!bias.defined() || bias.shape() == Shape{cols}, "layernorm: bias ",
               shape_str(bias.defined() ? bias.shape() : Shape{}), " does not match input ", shape_str(x.shape()));
  Var y(Tensor::empty(x.shape()));
  Tensor mean = Tensor::empty({rows}), rstd = Tensor::empty({rows});
  kernels::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), weight.defined() ? weight.data() : nullptr,
                             bias.defined() ? bias.data() : nullptr, rows, cols, eps);
  if (!autograd::needs_grad({x, weight, bias})) return y;
  autograd::record("layernorm", y, [x, weight, bias, y, mean, rstd, rows, cols] {
    kernels::layernorm_backward(x.requires_grad() ? x.grad_accum() : nullptr,
                                weight.defined() && weight.requires_grad() ? weight.grad_accum() : nullptr,
                                bias.defined() && bias.requires_grad() ? bias.grad_accum() : nullptr, y.grad().data(),
                                x.data(), mean.data(), rstd.data(), weight.defined() ? weight.data() : nullptr, rows,
                                cols);
  });
  return y;
}

}  // namespace moelab::ops
