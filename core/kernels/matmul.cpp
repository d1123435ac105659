#include "core/kernels/matmul.h"

#include "core/parallel.h"

namespace moelab::kernels {

void matmul(Trans ta, Trans tb, int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t stride_a,
            const float* b, int64_t stride_b, float* c, int64_t stride_c, float beta) {
  const int lda = static_cast<int>(ta == Trans::Yes ? m : k);
  const int ldb = static_cast<int>(tb == Trans::Yes ? k : n);
  auto one = [&](int64_t i) {
    sgemm(ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.f, a + i * stride_a, lda,
          b + i * stride_b, ldb, beta, c + i * stride_c, static_cast<int>(n));
  };
  // Many small problems (attention heads): one per thread, BLAS single-threaded inside the region.
  // One big problem: let BLAS use every thread.
  const int64_t flops_each = m * n * k;
  if (batch >= 2 && flops_each < (int64_t{1} << 22) && !omp_in_parallel()) {
    parallel_for(batch, std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, flops_each)), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
}

void add_bias_rows(float* y, const float* bias, int64_t rows, int64_t n) {
  parallel_for(rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(n, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = y + r * n;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
    }
  });
}

void sum_rows_into(float* dbias, const float* dy, int64_t rows, int64_t n) {
  // Split columns, not rows: each thread owns its outputs, the sum order is fixed.
  parallel_for(n, std::max<int64_t>(16, (1 << 15) / std::max<int64_t>(rows, 1)), [&](int64_t j0, int64_t j1) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = dy + r * n;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) dbias[j] += row[j];
    }
  });
}

}  // namespace moelab::kernels
