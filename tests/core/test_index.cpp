// tests/core/test_index.cpp: gather/scatter by index, top-k, and the deterministic reductions.
#include <doctest/doctest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/kernels/index.h"
#include "core/kernels/reduce.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test_data.h"

using namespace moelab;

using moelab::testing::randvec;

namespace {

std::vector<int32_t> randidx(int64_t n, int64_t range, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(r.randint(range));
  return v;
}

struct ThreadGuard {
  int saved = omp_get_max_threads();
  ~ThreadGuard() { omp_set_num_threads(saved); }
};

// Naive top-k: stable sort of column indices by value descending, NaN last.
void topk_ref(const float* x, int64_t cols, int64_t k, std::vector<float>& v, std::vector<int32_t>& idx) {
  std::vector<int32_t> order(cols);
  for (int64_t j = 0; j < cols; ++j) order[j] = static_cast<int32_t>(j);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const bool na = std::isnan(x[a]), nb = std::isnan(x[b]);
    if (na || nb) return !na && nb;
    return x[a] > x[b];
  });
  v.resize(k);
  idx.resize(k);
  for (int64_t i = 0; i < k; ++i) {
    idx[i] = order[i];
    v[i] = x[order[i]];
  }
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();

}  // namespace

TEST_CASE("gather_rows vs naive, including repeated indices") {
  for (int64_t cols : {1, 3, 17, 129, 1000}) {
    const int64_t src_rows = 50, n_idx = 200;
    auto src = randvec(src_rows * cols, 1 + cols);
    auto idx = randidx(n_idx, src_rows, 2 + cols);
    idx[0] = 0;
    idx[1] = src_rows - 1;
    idx[2] = idx[3];  // duplicate
    std::vector<float> out(n_idx * cols, -99.f);
    kernels::gather_rows(out.data(), src.data(), idx.data(), n_idx, cols);
    int bad = 0;
    for (int64_t i = 0; i < n_idx; ++i)
      for (int64_t j = 0; j < cols; ++j)
        if (out[i * cols + j] != src[idx[i] * cols + j] && bad++ < 3)
          FAIL_CHECK("cols=", cols, " i=", i, " j=", j);
    CHECK_MESSAGE(bad == 0, "cols=", cols);
  }
  std::vector<float> src = {1, 2, 3, 4, 5, 6}, out(6);
  std::vector<int32_t> idx = {2, 0, 2};
  kernels::gather_rows(out.data(), src.data(), idx.data(), 3, 2);
  CHECK(out == std::vector<float>{5, 6, 1, 2, 5, 6});
}

TEST_CASE("scatter_add_rows: duplicates accumulate, scale null and non-null") {
  // exact example
  std::vector<float> dst = {1, 1, 1, 1, 1, 1}, src = {1, 2, 10, 20, 100, 200};
  std::vector<int32_t> idx = {2, 0, 2};
  kernels::scatter_add_rows(dst.data(), src.data(), idx.data(), nullptr, 3, 2);
  CHECK(dst == std::vector<float>{11, 21, 1, 1, 102, 203});
  std::vector<float> scale = {0.5f, 2.f, -1.f};
  kernels::scatter_add_rows(dst.data(), src.data(), idx.data(), scale.data(), 3, 2);
  CHECK(dst == std::vector<float>{31, 61, 1, 1, 2.5f, 4.f});

  for (int64_t cols : {1, 3, 17, 129, 1000})
    for (int with_scale = 0; with_scale < 2; ++with_scale) {
      const int64_t dst_rows = 20, n_idx = 300;  // many duplicates
      auto src2 = randvec(n_idx * cols, 10 + cols);
      auto idx2 = randidx(n_idx, dst_rows, 11 + cols);
      auto sc = randvec(n_idx, 12 + cols, -2.f, 2.f);
      auto dst0 = randvec(dst_rows * cols, 13 + cols, 5.f, 6.f);
      auto d = dst0;
      kernels::scatter_add_rows(d.data(), src2.data(), idx2.data(), with_scale ? sc.data() : nullptr, n_idx, cols);
      std::vector<double> ref(dst0.begin(), dst0.end()), mag(dst0.begin(), dst0.end());
      for (int64_t i = 0; i < n_idx; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          const double w = with_scale ? sc[i] : 1.0;
          ref[idx2[i] * cols + j] += w * src2[i * cols + j];
          mag[idx2[i] * cols + j] += std::abs(w * src2[i * cols + j]);
        }
      int bad = 0;
      for (size_t k = 0; k < d.size(); ++k)
        if (!(std::abs(d[k] - ref[k]) <= 1e-6 * 30 * mag[k]) && bad++ < 3)
          FAIL_CHECK("cols=", cols, " scale=", with_scale, " k=", k, " got ", d[k], " want ", ref[k]);
      CHECK_MESSAGE(bad == 0, "cols=", cols, " scale=", with_scale);
    }
}

