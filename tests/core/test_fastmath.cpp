// tests/core/test_fastmath.cpp: the vectorisable exp/erf/tanh behind activations and softmax, checked
// against libm in double and against the accuracy the header documents.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/kernels/fastmath.h"

using namespace moelab::kernels;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Distance in representable floats between a and the float nearest to ref (same sign assumed).
int64_t ulp_distance(float a, double ref) {
  const float r = static_cast<float>(ref);
  int32_t ia, ir;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ir, &r, 4);
  return std::abs(int64_t{ia} - int64_t{ir});
}

// n points evenly spread over [lo, hi] (as floats).
std::vector<float> grid(double lo, double hi, int n) {
  std::vector<float> v(n + 1);
  for (int i = 0; i <= n; ++i) v[i] = static_cast<float>(lo + (hi - lo) * i / n);
  return v;
}

}  // namespace

TEST_CASE("fast_exp: special values (0 below -87, +inf above 88, NaN propagates)") {
  CHECK(fast_exp(0.f) == 1.f);
  CHECK(fast_exp(-90.f) == 0.f);
  CHECK(fast_exp(-kInf) == 0.f);
  CHECK(fast_exp(89.f) == kInf);
  CHECK(fast_exp(kInf) == kInf);
  CHECK(std::isnan(fast_exp(kNaN)));
  CHECK(fast_exp(1.f) == doctest::Approx(2.718281828459045).epsilon(2e-7));
  CHECK(fast_exp(-1.f) == doctest::Approx(0.36787944117144233).epsilon(2e-7));
}

TEST_CASE("fast_exp: relative error below 2e-7 on [-4, 4]") {
  double worst = 0, at = 0;
  for (float x : grid(-4, 4, 400000)) {
    const double e = std::exp(double(x));
    const double rel = std::abs(fast_exp(x) - e) / e;
    if (rel > worst) worst = rel, at = x;
  }
  INFO("worst relative error ", worst, " at x=", at);
  CHECK(worst < 2e-7);
}

// Documented: "relative error < 2e-7 on [-87, 88]". Large |x| is where a careless argument reduction
// (x - n ln2 with the small part of ln2 subtracted first) loses bits, so the whole range is swept.
TEST_CASE("fast_exp: relative error below 2e-7 on the whole documented range [-87, 88]") {
  double worst = 0, at = 0;
  for (float x : grid(-87, 88, 1000000)) {
    const double e = std::exp(double(x));
    const double rel = std::abs(fast_exp(x) - e) / e;
    if (rel > worst) worst = rel, at = x;
  }
  INFO("worst relative error ", worst, " at x=", at);
  CHECK(worst < 2e-7);
}

TEST_CASE("fast_erf: odd, saturates, NaN propagates, accurate for |x| >= 0.5") {
  CHECK(fast_erf(0.f) == doctest::Approx(0.0).scale(1.0).epsilon(3e-7));
  CHECK(fast_erf(10.f) == 1.f);
  CHECK(fast_erf(-10.f) == -1.f);
  CHECK(fast_erf(kInf) == 1.f);
  CHECK(fast_erf(-kInf) == -1.f);
  CHECK(std::isnan(fast_erf(kNaN)));
  for (float x : grid(0, 6, 1000)) CHECK(fast_erf(-x) == -fast_erf(x));
  double worst = 0, at = 0;
  for (float x : grid(0.5, 9, 400000)) {
    for (float s : {x, -x}) {
      const double err = std::abs(fast_erf(s) - std::erf(double(s)));
      if (err > worst) worst = err, at = s;
    }
  }
  INFO("worst absolute error ", worst, " at x=", at);
  CHECK(worst < 2.4e-7);
}

// Documented: "erf has absolute error < 4e-7" (for every x). Near 0, erf = 1 - erfc with erfc ~ 1 loses
// float bits: measured ~3.3e-7 around |x| ~ 0.04.
TEST_CASE("fast_erf: absolute error below the documented 4e-7 for every x") {
  double worst = 0, at = 0;
  for (float x : grid(-9, 9, 1000000)) {
    const double err = std::abs(fast_erf(x) - std::erf(double(x)));
    if (err > worst) worst = err, at = x;
  }
  INFO("worst absolute error ", worst, " at x=", at);
  CHECK(worst < 4e-7);
}

