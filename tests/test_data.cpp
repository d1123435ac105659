#include "test_data.h"

#include "core/rng.h"

namespace moelab::testing {

Tensor randn(const Shape& shape, uint64_t seed, float scale) {
  Tensor t = Tensor::empty(shape);
  Rng(seed).fill_normal(t, 0.f, scale);
  return t;
}

IndexTensor randint(const Shape& shape, int32_t n, uint64_t seed) {
  IndexTensor t = IndexTensor::empty(shape);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<int32_t>(rng.randint(n));
  return t;
}

std::vector<float> randvec(int64_t n, uint64_t seed, float lo, float hi) {
  Tensor t = Tensor::empty({n});
  Rng(seed).fill_uniform(t, lo, hi);
  return t.to_vector();
}

}  // namespace moelab::testing
