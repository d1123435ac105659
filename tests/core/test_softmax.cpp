// tests/core/test_softmax.cpp: softmax, log-softmax, logsumexp and fused cross-entropy against double references.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/kernels/softmax.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test_data.h"

using namespace moelab;

using moelab::testing::randvec;

namespace {


// Double reference: per-row logsumexp and softmax.
std::vector<double> lse_ref(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<double> out(rows);
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) m = std::max(m, double(x[r * cols + j]));
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) s += std::exp(double(x[r * cols + j]) - m);
    out[r] = m + std::log(s);
  }
  return out;
}
std::vector<double> softmax_ref(const std::vector<float>& x, int64_t rows, int64_t cols) {
  auto lse = lse_ref(x, rows, cols);
  std::vector<double> p(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) p[r * cols + j] = std::exp(double(x[r * cols + j]) - lse[r]);
  return p;
}

const int64_t kCols[] = {1, 3, 17, 129};
const int64_t kRows[] = {1, 5, 300};  // 300 x 129 splits across threads

}  // namespace

TEST_CASE("softmax_forward: rows sum to 1 and match double reference") {
  uint64_t seed = 1;
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      auto x = randvec(rows * cols, seed++, -8.f, 8.f);
      std::vector<float> y(rows * cols, -1.f);
      kernels::softmax_forward(y.data(), x.data(), rows, cols);
      auto p = softmax_ref(x, rows, cols);
      int bad = 0;
      for (int64_t r = 0; r < rows; ++r) {
        double s = 0;
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t i = r * cols + j;
          s += y[i];
          if (!(std::abs(y[i] - p[i]) <= 1e-6 * std::sqrt(double(cols)) * p[i] + 1e-9) && bad++ < 3)
            FAIL_CHECK("rows=", rows, " cols=", cols, " r=", r, " j=", j, " got ", y[i], " want ", p[i]);
          if (y[i] < 0.f && bad++ < 3) FAIL_CHECK("negative probability");
        }
        if (!(std::abs(s - 1.0) < 1e-5) && bad++ < 3) FAIL_CHECK("row ", r, " sums to ", s);
      }
      CHECK_MESSAGE(bad == 0, "rows=", rows, " cols=", cols);
    }
}

TEST_CASE("log_softmax_forward and logsumexp_rows match double reference") {
  uint64_t seed = 100;
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      auto x = randvec(rows * cols, seed++, -8.f, 8.f);
      std::vector<float> y(rows * cols), lse(rows);
      kernels::log_softmax_forward(y.data(), x.data(), rows, cols);
      kernels::logsumexp_rows(lse.data(), x.data(), rows, cols);
      auto l = lse_ref(x, rows, cols);
      int bad = 0;
      for (int64_t r = 0; r < rows; ++r) {
        if (!(std::abs(lse[r] - l[r]) <= 2e-6 * std::abs(l[r]) + 1e-6) && bad++ < 3)
          FAIL_CHECK("lse rows=", rows, " cols=", cols, " r=", r, " got ", lse[r], " want ", l[r]);
        double s = 0;
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t i = r * cols + j;
          const double want = double(x[i]) - l[r];
          s += std::exp(double(y[i]));
          if (!(std::abs(y[i] - want) <= 2e-6 * std::abs(want) + 2e-6) && bad++ < 3)
            FAIL_CHECK("log_softmax rows=", rows, " cols=", cols, " r=", r, " j=", j, " got ", y[i], " want ", want);
        }
        if (!(std::abs(s - 1.0) < 1e-5) && bad++ < 3) FAIL_CHECK("exp(log_softmax) row ", r, " sums to ", s);
      }
      CHECK_MESSAGE(bad == 0, "rows=", rows, " cols=", cols);
    }
  // cols == 1: log_softmax is exactly 0, lse is x
  std::vector<float> x1 = {3.5f, -1e4f}, y1(2, 7.f), l1(2);
  kernels::log_softmax_forward(y1.data(), x1.data(), 2, 1);
  kernels::logsumexp_rows(l1.data(), x1.data(), 2, 1);
  CHECK(y1 == std::vector<float>{0.f, 0.f});
  CHECK(l1 == x1);
}