TEST_CASE("fast_tanh: odd, saturates, NaN propagates, accurate away from the switch-over") {
  CHECK(fast_tanh(0.f) == 0.f);
  CHECK(fast_tanh(20.f) == 1.f);
  CHECK(fast_tanh(-20.f) == -1.f);
  CHECK(fast_tanh(kInf) == 1.f);
  CHECK(fast_tanh(-kInf) == -1.f);
  CHECK(std::isnan(fast_tanh(kNaN)));
  CHECK(fast_tanh(1e-20f) == 1e-20f);
  for (float x : grid(0, 5, 1000)) CHECK(fast_tanh(-x) == -fast_tanh(x));
  double worst = 0, at = 0;
  for (float x : grid(-10, 10, 400000)) {
    if (std::abs(x) > 0.0625f && std::abs(x) < 0.5f) continue;  // see the next test
    const double t = std::tanh(double(x));
    const double err = std::abs(fast_tanh(x) - t) / std::max(std::abs(t), 1e-30);
    if (err > worst) worst = err, at = x;
  }
  INFO("worst relative error ", worst, " at x=", at);
  CHECK(worst < 5e-7);
}

// Documented: "relative error < 4e-6". Just above the Taylor switch-over (|x| = 0.0625) tanh is computed
// as 1 - 2/(e^{2|x|}+1), which cancels: ~25 ulp (relative error ~1.7e-6) at |x| ~ 0.0625.
TEST_CASE("fast_tanh: relative error below the documented 4e-6 for every x") {
  int64_t worst = 0;
  double at = 0;
  for (float x : grid(-10, 10, 1000000)) {
    const int64_t u = ulp_distance(fast_tanh(x), std::tanh(double(x)));
    if (u > worst) worst = u, at = x;
  }
  INFO("worst error ", worst, " ulp at x=", at);
  CHECK(worst <= 40);  // ulp distance; 4e-6 relative is ~34-67 ulp depending on the binade
  double worst_rel = 0;
  for (float x : grid(-10, 10, 1000000)) {
    const double t = std::tanh(double(x));
    if (t != 0) worst_rel = std::max(worst_rel, std::abs(fast_tanh(x) - t) / std::abs(t));
  }
  CHECK(worst_rel < 4e-6);
}

TEST_CASE("exp_shifted_sum: values and sum vs libm, both vector and scalar tails, -inf gives 0") {
  for (int64_t n : {1, 5, 16, 17, 33, 129, 1000}) {
    std::vector<float> x(n), y(n, -1.f);
    for (int64_t j = 0; j < n; ++j) x[j] = static_cast<float>(std::sin(0.7 * j) * 6.0);
    const float shift = 2.5f;
    const float total = exp_shifted_sum(y.data(), x.data(), n, shift);
    double ref_total = 0;
    int bad = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double e = std::exp(double(x[j]) - shift);
      ref_total += e;
      if (!(std::abs(y[j] - e) <= 1e-6 * e) && bad++ < 3) FAIL_CHECK("n=", n, " j=", j, " got ", y[j], " want ", e);
    }
    CHECK_MESSAGE(bad == 0, "n=", n);
    CHECK(total == doctest::Approx(ref_total).epsilon(1e-6));
  }
  // in place, with -inf (masked) entries in both the vector body and the scalar tail
  std::vector<float> x(20, 0.f);
  x[3] = -kInf;
  x[18] = -kInf;
  x[5] = -1000.f;
  const float total = exp_shifted_sum(x.data(), x.data(), 20, 0.f);
  CHECK(x[3] == 0.f);
  CHECK(x[18] == 0.f);
  CHECK(x[5] == 0.f);
  CHECK(x[0] == doctest::Approx(1.0).epsilon(1e-7));
  CHECK(total == doctest::Approx(17.0).epsilon(1e-6));
  // NaN reaches the output and the sum
  std::vector<float> xn(20, 0.f), yn(20);
  xn[2] = kNaN;
  CHECK(std::isnan(exp_shifted_sum(yn.data(), xn.data(), 20, 0.f)));
  CHECK(std::isnan(yn[2]));
  xn[2] = 0.f;
  xn[19] = kNaN;
  CHECK(std::isnan(exp_shifted_sum(yn.data(), xn.data(), 20, 0.f)));
}
