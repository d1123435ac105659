#include "core/kernels/reduce.h"

#include <vector>

#include "core/parallel.h"

namespace moelab::kernels {

double sum(const float* x, int64_t n) {
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(blocks, 0.0);
  parallel_for(blocks, 8, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t end = std::min(n, (b + 1) * kBlock);
      double s = 0.0;
      for (int64_t i = b * kBlock; i < end; ++i) s += x[i];
      partial[b] = s;
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

void sum_last_dim(float* out, const float* x, int64_t rows, int64_t cols) {
  parallel_for(rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float s = 0.f;
      for (int64_t j = 0; j < cols; ++j) s += x[r * cols + j];
      out[r] = s;
    }
  });
}

}  // namespace moelab::kernels
