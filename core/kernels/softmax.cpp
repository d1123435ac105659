#include "core/kernels/softmax.h"

#include <cmath>
#include <vector>

#include "core/kernels/fastmath.h"
#include "core/parallel.h"

namespace moelab::kernels {
namespace {

int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)); }

inline float row_max(const float* x, int64_t n) {
  // A NaN may be skipped here; it still reaches the output through exp(NaN - m) in the sum.
  float m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < n; ++j) m = m > x[j] ? m : x[j];
  return m;
}

}  // namespace

void softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      const float m = row_max(xr, cols);
      const float sum = exp_shifted_sum(yr, xr, cols, m);
      const float inv = 1.f / sum;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
    }
  });
}

void softmax_backward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y + r * cols;
      const float* gr = dy + r * cols;
      float dot = 0.f;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < cols; ++j) dot += yr[j] * gr[j];
      float* dr = dx + r * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) dr[j] += yr[j] * (gr[j] - dot);
    }
  });
}

void logsumexp_rows(float* lse, const float* x, int64_t rows, int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float m = row_max(xr, cols);
      float sum = 0.f, scratch[512];
      for (int64_t j = 0; j < cols; j += 512) sum += exp_shifted_sum(scratch, xr + j, std::min<int64_t>(512, cols - j), m);
      lse[r] = m + std::log(sum);
    }
  });
}

void log_softmax_forward(float* y, const float* x, int64_t rows, int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float lse;
      logsumexp_rows(&lse, xr, 1, cols);
      float* yr = y + r * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] - lse;
    }
  });
}

void log_softmax_backward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y + r * cols;
      const float* gr = dy + r * cols;
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < cols; ++j) sum += gr[j];
      float* dr = dx + r * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) dr[j] += gr[j] - fast_exp(yr[j]) * sum;
    }
  });
}

float cross_entropy_forward(float* lse, const float* logits, const int32_t* targets, int64_t rows, int64_t cols) {
  logsumexp_rows(lse, logits, rows, cols);
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += static_cast<double>(lse[r]) - logits[r * cols + targets[r]];
  return rows ? static_cast<float>(total / static_cast<double>(rows)) : 0.f;
}

void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            float scale, int64_t rows, int64_t cols) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = logits + r * cols;
      float* dr = dlogits + r * cols;
      const float l = lse[r];
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) dr[j] += scale * fast_exp(xr[j] - l);
      dr[targets[r]] -= scale;
    }
  });
}

}  // namespace moelab::kernels
