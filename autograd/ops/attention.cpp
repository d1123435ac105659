// causal_attention: qkv [B, T, 3C] -> [B, T, C], multi-head with a causal mask.
// Forward keeps the softmax probabilities [B, H, T, T]; backward is in core/kernels/attention.cpp.
#include "autograd/ops.h"
#include "core/kernels/attention.h"

namespace moelab::ops {

Var causal_attention(const Var& qkv, int64_t n_head) {
  MOELAB_CHECK(qkv.dim() == 3 && qkv.size(2) % 3 == 0, "causal_attention: qkv must be [B, T, 3C], got ",
               shape_str(qkv.shape()));
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
  MOELAB_CHECK(n_head >= 1 && C % n_head == 0, "causal_attention: ", C, " channels do not split into ", n_head,
               " heads");
  Var out(Tensor::empty({B, T, C}));
  Tensor probs = Tensor::empty({B, n_head, T, T});
  kernels::causal_attention_forward(out.data(), probs.data(), qkv.data(), B, T, C, n_head);
  if (!autograd::needs_grad({qkv})) return out;
  autograd::record("causal_attention", out, [qkv, out, probs, B, T, C, n_head] {
    kernels::causal_attention_backward(qkv.grad_accum(), out.grad().data(), qkv.data(), probs.data(), B, T, C,
                                       n_head);
  });
  return out;
}

}  // namespace moelab::ops
