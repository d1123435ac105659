// cosine_ops.h: two differentiable ops moelab does not have, written outside the library with the
// same pattern as moelab's own ops (autograd/ops/*.cpp): compute the value, and if a gradient is
// needed, record a backward closure on the tape with moelab::autograd::record().
#pragma once
#include "autograd/ops.h"

namespace custom {

using moelab::autograd::Var;

// Each row of x [rows, cols] divided by its L2 norm: y[r] = x[r] / max(||x[r]||, eps)
// (torch.nn.functional.normalize(x, dim=1)). Backward: dx[r] += (dy[r] - y[r] <dy[r], y[r]>) / ||x[r]||.
Var l2_normalize_rows(const Var& x, float eps = 1e-12f);

// Elementwise y = exp(min(x, max)) (torch.clamp(x, max=max).exp()). Backward: dx += dy * y where
// x < max, 0 where the clamp is active.
Var clamped_exp(const Var& x, float max);

}  // namespace custom
