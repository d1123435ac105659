// softmax: y = exp(x - lse);  dx += y (dy - sum(dy y))
// log_softmax: y = x - lse;   dx += dy - exp(y) sum(dy)
#include "autograd/ops.h"
#include "core/kernels/softmax.h"

namespace moelab::ops {
namespace {
int64_t cols_of(const Var& x, const char* op) {
  MOELAB_CHECK(x.dim() >= 1, op, ": needs at least 1 dim, got ", shape_str(x.shape()));
  return x.shape().back();
}
}  // namespace

Var softmax(const Var& x) {
  const int64_t cols = cols_of(x, "softmax"), rows = cols ? x.numel() / cols : 0;
  Var y(Tensor::empty(x.shape()));
  kernels::softmax_forward(y.data(), x.data(), rows, cols);
  if (!autograd::needs_grad({x})) return y;
  autograd::record("softmax", y, [x, y, rows, cols] {
    kernels::softmax_backward(x.grad_accum(), y.data(), y.grad().data(), rows, cols);
  });
  return y;
}

Var log_softmax(const Var& x) {
  const int64_t cols = cols_of(x, "log_softmax"), rows = cols ? x.numel() / cols : 0;
  Var y(Tensor::empty(x.shape()));
  kernels::log_softmax_forward(y.data(), x.data(), rows, cols);
  if (!autograd::needs_grad({x})) return y;
  autograd::record("log_softmax", y, [x, y, rows, cols] {
    kernels::log_softmax_backward(x.grad_accum(), y.data(), y.grad().data(), rows, cols);
  });
  return y;
}

}  // namespace moelab::ops
