// glu: x [..., 2h] -> act(x[..., :h]) * x[..., h:] (SwiGLU when act = silu).
// Works row by row on the two halves of each row of x.
#include "autograd/ops.h"

namespace moelab::ops {

Var glu(const Var& x, kernels::Activation act) {
  MOELAB_CHECK(x.dim() >= 1 && x.shape().back() % 2 == 0, "glu: last dim of ", shape_str(x.shape()),
               " must be even (gate and value halves)");
  const int64_t two_h = x.shape().back(), h = two_h / 2, rows = x.numel() / std::max<int64_t>(two_h, 1);
  Shape out_shape = x.shape();
  out_shape.back() = h;
  Var y(Tensor::empty(out_shape));
  for (int64_t r = 0; r < rows; ++r)
    kernels::glu_forward(act, y.data() + r * h, x.data() + r * two_h, x.data() + r * two_h + h, h);
  if (!autograd::needs_grad({x})) return y;
  autograd::record("glu", y, [x, y, act, rows, h] {
    float* dx = x.grad_accum();
    const int64_t two_h = 2 * h;
    for (int64_t r = 0; r < rows; ++r)
      kernels::glu_backward(act, dx + r * two_h, dx + r * two_h + h, x.data() + r * two_h, x.data() + r * two_h + h,
                            y.grad().data() + r * h, h);
  });
  return y;
}

}  // namespace moelab::ops
