// cv_squared: squared coefficient of variation of a vector, var / (mean^2 + 1e-10), population
// variance (Shazeer 2017's importance and load losses, as in tensor2tensor's cv_squared).
//   m = sum v / n, var = sum (v - m)^2 / n, D = m^2 + eps
//   dy/dv_i = 2 (v_i - m) / (n D) - 2 m var / (n D^2)
// A single element has no variation: 0, with zero gradient.
#include "autograd/ops.h"

namespace moelab::ops {

Var cv_squared(const Var& v) {
  const int64_t n = v.numel();
  MOELAB_CHECK(n > 0, "cv_squared: empty input");
  double m = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) m += v.data()[i];
  m /= n;
  for (int64_t i = 0; i < n; ++i) var += (v.data()[i] - m) * (v.data()[i] - m);
  var /= n;
  const double D = m * m + 1e-10;
  Var y(Tensor::full({}, n == 1 ? 0.f : static_cast<float>(var / D)));
  if (n == 1 || !autograd::needs_grad({v})) return y;
  autograd::record("cv_squared", y, [v, y, n, m, var, D] {
    float* dv = v.grad_accum();
    const double g = y.grad().item();
    for (int64_t i = 0; i < n; ++i)
      dv[i] += static_cast<float>(g * (2 * (v.data()[i] - m) / (n * D) - 2 * m * var / (n * D * D)));
  });
  return y;
}

}  // namespace moelab::ops
