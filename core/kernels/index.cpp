#include "core/kernels/index.h"

#include <cstring>

#include "core/parallel.h"

namespace moelab::kernels {

void gather_rows(float* out, const float* src, const int32_t* idx, int64_t n_idx, int64_t cols) {
  parallel_for(n_idx, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) std::memcpy(out + i * cols, src + int64_t{idx[i]} * cols, cols * sizeof(float));
  });
}

void scatter_add_rows(float* dst, const float* src, const int32_t* idx, const float* scale, int64_t n_idx,
                      int64_t cols) {
  parallel_for(cols, std::max<int64_t>(16, (1 << 14) / std::max<int64_t>(n_idx, 1)), [&](int64_t j0, int64_t j1) {
    for (int64_t i = 0; i < n_idx; ++i) {
      float* d = dst + int64_t{idx[i]} * cols;
      const float* s = src + i * cols;
      const float w = scale ? scale[i] : 1.f;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) d[j] += w * s[j];
    }
  });
}

void topk_rows(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols, int64_t k) {
  parallel_for(rows, std::max<int64_t>(1, (1 << 12) / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* vr = values + r * k;
      int32_t* ir = indices + r * k;
      int64_t filled = 0;
      for (int64_t j = 0; j < cols; ++j) {
        const float v = xr[j];
        // Insertion into the sorted list; strict '>' keeps the earlier (lower) index on ties.
        int64_t pos = filled;
        while (pos > 0 && (v > vr[pos - 1] || (vr[pos - 1] != vr[pos - 1] && v == v))) --pos;
        if (pos >= k) continue;
        for (int64_t q = std::min(filled, k - 1); q > pos; --q) {
          vr[q] = vr[q - 1];
          ir[q] = ir[q - 1];
        }
        vr[pos] = v;
        ir[pos] = static_cast<int32_t>(j);
        if (filled < k) ++filled;
      }
    }
  });
}

}  // namespace moelab::kernels
