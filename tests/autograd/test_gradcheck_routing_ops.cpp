// Gradcheck and values of the ops routers are built from.
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"

using moelab::IndexTensor;
using moelab::Tensor;
using moelab::autograd::Var;
using moelab::testing::randn;
namespace ops = moelab::ops;
using VarList = std::vector<Var>;

TEST_CASE("gradcheck: gather_cols, normalize_rows, logsumexp, softplus") {
  IndexTensor idx = IndexTensor::from({3, 2}, {4, 0, 2, 2, 1, 3});  // a repeated column in row 1
  CHECK_GRADCHECK([&](const VarList& v) { return ops::gather_cols(v[0], idx); }, {randn({3, 5}, 1)});
  Tensor pos = randn({4, 3}, 2);
  for (int64_t i = 0; i < pos.numel(); ++i) pos[i] = std::abs(pos[i]) + 0.2f;
  CHECK_GRADCHECK([](const VarList& v) { return ops::normalize_rows(v[0]); }, {pos});
  CHECK_GRADCHECK([](const VarList& v) { return ops::logsumexp(v[0]); }, {randn({2, 3, 5}, 3)});
  CHECK_GRADCHECK([](const VarList& v) { return ops::softplus(v[0]); }, {randn({7}, 4, 3.f)});
}

TEST_CASE("values: normalize_rows sums to 1, logsumexp stays finite at 1e4, softplus at +-50") {
  Var y = ops::normalize_rows(Var(Tensor::from({1, 3}, {1.f, 2.f, 5.f})));
  CHECK(y.data()[2] == doctest::Approx(0.625));
  Var l = ops::logsumexp(Var(Tensor::from({2}, {1e4f, 1e4f})));
  CHECK(l.item() == doctest::Approx(1e4 + std::log(2.0)));
  Var s = ops::softplus(Var(Tensor::from({2}, {50.f, -50.f})));
  CHECK(s.data()[0] == doctest::Approx(50.0));
  CHECK(s.data()[1] == doctest::Approx(std::exp(-50.0)).epsilon(1e-3));
}

TEST_CASE("cv_squared: value by hand and gradcheck; a constant vector gives 0") {
  Var c = ops::cv_squared(Var(Tensor::from({4}, {1.f, 2.f, 3.f, 6.f})));
  // mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5, CV^2 = 3.5 / 9
  CHECK(c.item() == doctest::Approx(3.5 / 9.0).epsilon(1e-6));
  CHECK(ops::cv_squared(Var(Tensor::full({5}, 2.f))).item() == 0.f);
  Tensor v = randn({6}, 5);
  for (int64_t i = 0; i < v.numel(); ++i) v[i] = std::abs(v[i]) + 1.f;
  CHECK_GRADCHECK([](const VarList& x) { return ops::cv_squared(x[0]); }, {v});
}

TEST_CASE("noisy_topk_load: Phi of the margin to the k-th / (k+1)-th noisy logit, and its gradient") {
  // one token, 3 experts, k = 1; noisy = [2, 1, 0], clean = [1.5, 0.5, 0], stddev = 1
  Var clean(Tensor::from({1, 3}, {1.5f, 0.5f, 0.f}));
  Var noisy(Tensor::from({1, 3}, {2.f, 1.f, 0.f}));
  Var sd(Tensor::full({1, 3}, 1.f));
  Var load = ops::noisy_topk_load(clean, noisy, sd, 1);
  auto Phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  // expert 0 is in the top 1: threshold = 2nd largest noisy (1); others: threshold = largest (2)
  CHECK(load.data()[0] == doctest::Approx(Phi(1.5 - 1.0)));
  CHECK(load.data()[1] == doctest::Approx(Phi(0.5 - 2.0)));
  CHECK(load.data()[2] == doctest::Approx(Phi(0.0 - 2.0)));
  // gradient w.r.t. clean, noisy (through the thresholds) and the stddev, with well-separated logits
  Tensor c = randn({5, 4}, 6), n = randn({5, 4}, 7, 2.f), s = randn({5, 4}, 8);
  for (int64_t i = 0; i < s.numel(); ++i) s[i] = std::abs(s[i]) + 0.5f;
  CHECK_GRADCHECK([](const VarList& v) { return ops::noisy_topk_load(v[0], v[1], v[2], 2); }, {c, n, s});
  CHECK_THROWS_AS(ops::noisy_topk_load(clean, noisy, sd, 3), moelab::Error);
}

TEST_CASE("kl_div: zero for equal logits, a hand value, gradcheck at two temperatures") {
  Tensor t = randn({3, 5}, 9);
  CHECK(ops::kl_div(Var(t.clone()), t, 1.f).item() == doctest::Approx(0.0).epsilon(1e-7));
  // two classes: p = softmax([0, 0]) = [.5, .5], q = softmax([log 3, 0]) = [.75, .25]
  Var k = ops::kl_div(Var(Tensor::from({1, 2}, {std::log(3.f), 0.f})), Tensor::from({1, 2}, {0.f, 0.f}), 1.f);
  CHECK(k.item() == doctest::Approx(0.5 * std::log(0.5 / 0.75) + 0.5 * std::log(0.5 / 0.25)).epsilon(1e-6));
  for (float T : {1.f, 2.f}) {
    CAPTURE(T);
    CHECK_GRADCHECK([&](const VarList& v) { return ops::kl_div(v[0], t, T); }, {randn({3, 5}, 10)});
  }
}