TEST_CASE("softmax family: extreme logits (+-1e4) stay finite and correct") {
  const std::vector<float> x = {1e4f, -1e4f, 0.f, 1e4f,      // two maxima tie
                                -1e4f, -1e4f, -1e4f, -1e4f,  // all very negative: uniform
                                -1e4f, 1e4f, -1e4f, -1e4f};  // one dominant
  const int64_t rows = 3, cols = 4;
  std::vector<float> y(12), ly(12), lse(3);
  kernels::softmax_forward(y.data(), x.data(), rows, cols);
  kernels::log_softmax_forward(ly.data(), x.data(), rows, cols);
  kernels::logsumexp_rows(lse.data(), x.data(), rows, cols);
  for (int i = 0; i < 12; ++i) {
    CHECK(std::isfinite(y[i]));
    CHECK(std::isfinite(ly[i]));
  }
  const double ln2 = std::log(2.0), ln4 = std::log(4.0);
  const std::vector<double> want_y = {0.5, 0, 0, 0.5, 0.25, 0.25, 0.25, 0.25, 0, 1, 0, 0};
  const std::vector<double> want_ly = {-ln2, -2e4 - ln2, -1e4 - ln2, -ln2, -ln4, -ln4, -ln4, -ln4,
                                       -2e4, 0, -2e4, -2e4};
  for (int i = 0; i < 12; ++i) {
    CHECK_MESSAGE(std::abs(y[i] - want_y[i]) < 1e-6, "i=", i, " y=", y[i]);
    CHECK_MESSAGE(std::abs(ly[i] - want_ly[i]) < 4e-3, "i=", i, " log_softmax=", ly[i], " want ", want_ly[i]);
  }
  CHECK(lse[0] == doctest::Approx(1e4 + ln2).epsilon(1e-6));
  CHECK(lse[1] == doctest::Approx(-1e4 + ln4).epsilon(1e-6));
  CHECK(lse[2] == doctest::Approx(1e4).epsilon(1e-6));
}

TEST_CASE("softmax_backward and log_softmax_backward vs the Jacobian in double") {
  uint64_t seed = 200;
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      auto x = randvec(rows * cols, seed++, -5.f, 5.f);
      auto dy = randvec(rows * cols, seed++);
      auto p = softmax_ref(x, rows, cols);
      std::vector<float> y(rows * cols), ly(rows * cols);
      kernels::softmax_forward(y.data(), x.data(), rows, cols);
      kernels::log_softmax_forward(ly.data(), x.data(), rows, cols);
      auto dx0 = randvec(rows * cols, seed++, 2.f, 3.f);  // backward accumulates
      auto dx = dx0, dlx = dx0;
      kernels::softmax_backward(dx.data(), y.data(), dy.data(), rows, cols);
      kernels::log_softmax_backward(dlx.data(), ly.data(), dy.data(), rows, cols);
      int bad = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < cols; ++i) {
          // softmax: d y_j / d x_i = y_j (delta_ij - y_i); log_softmax: d ly_j / d x_i = delta_ij - y_i
          double ws = dx0[r * cols + i], wl = dx0[r * cols + i];
          const double pi = p[r * cols + i];
          for (int64_t j = 0; j < cols; ++j) {
            const double pj = p[r * cols + j], g = dy[r * cols + j];
            ws += g * pj * ((i == j) - pi);
            wl += g * ((i == j) - pi);
          }
          const int64_t k = r * cols + i;
          if (!(std::abs(dx[k] - ws) <= 1e-5) && bad++ < 3)
            FAIL_CHECK("softmax_backward rows=", rows, " cols=", cols, " got ", dx[k], " want ", ws);
          if (!(std::abs(dlx[k] - wl) <= 1e-5 * (1 + std::sqrt(double(cols)))) && bad++ < 3)
            FAIL_CHECK("log_softmax_backward rows=", rows, " cols=", cols, " got ", dlx[k], " want ", wl);
        }
      CHECK_MESSAGE(bad == 0, "rows=", rows, " cols=", cols);
    }
}

