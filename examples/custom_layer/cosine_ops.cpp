#include "cosine_ops.h"

#include <algorithm>
#include <cmath>

namespace custom {

Var l2_normalize_rows(const Var& x, float eps) {
  MOELAB_CHECK(x.dim() == 2, "l2_normalize_rows: input must be [rows, cols], got ", moelab::shape_str(x.shape()));
  const int64_t rows = x.size(0), cols = x.size(1);
  Var y(moelab::Tensor::empty({rows, cols}));
  moelab::Tensor norms = moelab::Tensor::empty({rows});  // max(||x[r]||, eps), kept for backward
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * cols;
    double ss = 0;
    for (int64_t j = 0; j < cols; ++j) ss += static_cast<double>(xr[j]) * xr[j];
    norms[r] = std::max(static_cast<float>(std::sqrt(ss)), eps);
    for (int64_t j = 0; j < cols; ++j) y.data()[r * cols + j] = xr[j] / norms[r];
  }
  if (!moelab::autograd::needs_grad({x})) return y;
  moelab::autograd::record("l2_normalize_rows", y, [x, y, norms, rows, cols, eps] {
    float* dx = x.grad_accum();
    const float* dy = y.grad().data();
    for (int64_t r = 0; r < rows; ++r) {
      const float* yr = y.data() + r * cols;
      const float* dyr = dy + r * cols;
      // Below eps the norm is the constant eps, so y = x / eps is linear in x.
      double dot = 0;
      if (norms[r] > eps)
        for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(dyr[j]) * yr[j];
      for (int64_t j = 0; j < cols; ++j)
        dx[r * cols + j] += (dyr[j] - yr[j] * static_cast<float>(dot)) / norms[r];
    }
  });
  return y;
}

Var clamped_exp(const Var& x, float max) {
  Var y(moelab::Tensor::empty(x.shape()));
  for (int64_t i = 0; i < x.numel(); ++i) y.data()[i] = std::exp(std::min(x.data()[i], max));
  if (!moelab::autograd::needs_grad({x})) return y;
  moelab::autograd::record("clamped_exp", y, [x, y, max] {
    float* dx = x.grad_accum();
    const float* dy = y.grad().data();
    for (int64_t i = 0; i < x.numel(); ++i)
      if (x.data()[i] < max) dx[i] += dy[i] * y.data()[i];
  });
  return y;
}

}  // namespace custom
