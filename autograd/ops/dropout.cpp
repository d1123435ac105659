// dropout: y = x * mask / (1 - p) with mask ~ Bernoulli(1 - p) from the given RNG; dx = dy * mask / (1 - p).
// p = 0 returns x itself (no copy, no node).
#include "autograd/ops.h"
#include "core/rng.h"

namespace moelab::ops {

Var dropout(const Var& x, float p, Rng& rng) {
  MOELAB_CHECK(p >= 0.f && p < 1.f, "dropout: p = ", p, " must be in [0, 1)");
  if (p == 0.f) return x;
  Tensor mask = Tensor::empty(x.shape());
  rng.fill_uniform(mask);
  const float keep_scale = 1.f / (1.f - p);
  for (int64_t i = 0; i < mask.numel(); ++i) mask[i] = mask[i] >= p ? keep_scale : 0.f;
  Var y(Tensor::empty(x.shape()));
  kernels::binary_forward(kernels::BinaryOp::Mul, x.data(), x.numel(), mask.data(), mask.numel(), y.data());
  if (!autograd::needs_grad({x})) return y;
  autograd::record("dropout", y, [x, y, mask] {
    kernels::binary_backward(kernels::BinaryOp::Mul, x.data(), x.numel(), mask.data(), mask.numel(),
                             y.grad().data(), x.grad_accum(), nullptr);
  });
  return y;
}

}  // namespace moelab::ops