TEST_CASE("cross_entropy forward vs double reference, backward = (softmax - onehot) * scale") {
  uint64_t seed = 300;
  for (int64_t rows : kRows)
    for (int64_t cols : kCols) {
      auto x = randvec(rows * cols, seed++, -6.f, 6.f);
      std::vector<int32_t> t(rows);
      Rng rt(seed++);
      for (auto& v : t) v = static_cast<int32_t>(rt.randint(cols));
      std::vector<float> lse(rows, -1.f);
      const float loss = kernels::cross_entropy_forward(lse.data(), x.data(), t.data(), rows, cols);
      auto l = lse_ref(x, rows, cols);
      double want = 0;
      for (int64_t r = 0; r < rows; ++r) want += l[r] - x[r * cols + t[r]];
      want /= rows;
      CHECK_MESSAGE(std::abs(loss - want) <= 1e-5 * (1 + std::abs(want)), "rows=", rows, " cols=", cols,
                    " loss ", loss, " want ", want);
      if (cols == 1) CHECK(std::abs(loss) < 1e-6);  // a single class has probability 1
      for (int64_t r = 0; r < rows; ++r) CHECK(std::abs(lse[r] - l[r]) <= 2e-6 * std::abs(l[r]) + 1e-6);

      const float scale = 0.7f / rows;
      auto p = softmax_ref(x, rows, cols);
      auto d0 = randvec(rows * cols, seed++, -1.f, 1.f);  // backward accumulates
      auto d = d0;
      kernels::cross_entropy_backward(d.data(), x.data(), lse.data(), t.data(), scale, rows, cols);
      int bad = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t k = r * cols + j;
          const double w = d0[k] + double(scale) * (p[k] - (j == t[r] ? 1.0 : 0.0));
          if (!(std::abs(d[k] - w) <= 1e-6 * (1 + std::abs(w))) && bad++ < 3)
            FAIL_CHECK("ce backward rows=", rows, " cols=", cols, " r=", r, " j=", j, " got ", d[k], " want ", w);
        }
      CHECK_MESSAGE(bad == 0, "rows=", rows, " cols=", cols);
    }
}

TEST_CASE("cross_entropy with extreme logits (+-1e4) gives finite, correct losses and gradients") {
  const std::vector<float> x = {1e4f, -1e4f, 0.f, 1e4f};
  for (int32_t target = 0; target < 4; ++target) {
    std::vector<float> lse(1);
    const float loss = kernels::cross_entropy_forward(lse.data(), x.data(), &target, 1, 4);
    const double want = 1e4 + std::log(2.0) - x[target];
    CHECK(std::isfinite(loss));
    CHECK_MESSAGE(std::abs(loss - want) < 1e-2, "target ", target, " loss ", loss, " want ", want);
    std::vector<float> d(4, 0.f);
    kernels::cross_entropy_backward(d.data(), x.data(), lse.data(), &target, 1.f, 1, 4);
    const double p[4] = {0.5, 0, 0, 0.5};
    for (int j = 0; j < 4; ++j) {
      CHECK(std::isfinite(d[j]));
      // lse ~ 1e4 is stored in float (spacing ~1e-3), so exp(x - lse) is only good to ~1e-3 relative
      CHECK(std::abs(d[j] - (p[j] - (j == target))) < 1e-3);
    }
  }
  // target at the -1e4 logit: ~2e4
  int32_t tgt = 1;
  std::vector<float> lse(1);
  const float loss = kernels::cross_entropy_forward(lse.data(), x.data(), &tgt, 1, 4);
  CHECK(loss == doctest::Approx(20000.693147).epsilon(1e-6));

  // mean over rows: a confident correct row (~0) and the 2e4 row
  const std::vector<float> x2 = {1e4f, -1e4f, 0.f, 1e4f, -1e4f, 1e4f, -1e4f, -1e4f};
  const std::vector<int32_t> t2 = {1, 1};
  std::vector<float> lse2(2);
  const float loss2 = kernels::cross_entropy_forward(lse2.data(), x2.data(), t2.data(), 2, 4);
  CHECK(loss2 == doctest::Approx((20000.693147 + 0.0) / 2).epsilon(1e-6));
  CHECK(kernels::cross_entropy_forward(nullptr, nullptr, nullptr, 0, 4) == 0.f);
}