TEST_CASE("scatter_add_rows is bitwise identical for 1 and 2 threads") {
  ThreadGuard guard;
  const int64_t cols = 4096, n_idx = 64, dst_rows = 5;
  auto src = randvec(n_idx * cols, 21);
  auto idx = randidx(n_idx, dst_rows, 22);
  std::vector<float> d1(dst_rows * cols, 0.f), d2(dst_rows * cols, 0.f);
  omp_set_num_threads(1);
  kernels::scatter_add_rows(d1.data(), src.data(), idx.data(), nullptr, n_idx, cols);
  omp_set_num_threads(2);
  kernels::scatter_add_rows(d2.data(), src.data(), idx.data(), nullptr, n_idx, cols);
  CHECK(std::memcmp(d1.data(), d2.data(), d1.size() * sizeof(float)) == 0);
}

TEST_CASE("topk_rows: sorted descending, ties to the lower index") {
  {
    const std::vector<float> x = {1, 3, 3, 2, 3};
    std::vector<float> v(2);
    std::vector<int32_t> i(2);
    kernels::topk_rows(v.data(), i.data(), x.data(), 1, 5, 2);
    CHECK(i == std::vector<int32_t>{1, 2});
    CHECK(v == std::vector<float>{3, 3});
  }
  {
    // all equal: first k indices in order
    const std::vector<float> x = {0.5f, 0.5f, 0.5f, 0.5f};
    std::vector<float> v(3);
    std::vector<int32_t> i(3);
    kernels::topk_rows(v.data(), i.data(), x.data(), 1, 4, 3);
    CHECK(i == std::vector<int32_t>{0, 1, 2});
  }
  {
    // k == cols: a full descending sort, ties by index
    const std::vector<float> x = {2, -1, 5, 2, 0, 5};
    std::vector<float> v(6);
    std::vector<int32_t> i(6);
    kernels::topk_rows(v.data(), i.data(), x.data(), 1, 6, 6);
    CHECK(i == std::vector<int32_t>{2, 5, 0, 3, 4, 1});
    CHECK(v == std::vector<float>{5, 5, 2, 2, 0, -1});
  }
  {
    // k = 1 and cols = 1
    const std::vector<float> x = {-7.f};
    float v;
    int32_t i;
    kernels::topk_rows(&v, &i, x.data(), 1, 1, 1);
    CHECK(v == -7.f);
    CHECK(i == 0);
  }
}

TEST_CASE("topk_rows vs naive stable sort on random rows (with ties), many rows") {
  for (int64_t cols : {1, 3, 17, 129})
    for (int64_t k : {int64_t{1}, int64_t{2}, cols / 2 + 1, cols}) {
      if (k > cols) continue;
      const int64_t rows = 200;
      std::vector<float> x(rows * cols);
      Rng r(cols * 1000 + k);
      for (auto& v : x) v = static_cast<float>(r.randint(9)) - 4.f;  // many ties
      std::vector<float> vals(rows * k);
      std::vector<int32_t> idx(rows * k);
      kernels::topk_rows(vals.data(), idx.data(), x.data(), rows, cols, k);
      int bad = 0;
      for (int64_t row = 0; row < rows; ++row) {
        std::vector<float> rv;
        std::vector<int32_t> ri;
        topk_ref(x.data() + row * cols, cols, k, rv, ri);
        for (int64_t q = 0; q < k; ++q)
          if ((idx[row * k + q] != ri[q] || vals[row * k + q] != rv[q]) && bad++ < 3)
            FAIL_CHECK("cols=", cols, " k=", k, " row=", row, " q=", q, " got (", vals[row * k + q], ",",
                       idx[row * k + q], ") want (", rv[q], ",", ri[q], ")");
      }
      CHECK_MESSAGE(bad == 0, "cols=", cols, " k=", k);
    }
}

