// tests/core/test_norm.cpp: LayerNorm and RMSNorm forward/backward against a double reference and its
// finite differences.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/kernels/norm.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test_data.h"

using namespace moelab;

using moelab::testing::randvec;

namespace {

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// Double references over all rows. w / b empty = no affine part.
struct LnOut {
  std::vector<double> y, mean, rstd;
};
LnOut layernorm_ref(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
                    int64_t rows, int64_t cols, double eps) {
  LnOut o{std::vector<double>(rows * cols), std::vector<double>(rows), std::vector<double>(rows)};
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0;
    for (int64_t j = 0; j < cols; ++j) m += x[r * cols + j];
    m /= cols;
    double v = 0;
    for (int64_t j = 0; j < cols; ++j) v += (x[r * cols + j] - m) * (x[r * cols + j] - m);
    v /= cols;
    const double rs = 1 / std::sqrt(v + eps);
    o.mean[r] = m;
    o.rstd[r] = rs;
    for (int64_t j = 0; j < cols; ++j) {
      double n = (x[r * cols + j] - m) * rs;
      o.y[r * cols + j] = n * (w.empty() ? 1.0 : w[j]) + (b.empty() ? 0.0 : b[j]);
    }
  }
  return o;
}
struct RmsOut {
  std::vector<double> y, rrms;
};
RmsOut rmsnorm_ref(const std::vector<double>& x, const std::vector<double>& w, int64_t rows, int64_t cols,
                   double eps) {
  RmsOut o{std::vector<double>(rows * cols), std::vector<double>(rows)};
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t j = 0; j < cols; ++j) ss += x[r * cols + j] * x[r * cols + j];
    const double rr = 1 / std::sqrt(ss / cols + eps);
    o.rrms[r] = rr;
    for (int64_t j = 0; j < cols; ++j) o.y[r * cols + j] = x[r * cols + j] * rr * (w.empty() ? 1.0 : w[j]);
  }
  return o;
}

double dot(const std::vector<double>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss() with respect to every element of v (v is modified and restored).
std::vector<double> numeric_grad(std::vector<double>& v, const std::function<double()>& loss) {
  std::vector<double> g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double orig = v[i];
    const double h = 1e-6 * std::max(1.0, std::abs(orig));
    v[i] = orig + h;
    const double lp = loss();
    v[i] = orig - h;
    const double lm = loss();
    v[i] = orig;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

// |got - (base + want)| within atol + rtol * |want|, reporting the first few offenders.
int compare(const char* what, const std::vector<float>& got, const std::vector<float>& base,
            const std::vector<double>& want, double rtol, double atol) {
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = double(base[i]) + want[i];
    if (!(std::abs(got[i] - w) <= atol + rtol * std::abs(want[i])) && bad++ < 3)
      FAIL_CHECK(what, " i=", i, " got ", got[i], " want ", w);
  }
  return bad;
}

const int64_t kCols[] = {1, 3, 17, 129};

}  // namespace