TEST_CASE("softmax family: -inf (masked) logits get probability 0, in the vector body and the scalar tail") {
  for (int64_t cols : {3, 17, 129}) {
    std::vector<float> x(2 * cols);
    for (int64_t j = 0; j < 2 * cols; ++j) x[j] = static_cast<float>(std::cos(0.3 * j));
    // mask every third column in both rows (covers 16-wide blocks and the remainder)
    for (int64_t j = 0; j < 2 * cols; ++j)
      if (j % 3 == 1) x[j] = -INFINITY;
    std::vector<float> y(2 * cols), ly(2 * cols), lse(2);
    kernels::softmax_forward(y.data(), x.data(), 2, cols);
    kernels::log_softmax_forward(ly.data(), x.data(), 2, cols);
    kernels::logsumexp_rows(lse.data(), x.data(), 2, cols);
    // reference over the unmasked entries only
    for (int64_t r = 0; r < 2; ++r) {
      double m = -INFINITY, s = 0;
      for (int64_t j = 0; j < cols; ++j) m = std::max(m, double(x[r * cols + j]));
      for (int64_t j = 0; j < cols; ++j) s += std::exp(double(x[r * cols + j]) - m);
      const double l = m + std::log(s);
      CHECK(lse[r] == doctest::Approx(l).epsilon(1e-6));
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t k = r * cols + j;
        if (std::isinf(x[k])) {
          CHECK(y[k] == 0.f);
          CHECK(ly[k] == -INFINITY);
        } else {
          CHECK(y[k] == doctest::Approx(std::exp(double(x[k]) - l)).epsilon(1e-6));
          CHECK(ly[k] == doctest::Approx(double(x[k]) - l).epsilon(1e-6).scale(1.0));
        }
      }
    }
  }
}

TEST_CASE("softmax family: a NaN poisons its own row only") {
  for (int64_t cols : {3, 17, 129})
    for (int64_t pos : {int64_t{0}, cols / 2, cols - 1}) {
      std::vector<float> x = randvec(3 * cols, 900 + cols + pos);
      x[cols + pos] = std::numeric_limits<float>::quiet_NaN();  // middle row
      std::vector<float> y(3 * cols), ly(3 * cols), lse(3);
      kernels::softmax_forward(y.data(), x.data(), 3, cols);
      kernels::log_softmax_forward(ly.data(), x.data(), 3, cols);
      kernels::logsumexp_rows(lse.data(), x.data(), 3, cols);
      INFO("cols=", cols, " NaN at ", pos);
      CHECK(std::isnan(lse[1]));
      CHECK(std::isfinite(lse[0]));
      CHECK(std::isfinite(lse[2]));
      int nan_in_row = 0, nan_elsewhere = 0;
      for (int64_t j = 0; j < 3 * cols; ++j) {
        const bool in_row = j >= cols && j < 2 * cols;
        (in_row ? nan_in_row : nan_elsewhere) += std::isnan(y[j]) + std::isnan(ly[j]);
      }
      CHECK(nan_in_row == 2 * cols);
      CHECK(nan_elsewhere == 0);
    }
}
