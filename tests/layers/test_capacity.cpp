// Expert capacity is computed on the exact value of the factor as written (layers/moe/capacity.h):
// cases where float arithmetic lands on the neighbouring integer, and factors too large for a cast.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/rng.h"
#include "layers/moe/capacity.h"
#include "layers/moe/moe.h"

namespace nn = moelab::nn;

TEST_CASE("capacity: exact where floating point is off by one") {
  // times_k: ceil(T k CF / E). In double, 60 * 3 * 1.1 / 6 = 33.000000000000004 -> 34.
  CHECK(std::ceil(60 * 3 * 1.1 / 6) == 34);  // the float result this guards against
  CHECK(nn::expert_capacity(1.1, 60, 3, 6, true) == 33);
  CHECK(nn::expert_capacity(1.1, 30, 3, 3, true) == 33);
  CHECK(nn::expert_capacity(1.1, 50, 2, 2, true) == 55);
  CHECK(nn::expert_capacity(1.1, 61, 3, 6, true) == 34);  // 33.55 -> 34: non-integers still round up
  // google: max(1, floor(T CF / E)). In double, 90 * 0.7 / 3 = 20.999999999999996 -> 20.
  CHECK(std::floor(90 * 0.7 / 3) == 20);
  CHECK(nn::expert_capacity(0.7, 90, 2, 3, false) == 21);
  CHECK(nn::expert_capacity(0.7, 180, 2, 7, false) == 18);
  CHECK(nn::expert_capacity(1.4, 45, 2, 3, false) == 21);
  CHECK(nn::expert_capacity(1.25, 512, 2, 8, false) == 80);
  CHECK(nn::expert_capacity(1.25, 512, 2, 8, true) == 160);
  // small and zero factors
  CHECK(nn::expert_capacity(0, 512, 2, 8, true) == -1);     // dropless
  CHECK(nn::expert_capacity(1e-9, 512, 2, 8, true) == 1);   // a positive value rounds up to 1
  CHECK(nn::expert_capacity(1e-9, 512, 2, 8, false) == 1);  // google's floor is at least 1
  CHECK(nn::expert_capacity(0.01, 10, 1, 8, false) == 1);
}

TEST_CASE("capacity: huge factors mean no dropping, never a wrapped or undefined cast") {
  for (double cf : {1e18, 1e300, std::numeric_limits<double>::max()}) {
    CAPTURE(cf);
    CHECK(nn::expert_capacity(cf, 512, 2, 8, true) == 1024);   // all assignments fit
    CHECK(nn::expert_capacity(cf, 512, 2, 8, false) == 1024);
    CHECK(nn::scaled_floor(cf, 512, 8, 1000) == 1000);
  }
  CHECK(nn::scaled_floor(1.5, 0, 8, 1000) == 0);
  CHECK(nn::scaled_ceil(123456789.123, 1000, 7, int64_t{1} << 60) == 17636684161);  // 123456789123/7 = 17636684160.43
}

TEST_CASE("capacity: the MoE layer and expert choice use the exact rule") {
  nn::ModelConfig cfg;
  cfg.n_embd = 8;
  cfg.n_layer = 2;
  cfg.moe.num_experts = 6;
  cfg.moe.top_k = 3;
  cfg.moe.capacity.factor = 1.1;
  cfg.moe.capacity.convention = "times_k";
  cfg.moe.capacity.eval_factor = 0.7;
  moelab::Rng rng(1);
  nn::MoE moe(cfg, 1, 1, rng);
  CHECK(moe.capacity_for(60, true) == 33);
  CHECK(moe.capacity_for(60, false) == 21);  // eval: ceil(60 * 3 * 0.7 / 6) = 21 exactly
}
