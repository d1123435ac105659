// normalize_rows: y[r, j] = x[r, j] / s_r, s_r = sum_j x[r, j]  ->  dx[r, j] += (dy[r, j] - <dy_r, y_r>) / s_r
// Top-k gate renormalisation (GShard, Mixtral): the kept k probabilities sum to 1.
#include "autograd/ops.h"

namespace moelab::ops {

Var normalize_rows(const Var& x) {
  MOELAB_CHECK(x.dim() == 2, "normalize_rows: input must be [rows, cols], got ", shape_str(x.shape()));
  const int64_t rows = x.size(0), cols = x.size(1);
  Var y(Tensor::empty({rows, cols}));
  Tensor sums = Tensor::empty({rows});
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) s += x.data()[r * cols + j];
    sums[r] = static_cast<float>(s);
    for (int64_t j = 0; j < cols; ++j) y.data()[r * cols + j] = x.data()[r * cols + j] / sums[r];
  }
  if (!autograd::needs_grad({x})) return y;
  autograd::record("normalize_rows", y, [x, y, sums, rows, cols] {
    float* dx = x.grad_accum();
    const float* dy = y.grad().data();
    for (int64_t r = 0; r < rows; ++r) {
      double dot = 0;
      for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(dy[r * cols + j]) * y.data()[r * cols + j];
      for (int64_t j = 0; j < cols; ++j)
        dx[r * cols + j] += (dy[r * cols + j] - static_cast<float>(dot)) / sums[r];
    }
  });
  return y;
}

}  // namespace moelab::ops