TEST_CASE("layernorm_forward vs double reference, with/without weight and bias, saved mean/rstd") {
  uint64_t seed = 1;
  for (int64_t rows : {1, 4, 300})
    for (int64_t cols : kCols)
      for (int affine = 0; affine < 4; ++affine)  // 0: none, 1: weight only, 2: weight + bias, 3: bias only
        for (float eps : {1e-5f, 0.1f}) {
          auto x = randvec(rows * cols, seed++, -1.f, 3.f);  // non-zero mean
          if (eps > 0.01f) for (auto& v : x) v *= 0.1f;       // small variance so eps matters
          std::vector<float> w = affine == 1 || affine == 2 ? randvec(cols, seed++, 0.5f, 1.5f) : std::vector<float>{};
          std::vector<float> b = affine >= 2 ? randvec(cols, seed++) : std::vector<float>{};
          std::vector<float> y(rows * cols), mean(rows), rstd(rows);
          kernels::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.empty() ? nullptr : w.data(),
                                     b.empty() ? nullptr : b.data(), rows, cols, eps);
          auto ref = layernorm_ref(to_double(x), to_double(w), to_double(b), rows, cols, eps);
          INFO("rows=", rows, " cols=", cols, " affine=", affine, " eps=", eps);
          int bad = 0;
          for (int64_t r = 0; r < rows; ++r) {
            if (!(std::abs(mean[r] - ref.mean[r]) <= 1e-6 * (1 + std::abs(ref.mean[r]))) && bad++ < 3)
              FAIL_CHECK("mean r=", r, " got ", mean[r], " want ", ref.mean[r]);
            if (!(std::abs(rstd[r] - ref.rstd[r]) <= 2e-5 * ref.rstd[r]) && bad++ < 3)
              FAIL_CHECK("rstd r=", r, " got ", rstd[r], " want ", ref.rstd[r]);
          }
          for (int64_t i = 0; i < rows * cols; ++i)
            if (!(std::abs(y[i] - ref.y[i]) <= 2e-5 * (1 + std::abs(ref.y[i]))) && bad++ < 3)
              FAIL_CHECK("y i=", i, " got ", y[i], " want ", ref.y[i]);
          CHECK(bad == 0);
          if (cols == 1) {  // x - mean == 0: output is the bias (or 0)
            for (int64_t r = 0; r < rows; ++r) CHECK(y[r] == (b.empty() ? 0.f : b[0]));
            CHECK(rstd[0] == doctest::Approx(1.0 / std::sqrt(double(eps))).epsilon(1e-5));
          }
        }
}

TEST_CASE("layernorm: unit-variance rows are normalised (exact small example)") {
  // x = {1, 3}: mean 2, var 1, eps 0 -> y = {-1, 1}
  std::vector<float> x = {1.f, 3.f, -4.f, 4.f}, y(4), mean(2), rstd(2);
  kernels::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), nullptr, nullptr, 2, 2, 0.f);
  CHECK(mean == std::vector<float>{2.f, 0.f});
  CHECK(rstd[0] == doctest::Approx(1.0));
  CHECK(rstd[1] == doctest::Approx(0.25));
  CHECK(y[0] == doctest::Approx(-1.0));
  CHECK(y[1] == doctest::Approx(1.0));
  CHECK(y[2] == doctest::Approx(-1.0));
  CHECK(y[3] == doctest::Approx(1.0));
}

TEST_CASE("layernorm_backward vs finite differences of the double reference") {
  uint64_t seed = 1000;
  const double eps = 1e-5;
  for (int64_t cols : kCols)
    for (int affine = 0; affine < 4; ++affine) {  // 0: none, 1: weight, 2: weight + bias, 3: bias only
      const int64_t rows = 3;
      auto x = randvec(rows * cols, seed++, -1.f, 3.f);
      auto w = affine == 1 || affine == 2 ? randvec(cols, seed++, 0.5f, 1.5f) : std::vector<float>{};
      auto b = affine >= 2 ? randvec(cols, seed++) : std::vector<float>{};
      auto dy = randvec(rows * cols, seed++);
      std::vector<float> y(rows * cols), mean(rows), rstd(rows);
      kernels::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.empty() ? nullptr : w.data(),
                                 b.empty() ? nullptr : b.data(), rows, cols, float(eps));

      auto dx0 = randvec(rows * cols, seed++, 1.f, 2.f);  // backward accumulates
      auto dw0 = randvec(cols, seed++, -2.f, -1.f), db0 = randvec(cols, seed++, 5.f, 6.f);
      auto dx = dx0, dw = dw0, db = db0;
      kernels::layernorm_backward(dx.data(), w.empty() ? nullptr : dw.data(), b.empty() ? nullptr : db.data(),
                                  dy.data(), x.data(), mean.data(), rstd.data(), w.empty() ? nullptr : w.data(), rows,
                                  cols);

      auto xd = to_double(x), wd = to_double(w), bd = to_double(b);
      auto loss = [&] { return dot(layernorm_ref(xd, wd, bd, rows, cols, eps).y, dy); };
      INFO("cols=", cols, " affine=", affine);
      int bad = compare("dx", dx, dx0, numeric_grad(xd, loss), 1e-3, 1e-4);
      if (!w.empty()) bad += compare("dweight", dw, dw0, numeric_grad(wd, loss), 1e-4, 1e-5);
      else CHECK(dw == dw0);
      if (!b.empty()) bad += compare("dbias", db, db0, numeric_grad(bd, loss), 1e-4, 1e-5);
      else CHECK(db == db0);
      CHECK(bad == 0);
    }
}