TEST_CASE("topk_rows: NaN is never chosen over a number") {
  struct Case {
    std::vector<float> x;
    int64_t k;
    std::vector<int32_t> want;
  };
  const float inf = std::numeric_limits<float>::infinity();
  const Case cases[] = {
      {{kNaN, 1.f, 2.f}, 2, {2, 1}},
      {{1.f, kNaN, 2.f}, 2, {2, 0}},
      {{1.f, 2.f, kNaN}, 2, {1, 0}},
      {{kNaN, -5.f}, 1, {1}},
      {{kNaN, -inf}, 1, {1}},
      {{kNaN, kNaN, 3.f, kNaN, -1.f}, 2, {2, 4}},
      {{kNaN, 0.f, kNaN}, 1, {1}},
      {{2.f, kNaN, 1.f, kNaN}, 3, {0, 2, 1}},  // NaN only when the numbers run out, the lower one first
      {{kNaN, 7.f, kNaN, 3.f}, 4, {1, 3, 0, 2}},
  };
  for (const Case& c : cases) {
    const int64_t cols = static_cast<int64_t>(c.x.size());
    std::vector<float> v(c.k);
    std::vector<int32_t> i(c.k);
    kernels::topk_rows(v.data(), i.data(), c.x.data(), 1, cols, c.k);
    CHECK(i == c.want);
    for (int64_t q = 0; q < c.k; ++q) {
      if (std::isnan(c.x[c.want[q]])) CHECK(std::isnan(v[q]));
      else CHECK(v[q] == c.x[c.want[q]]);
    }
  }
  // random rows with NaNs sprinkled in vs the naive reference
  const int64_t rows = 100, cols = 17, k = 5;
  auto x = randvec(rows * cols, 99);
  Rng r(100);
  for (auto& v : x) if (r.uniform() < 0.3f) v = kNaN;
  std::vector<float> vals(rows * k);
  std::vector<int32_t> idx(rows * k);
  kernels::topk_rows(vals.data(), idx.data(), x.data(), rows, cols, k);
  int bad = 0;
  for (int64_t row = 0; row < rows; ++row) {
    std::vector<float> rv;
    std::vector<int32_t> ri;
    topk_ref(x.data() + row * cols, cols, k, rv, ri);
    for (int64_t q = 0; q < k; ++q)
      if (idx[row * k + q] != ri[q] && bad++ < 3)
        FAIL_CHECK("row=", row, " q=", q, " got ", idx[row * k + q], " want ", ri[q]);
  }
  CHECK(bad == 0);
}

TEST_CASE("sum and sum_last_dim vs naive") {
  for (int64_t n : {0, 1, 3, 4095, 4096, 4097, 100000}) {
    auto x = randvec(n, 500 + n, -1.f, 3.f);
    double ref = 0;
    for (float v : x) ref += v;
    CHECK_MESSAGE(kernels::sum(x.data(), n) == doctest::Approx(ref).epsilon(1e-12).scale(1.0), "n=", n);
  }
  std::vector<float> ones(10000, 1.f);
  CHECK(kernels::sum(ones.data(), 10000) == 10000.0);
  std::vector<float> big = {1e8f, 1.f, -1e8f, 1.f};  // double accumulation keeps the small terms
  CHECK(kernels::sum(big.data(), 4) == 2.0);

  for (int64_t rows : {1, 3, 500})
    for (int64_t cols : {1, 3, 17, 129}) {
      auto x = randvec(rows * cols, 600 + rows * cols, -1.f, 3.f);
      std::vector<float> out(rows, -1.f);
      kernels::sum_last_dim(out.data(), x.data(), rows, cols);
      int bad = 0;
      for (int64_t r = 0; r < rows; ++r) {
        double ref = 0, mag = 0;
        for (int64_t j = 0; j < cols; ++j) {
          ref += x[r * cols + j];
          mag += std::abs(x[r * cols + j]);
        }
        if (!(std::abs(out[r] - ref) <= 1e-7 * cols * mag + 1e-7) && bad++ < 3)
          FAIL_CHECK("rows=", rows, " cols=", cols, " r=", r, " got ", out[r], " want ", ref);
      }
      CHECK_MESSAGE(bad == 0, "rows=", rows, " cols=", cols);
    }
}

TEST_CASE("kernels::sum is bitwise identical for 1 and 2 OpenMP threads on 1e6 elements") {
  ThreadGuard guard;
  const int64_t n = 1000000;
  auto x = randvec(n, 777, -1e3f, 1e3f);
  omp_set_num_threads(1);
  const double s1 = kernels::sum(x.data(), n);
  std::vector<float> r1(1000);
  kernels::sum_last_dim(r1.data(), x.data(), 1000, 1000);
  omp_set_num_threads(2);
  const double s2 = kernels::sum(x.data(), n);
  std::vector<float> r2(1000);
  kernels::sum_last_dim(r2.data(), x.data(), 1000, 1000);
  CHECK(std::memcmp(&s1, &s2, sizeof(double)) == 0);
  CHECK(std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(float)) == 0);
  double ref = 0;
  for (float v : x) ref += v;
  CHECK(s1 == doctest::Approx(ref).epsilon(1e-12).scale(1.0));
}
