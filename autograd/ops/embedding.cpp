// embedding: y[i] = weight[ids[i]];  dweight[ids[i]] += dy[i] (scatter-add, in index order).
#include "autograd/ops.h"
#include "core/kernels/index.h"

namespace moelab::ops {

Var embedding(const Var& weight, const IndexTensor& ids) {
  MOELAB_CHECK(weight.dim() == 2, "embedding: weight must be [vocab, dim], got ", shape_str(weight.shape()));
  const int64_t vocab = weight.size(0), cols = weight.size(1), n = ids.numel();
  for (int64_t i = 0; i < n; ++i)
    MOELAB_CHECK(ids[i] >= 0 && ids[i] < vocab, "embedding: id ", ids[i], " at position ", i, " is outside [0, ",
                 vocab, ")");
  Shape out_shape = ids.shape();
  out_shape.push_back(cols);
  Var y(Tensor::empty(out_shape));
  kernels::gather_rows(y.data(), weight.data(), ids.data(), n, cols);
  if (!autograd::needs_grad({weight})) return y;
  autograd::record("embedding", y, [weight, ids, y, n, cols] {
    kernels::scatter_add_rows(weight.grad_accum(), y.grad().data(), ids.data(), nullptr, n, cols);
  });
  return y;
}

}  // namespace moelab::ops