TEST_CASE("layernorm_backward vs analytic formula on many rows (parallel path), null dx skipped") {
  const int64_t rows = 300, cols = 129;
  auto x = randvec(rows * cols, 7, -2.f, 2.f), w = randvec(cols, 8, 0.5f, 1.5f), dy = randvec(rows * cols, 9);
  std::vector<float> y(rows * cols), mean(rows), rstd(rows);
  kernels::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), nullptr, rows, cols, 1e-5f);
  auto ref = layernorm_ref(to_double(x), to_double(w), {}, rows, cols, 1e-5);
  std::vector<double> gx(rows * cols), gw(cols, 0.0), gb(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double sg = 0, sgn = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double n = (x[r * cols + j] - ref.mean[r]) * ref.rstd[r], g = double(dy[r * cols + j]) * w[j];
      sg += g;
      sgn += g * n;
      gw[j] += dy[r * cols + j] * n;
      gb[j] += dy[r * cols + j];
    }
    for (int64_t j = 0; j < cols; ++j) {
      const double n = (x[r * cols + j] - ref.mean[r]) * ref.rstd[r], g = double(dy[r * cols + j]) * w[j];
      gx[r * cols + j] = ref.rstd[r] * (g - sg / cols - n * sgn / cols);
    }
  }
  std::vector<float> dx(rows * cols, 0.f), dw(cols, 0.f), db(cols, 0.f), zx(rows * cols, 0.f), zw(cols, 0.f);
  kernels::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                              w.data(), rows, cols);
  CHECK(compare("dx", dx, zx, gx, 1e-4, 1e-5) == 0);
  CHECK(compare("dweight", dw, zw, gw, 1e-4, 1e-4) == 0);
  CHECK(compare("dbias", db, zw, gb, 1e-4, 1e-4) == 0);
  // dx == nullptr: only the parameter gradients
  std::vector<float> dw2(cols, 0.f), db2(cols, 0.f);
  kernels::layernorm_backward(nullptr, dw2.data(), db2.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                              w.data(), rows, cols);
  CHECK(dw2 == dw);
  CHECK(db2 == db);
}

TEST_CASE("rmsnorm_forward vs double reference, with/without weight, saved rrms") {
  uint64_t seed = 2000;
  for (int64_t rows : {1, 4, 300})
    for (int64_t cols : kCols)
      for (int affine = 0; affine < 2; ++affine)
        for (float eps : {1e-6f, 0.1f}) {
          auto x = randvec(rows * cols, seed++, -2.f, 2.f);
          if (eps > 0.01f) for (auto& v : x) v *= 0.1f;
          auto w = affine ? randvec(cols, seed++, 0.5f, 1.5f) : std::vector<float>{};
          std::vector<float> y(rows * cols), rrms(rows);
          kernels::rmsnorm_forward(y.data(), rrms.data(), x.data(), w.empty() ? nullptr : w.data(), rows, cols, eps);
          auto ref = rmsnorm_ref(to_double(x), to_double(w), rows, cols, eps);
          INFO("rows=", rows, " cols=", cols, " affine=", affine, " eps=", eps);
          int bad = 0;
          for (int64_t r = 0; r < rows; ++r)
            if (!(std::abs(rrms[r] - ref.rrms[r]) <= 2e-6 * ref.rrms[r]) && bad++ < 3)
              FAIL_CHECK("rrms r=", r, " got ", rrms[r], " want ", ref.rrms[r]);
          for (int64_t i = 0; i < rows * cols; ++i)
            if (!(std::abs(y[i] - ref.y[i]) <= 4e-6 * (1 + std::abs(ref.y[i]))) && bad++ < 3)
              FAIL_CHECK("y i=", i, " got ", y[i], " want ", ref.y[i]);
          CHECK(bad == 0);
        }
  // exact example: x = {3, 4} -> rms = sqrt(12.5)
  std::vector<float> x = {3.f, 4.f}, y(2), rr(1);
  kernels::rmsnorm_forward(y.data(), rr.data(), x.data(), nullptr, 1, 2, 0.f);
  CHECK(rr[0] == doctest::Approx(1.0 / std::sqrt(12.5)));
  CHECK(y[0] == doctest::Approx(3.0 / std::sqrt(12.5)));
  CHECK(y[1] == doctest::Approx(4.0 / std::sqrt(12.5)));
}

