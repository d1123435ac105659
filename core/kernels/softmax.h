// core/kernels/softmax.h: softmax, log-softmax and fused cross-entropy over the last dim.
// All subtract the row max first, so logits of +-1e4 stay finite.
#pragma once
#include <cstdint>

namespace moelab::kernels {

void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols);
// dx += y * (dy - sum(dy * y))
void softmax_backward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols);
void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols);
// dx += dy - exp(y) * sum(dy)
void log_softmax_backward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols);

// Per-row logsumexp of x [rows, cols] into lse [rows].
void logsumexp_rows(float* lse, const float* x, int64_t rows, int64_t cols);

// Mean over rows of -log softmax(logits)[target]; keeps lse [rows] for backward. Targets must be
// in [0, cols) (checked by the caller). Accumulates the row losses in double, fixed order.
float cross_entropy_forward(float* lse, const float* logits, const int32_t* targets, int64_t rows, int64_t cols);
// dlogits += scale * (softmax(logits) - onehot(target)), scale = dloss / rows
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            float scale, int64_t rows, int64_t cols);

}  // namespace moelab::kernels
