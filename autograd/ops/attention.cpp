// causal_attention: qkv [B, T, 3C] -> [B, T, C], multi-head with a causal mask.
// Forward keeps the softmax probabilities [B, H, T, T]; backward is in core/kernels/attention.cpp.
// cached_attention: the same for new positions attending to a key/value cache (inference only).
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

Var cached_attention(const Var& qkv, const Tensor& keys, const Tensor& values, int64_t start, int64_t n_head) {
  MOELAB_CHECK(!autograd::needs_grad({qkv}), "cached_attention: inference only (no backward); run it under NoGrad");
  MOELAB_CHECK(qkv.dim() == 3 && qkv.size(2) % 3 == 0, "cached_attention: qkv must be [B, T, 3C], got ",
               shape_str(qkv.shape()));
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
  MOELAB_CHECK(n_head >= 1 && C % n_head == 0, "cached_attention: ", C, " channels do not split into ", n_head,
               " heads");
  MOELAB_CHECK(keys.dim() == 3 && keys.shape() == values.shape() && keys.size(0) == B && keys.size(2) == C,
               "cached_attention: keys ", shape_str(keys.shape()), " and values ", shape_str(values.shape()),
               " must both be [", B, ", capacity, ", C, "]");
  MOELAB_CHECK(start >= 0 && start + T <= keys.size(1), "cached_attention: positions ", start, "..", start + T - 1,
               " do not fit a cache of ", keys.size(1));
  Var out(Tensor::empty({B, T, C}));
  kernels::cached_attention_forward(out.data(), qkv.data(), keys.data(), values.data(), B, T, start, keys.size(1), C,
                                    n_head);
  return out;
}

}  // namespace moelab::ops