TEST_CASE("rmsnorm_backward vs finite differences of the double reference") {
  uint64_t seed = 3000;
  const double eps = 1e-6;
  for (int64_t cols : kCols)
    for (int affine = 0; affine < 2; ++affine) {
      const int64_t rows = 3;
      auto x = randvec(rows * cols, seed++, -2.f, 2.f);
      auto w = affine ? randvec(cols, seed++, 0.5f, 1.5f) : std::vector<float>{};
      auto dy = randvec(rows * cols, seed++);
      std::vector<float> y(rows * cols), rrms(rows);
      kernels::rmsnorm_forward(y.data(), rrms.data(), x.data(), w.empty() ? nullptr : w.data(), rows, cols,
                               float(eps));
      auto dx0 = randvec(rows * cols, seed++, 1.f, 2.f), dw0 = randvec(cols, seed++, -2.f, -1.f);
      auto dx = dx0, dw = dw0;
      kernels::rmsnorm_backward(dx.data(), w.empty() ? nullptr : dw.data(), dy.data(), x.data(), rrms.data(),
                                w.empty() ? nullptr : w.data(), rows, cols);
      auto xd = to_double(x), wd = to_double(w);
      auto loss = [&] { return dot(rmsnorm_ref(xd, wd, rows, cols, eps).y, dy); };
      INFO("cols=", cols, " affine=", affine);
      int bad = compare("dx", dx, dx0, numeric_grad(xd, loss), 1e-3, 1e-4);
      if (!w.empty()) bad += compare("dweight", dw, dw0, numeric_grad(wd, loss), 1e-4, 1e-5);
      else CHECK(dw == dw0);
      CHECK(bad == 0);
    }
}

TEST_CASE("rmsnorm_backward vs analytic formula on many rows (parallel path)") {
  const int64_t rows = 300, cols = 129;
  auto x = randvec(rows * cols, 17, -2.f, 2.f), w = randvec(cols, 18, 0.5f, 1.5f), dy = randvec(rows * cols, 19);
  std::vector<float> y(rows * cols), rrms(rows);
  kernels::rmsnorm_forward(y.data(), rrms.data(), x.data(), w.data(), rows, cols, 1e-6f);
  auto ref = rmsnorm_ref(to_double(x), to_double(w), rows, cols, 1e-6);
  std::vector<double> gx(rows * cols), gw(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const double rr = ref.rrms[r];
    double d = 0;
    for (int64_t j = 0; j < cols; ++j) {
      d += double(dy[r * cols + j]) * w[j] * x[r * cols + j];
      gw[j] += double(dy[r * cols + j]) * x[r * cols + j] * rr;
    }
    for (int64_t j = 0; j < cols; ++j)
      gx[r * cols + j] = double(dy[r * cols + j]) * w[j] * rr - x[r * cols + j] * d * rr * rr * rr / cols;
  }
  std::vector<float> dx(rows * cols, 0.f), dw(cols, 0.f), zx(rows * cols, 0.f), zw(cols, 0.f);
  kernels::rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), rrms.data(), w.data(), rows, cols);
  CHECK(compare("dx", dx, zx, gx, 1e-4, 1e-5) == 0);
  CHECK(compare("dweight", dw, zw, gw, 1e-4, 1e-4) == 0);
  std::vector<float> dw2(cols, 0.f);
  kernels::rmsnorm_backward(nullptr, dw2.data(), dy.data(), x.data(), rrms.data(), w.data(), rows, cols);
  CHECK(dw2 == dw);
}
