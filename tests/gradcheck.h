// tests/gradcheck.h: checks the tape's gradients against central finite differences.
// loss = sum(R * f(inputs)) with a fixed random R, so every output element matters. The
// numeric side evaluates f under NoGrad and sums in double; float32 forward passes limit the
// achievable agreement to about 1e-3, which the default tolerances reflect.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/rng.h"

namespace moelab::testing {

using autograd::Var;

struct GradcheckOptions {
  float eps = 5e-3f;
  double atol = 1e-3;
  double rtol = 1e-2;
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = false;
  std::string report;  // the worst element: input, flat index, analytic vs numeric
};

GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions opts = {});

// Seeded N(0, scale^2) tensor.
Tensor randn(const Shape& shape, uint64_t seed, float scale = 1.f);
// Seeded integers in [0, n).
IndexTensor randint(const Shape& shape, int32_t n, uint64_t seed);

}  // namespace moelab::testing

// CHECK that prints the worst element on failure.
#define CHECK_GRADCHECK(...)                                           \
  do {                                                                 \
    auto gc_result_ = ::moelab::testing::gradcheck(__VA_ARGS__);       \
    INFO(gc_result_.report);                                           \
    CHECK(gc_result_.ok);                                              \
  } while (0)
