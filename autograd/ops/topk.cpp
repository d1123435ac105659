// topk over the last dim: values[r, j] = x[r, idx[r, j]];  dx[r, idx[r, j]] += dvalues[r, j].
// The selection itself (indices) is integer data and carries no gradient.
#include "autograd/ops.h"
#include "core/kernels/index.h"

namespace moelab::ops {

TopK topk(const Var& x, int64_t k) {
  MOELAB_CHECK(x.dim() >= 1, "topk: input needs at least 1 dim");
  const int64_t cols = x.shape().back(), rows = cols ? x.numel() / cols : 0;
  MOELAB_CHECK(k >= 1 && k <= cols, "topk: k = ", k, " must be in [1, ", cols, "] for input ", shape_str(x.shape()));
  Shape out_shape = x.shape();
  out_shape.back() = k;
  TopK out{Var(Tensor::empty(out_shape)), IndexTensor::empty(out_shape)};
  kernels::topk_rows(out.values.data(), out.indices.data(), x.data(), rows, cols, k);
  if (!autograd::needs_grad({x})) return out;
  autograd::record("topk", out.values, [x, values = out.values, idx = out.indices, rows, cols, k] {
    float* dx = x.grad_accum();
    const float* dv = values.grad().data();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) dx[r * cols + idx[r * k + j]] += dv[r * k + j];
  });
  return out;
}

}  // namespace moelab::ops
