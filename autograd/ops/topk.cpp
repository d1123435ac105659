// topk over the last dim: the selection (integer indices, no gradient) by the kernel, then the values
// as gather_cols(x, idx), whose backward is dx[r, idx[r, j]] += dvalues[r, j].
#include "autograd/ops.h"
#include "core/kernels/index.h"

namespace moelab::ops {

TopK topk(const Var& x, int64_t k) {
  MOELAB_CHECK(x.dim() >= 1, "topk: input needs at least 1 dim");
  const int64_t cols = x.shape().back(), rows = cols ? x.numel() / cols : 0;
  MOELAB_CHECK(k >= 1 && k <= cols, "topk: k = ", k, " must be in [1, ", cols, "] for input ", shape_str(x.shape()));
  Shape out_shape = x.shape();
  out_shape.back() = k;
  Tensor values = Tensor::empty({rows, k});
  IndexTensor idx = IndexTensor::empty({rows, k});
  kernels::topk_rows(values.data(), idx.data(), x.data(), rows, cols, k);
  // the values again, as a differentiable pick of the chosen columns
  Var picked = gather_cols(reshape(x, {rows, cols}), idx);
  return TopK{reshape(picked, out_shape), idx.reshape(out_shape)};
}

}  // namespace moelab::ops
