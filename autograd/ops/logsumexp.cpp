// logsumexp over the last dim: y[r] = log sum_j exp(x[r, j])  ->  dx[r, j] += dy[r] softmax(x)[r, j]
// The router z-loss is mean(logsumexp(logits)^2).
#include <cmath>

#include "autograd/ops.h"
#include "core/kernels/softmax.h"

namespace moelab::ops {

Var logsumexp(const Var& x) {
  MOELAB_CHECK(x.dim() >= 1 && x.shape().back() > 0, "logsumexp: bad input ", shape_str(x.shape()));
  const int64_t cols = x.shape().back(), rows = x.numel() / cols;
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  Var y(Tensor::empty(out_shape));
  kernels::logsumexp_rows(y.data(), x.data(), rows, cols);
  if (!autograd::needs_grad({x})) return y;
  autograd::record("logsumexp", y, [x, y, rows, cols] {
    float* dx = x.grad_accum();
    const float* dy = y.grad().data();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        dx[r * cols + j] += dy[r] * std::exp(x.data()[r * cols + j] - y.data()[r]);
  });
  return y;
}

}  // namespace moelab::ops
