// gather_cols: y[r, j] = x[r, idx[r, j]]  ->  dx[r, idx[r, j]] += dy[r, j]
// Picks the gate values of the experts a router selected (selection made elsewhere, e.g. on biased scores).
#include "autograd/ops.h"

namespace moelab::ops {

Var gather_cols(const Var& x, const IndexTensor& idx) {
  MOELAB_CHECK(x.dim() == 2 && idx.dim() == 2 && idx.size(0) == x.size(0), "gather_cols: x ",
               shape_str(x.shape()), " and idx ", shape_str(idx.shape()), " must be [rows, cols] and [rows, k]");
  const int64_t rows = x.size(0), cols = x.size(1), k = idx.size(1);
  for (int64_t i = 0; i < idx.numel(); ++i)
    MOELAB_CHECK(idx[i] >= 0 && idx[i] < cols, "gather_cols: index ", idx[i], " outside [0, ", cols, ")");
  Var y(Tensor::empty({rows, k}));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) y.data()[r * k + j] = x.data()[r * cols + idx[r * k + j]];
  if (!autograd::needs_grad({x})) return y;
  autograd::record("gather_cols", y, [x, idx, y, rows, cols, k] {
    float* dx = x.grad_accum();
    const float* dy = y.grad().data();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) dx[r * cols + idx[r * k + j]] += dy[r * k + j];
  });
  return y;
}

}  // namespace moelab::ops
