// tests/test_data.h: seeded random test data, shared by every suite (core-only, so tests/core can use it).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace moelab::testing {

// Seeded N(0, scale^2) tensor.
Tensor randn(const Shape& shape, uint64_t seed, float scale = 1.f);
// Seeded integers in [0, n).
IndexTensor randint(const Shape& shape, int32_t n, uint64_t seed);
// Seeded uniform values in [lo, hi), as a plain vector (kernel tests on raw buffers).
std::vector<float> randvec(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f);

}  // namespace moelab::testing
