// cross_entropy: loss = mean_r (lse_r - logits[r, t_r]), fused with log-softmax.
// dlogits += (dloss / rows) (softmax(logits) - onehot(t)); keeps lse from the forward.
#include "autograd/ops.h"
#include "core/kernels/softmax.h"

namespace moelab::ops {

Var cross_entropy(const Var& logits, const IndexTensor& targets) {
  MOELAB_CHECK(logits.dim() >= 1, "cross_entropy: logits need at least 1 dim, got ", shape_str(logits.shape()));
  const int64_t vocab = logits.shape().back();
  const Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  MOELAB_CHECK(targets.shape() == lead, "cross_entropy: targets ", shape_str(targets.shape()),
               " do not match logits ", shape_str(logits.shape()), " (expected ", shape_str(lead), ")");
  const int64_t rows = targets.numel();
  MOELAB_CHECK(rows > 0, "cross_entropy: no rows (logits ", shape_str(logits.shape()), ")");
  for (int64_t r = 0; r < rows; ++r)
    MOELAB_CHECK(targets[r] >= 0 && targets[r] < vocab, "cross_entropy: target ", targets[r], " at row ", r,
                 " is outside [0, ", vocab, ")");
  Tensor lse = Tensor::empty({rows});
  const float loss = kernels::cross_entropy_forward(lse.data(), logits.data(), targets.data(), rows, vocab);
  Var y(Tensor::full({}, loss));
  if (!autograd::needs_grad({logits})) return y;
  autograd::record("cross_entropy", y, [logits, targets, lse, y, rows, vocab] {
    const float scale = y.grad().item() / static_cast<float>(rows);
    kernels::cross_entropy_backward(logits.grad_accum(), logits.data(), lse.data(), targets.data(), scale, rows,
                                    vocab);
  });
  return y;
}

}  // namespace moelab::ops
