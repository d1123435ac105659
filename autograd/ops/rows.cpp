// gather_rows:      y[i] = x[idx[i]]                ->  dx[idx[i]] += dy[i]
// scatter_add_rows: y[idx[i]] += w[i] src[i]        ->  dsrc[i] += w[i] dy[idx[i]],  dw[i] += <dy[idx[i]], src[i]>
// The pair is MoE dispatch (tokens gathered into expert-contiguous rows) and combine (expert
// outputs added back to their tokens, weighted by the gate values).
#include "autograd/ops.h"
#include "core/kernels/index.h"
#include "core/parallel.h"

namespace moelab::ops {
namespace {
void check_rows(const char* op, const IndexTensor& idx, int64_t n_rows) {
  MOELAB_CHECK(idx.dim() == 1, op, ": index must be 1-D, got ", shape_str(idx.shape()));
  for (int64_t i = 0; i < idx.numel(); ++i)
    MOELAB_CHECK(idx[i] >= 0 && idx[i] < n_rows, op, ": index ", idx[i], " at position ", i, " is outside [0, ",
                 n_rows, ")");
}
}  // namespace

Var gather_rows(const Var& x, const IndexTensor& idx) {
  MOELAB_CHECK(x.dim() == 2, "gather_rows: input must be [rows, cols], got ", shape_str(x.shape()));
  check_rows("gather_rows", idx, x.size(0));
  const int64_t m = idx.numel(), cols = x.size(1);
  Var y(Tensor::empty({m, cols}));
  kernels::gather_rows(y.data(), x.data(), idx.data(), m, cols);
  if (!autograd::needs_grad({x})) return y;
  autograd::record("gather_rows", y, [x, idx, y, m, cols] {
    kernels::scatter_add_rows(x.grad_accum(), y.grad().data(), idx.data(), nullptr, m, cols);
  });
  return y;
}

Var scatter_add_rows(const Var& src, const IndexTensor& idx, int64_t n_rows, const Var& weights) {
  MOELAB_CHECK(src.dim() == 2, "scatter_add_rows: source must be [rows, cols], got ", shape_str(src.shape()));
  MOELAB_CHECK(idx.numel() == src.size(0), "scatter_add_rows: ", idx.numel(), " indices for source ",
               shape_str(src.shape()));
  MOELAB_CHECK(!weights.defined() || weights.shape() == Shape{src.size(0)}, "scatter_add_rows: weights ",
               shape_str(weights.defined() ? weights.shape() : Shape{}), " do not match source ",
               shape_str(src.shape()));
  check_rows("scatter_add_rows", idx, n_rows);
  const int64_t m = src.size(0), cols = src.size(1);
  Var y(Tensor::zeros({n_rows, cols}));
  kernels::scatter_add_rows(y.data(), src.data(), idx.data(), weights.defined() ? weights.data() : nullptr, m, cols);
  if (!autograd::needs_grad({src, weights})) return y;
  autograd::record("scatter_add_rows", y, [src, idx, weights, y, m, cols] {
    const float* dy = y.grad().data();
    const float* w = weights.defined() ? weights.data() : nullptr;
    if (src.requires_grad()) {
      float* ds = src.grad_accum();
      parallel_for(m, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float* g = dy + int64_t{idx[i]} * cols;
          const float s = w ? w[i] : 1.f;
          for (int64_t j = 0; j < cols; ++j) ds[i * cols + j] += s * g[j];
        }
      });
    }
    if (weights.defined() && weights.requires_grad()) {
      float* dw = weights.grad_accum();
      parallel_for(m, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float* g = dy + int64_t{idx[i]} * cols;
          const float* s = src.data() + i * cols;
          float dot = 0.f;
          for (int64_t j = 0; j < cols; ++j) dot += g[j] * s[j];
          dw[i] += dot;
        }
      });
    }
  });
  return y;
}

}  // namespace moelab::ops
