// core/kernels/norm.h: LayerNorm and RMSNorm over the last dim, keeping their row statistics
// (mean and 1/std, or 1/rms) for backward. weight/bias may be null (no affine part).
#pragma once
#include <cstdint>

namespace moelab::kernels {

void layernorm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                       int64_t rows, int64_t cols, float eps);
void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                        const float* mean, const float* rstd, const float* weight, int64_t rows, int64_t cols);

void rmsnorm_forward(float* y, float* rrms, const float* x, const float* weight, int64_t rows, int64_t cols,
                     float eps);
void rmsnorm_backward(float* dx, float* dweight, const float* dy, const float* x, const float* rrms,
                      const float* weight, int64_t rows, int64_t cols);

}  // namespace moelab::kernels
