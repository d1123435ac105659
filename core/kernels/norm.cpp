#include "core/kernels/norm.h"

#include <cmath>

#include "core/kernels/matmul.h"
#include "core/parallel.h"

namespace moelab::kernels {
namespace {
int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)); }
}  // namespace

void layernorm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                       int64_t rows, int64_t cols, float eps) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float s = 0.f;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; ++j) s += xr[j];
      const float m = s / cols;
      float v = 0.f;
#pragma omp simd reduction(+ : v)
      for (int64_t j = 0; j < cols; ++j) v += (xr[j] - m) * (xr[j] - m);
      const float rs = 1.f / std::sqrt(v / cols + eps);
      mean[r] = m;
      rstd[r] = rs;
      float* yr = y + r * cols;
      if (weight && bias) {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) * rs * weight[j] + bias[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) * rs * (weight ? weight[j] : 1.f) + (bias ? bias[j] : 0.f);
      }
    }
  });
}

void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                        const float* mean, const float* rstd, const float* weight, int64_t rows, int64_t cols) {
  if (dx) {
    parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * cols;
        const float* gr = dy + r * cols;
        const float m = mean[r], rs = rstd[r];
        float sum_g = 0.f, sum_gn = 0.f;  // over j of g*w and g*w*xhat
#pragma omp simd reduction(+ : sum_g, sum_gn)
        for (int64_t j = 0; j < cols; ++j) {
          float g = weight ? gr[j] * weight[j] : gr[j];
          sum_g += g;
          sum_gn += g * (xr[j] - m) * rs;
        }
        sum_g /= cols;
        sum_gn /= cols;
        float* dr = dx + r * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          float g = weight ? gr[j] * weight[j] : gr[j];
          float n = (xr[j] - m) * rs;
          dr[j] += rs * (g - sum_g - n * sum_gn);
        }
      }
    });
  }
  if (dweight) {
    parallel_for(cols, std::max<int64_t>(16, (1 << 14) / std::max<int64_t>(rows, 1)), [&](int64_t j0, int64_t j1) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        const float* gr = dy + r * cols;
        const float m = mean[r], rs = rstd[r];
#pragma omp simd
        for (int64_t j = j0; j < j1; ++j) dweight[j] += gr[j] * (xr[j] - m) * rs;
      }
    });
  }
  if (dbias) sum_rows_into(dbias, dy, rows, cols);
}

void rmsnorm_forward(float* y, float* rrms, const float* x, const float* weight, int64_t rows, int64_t cols,
                     float eps) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float ss = 0.f;
#pragma omp simd reduction(+ : ss)
      for (int64_t j = 0; j < cols; ++j) ss += xr[j] * xr[j];
      const float rr = 1.f / std::sqrt(ss / cols + eps);
      rrms[r] = rr;
      float* yr = y + r * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] * rr * (weight ? weight[j] : 1.f);
    }
  });
}

void rmsnorm_backward(float* dx, float* dweight, const float* dy, const float* x, const float* rrms,
                      const float* weight, int64_t rows, int64_t cols) {
  if (dx) {
    parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * cols;
        const float* gr = dy + r * cols;
        const float rr = rrms[r];
        float dot = 0.f;  // sum_j g_j w_j x_j
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < cols; ++j) dot += gr[j] * (weight ? weight[j] : 1.f) * xr[j];
        const float c = dot * rr * rr * rr / cols;
        float* dr = dx + r * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) dr[j] += gr[j] * (weight ? weight[j] : 1.f) * rr - xr[j] * c;
      }
    });
  }
  if (dweight) {
    parallel_for(cols, std::max<int64_t>(16, (1 << 14) / std::max<int64_t>(rows, 1)), [&](int64_t j0, int64_t j1) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        const float* gr = dy + r * cols;
#pragma omp simd
        for (int64_t j = j0; j < j1; ++j) dweight[j] += gr[j] * xr[j] * rrms[r];
      }
    });
  }
}

}  // namespace moelab::kernels
