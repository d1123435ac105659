// core/kernels/reduce.h: reductions. Sums go through fixed-size blocks added in a fixed order,
// so the result is the same whatever the thread count.
#pragma once
#include <cstdint>

namespace moelab::kernels {

double sum(const float* x, int64_t n);
// out[r] = sum over cols of x[r, :]
void sum_last_dim(float* out, const float* x, int64_t rows, int64_t cols);

}  // namespace moelab::kernels
