// The checker every op and layer test relies on (autograd/gradcheck.h) must fail when it should:
// on a wrong backward, and on a point where every gradient is zero (where a wrong backward passes).
#include <doctest/doctest.h>

#include "autograd/tape.h"
#include "gradcheck.h"

namespace ops = moelab::ops;
namespace ag = moelab::autograd;
using moelab::Tensor;
using moelab::testing::randn;
using VarList = std::vector<ag::Var>;

namespace {
// y = 3 x, with a backward that claims dy/dx = `slope`.
ag::Var triple(const ag::Var& x, float slope) {
  ag::Var y(Tensor::empty(x.shape()));
  for (int64_t i = 0; i < x.numel(); ++i) y.value()[i] = 3.f * x.value()[i];
  if (!ag::needs_grad({x})) return y;
  ag::record("triple", y, [x, y, slope] {
    float* dx = x.grad_accum();
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] += slope * y.grad()[i];
  });
  return y;
}
}  // namespace

TEST_CASE("gradcheck: passes a right backward, fails a wrong one and names the element") {
  const Tensor x = randn({3, 4}, 1);
  CHECK(ag::gradcheck([](const VarList& v) { return triple(v[0], 3.f); }, {x}).ok);
  const ag::GradcheckResult wrong = ag::gradcheck([](const VarList& v) { return triple(v[0], 2.9f); }, {x});
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.checked == 12);
  CHECK(wrong.report.find("input 0") != std::string::npos);
}

TEST_CASE("gradcheck: an all-zero gradient fails unless the test says it is expected") {
  // relu where every input is negative: a flat point, a backward that returned anything small would pass
  Tensor x = randn({2, 5}, 2);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = -1.f - std::abs(x[i]);
  const ag::GradcheckResult flat = ag::gradcheck([](const VarList& v) { return ops::relu(v[0]); }, {x});
  CHECK_FALSE(flat.ok);
  CHECK(flat.report.find("proves nothing") != std::string::npos);
  CHECK(ag::gradcheck([](const VarList& v) { return ops::relu(v[0]); }, {x}, {.allow_zero_gradient = true}).ok);
}

TEST_CASE("gradcheck: Vars a function captures (a module's parameters), sampled") {
  ag::Var w(randn({50}, 3), true);
  const Tensor in = randn({50}, 4);
  const ag::GradcheckResult r = ag::gradcheck([&] { return ops::mul(w, ag::Var(in)); }, {{"w", w}}, {.samples = 10});
  CHECK(r.ok);
  CHECK(r.checked >= 9);
  CHECK(r.checked <= 13);
  CHECK_FALSE(w.has_grad());  // cleared afterwards
}
