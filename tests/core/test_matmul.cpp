// tests/core/test_matmul.cpp: kernels::matmul (through OpenBLAS) and the bias helpers against naive loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/kernels/matmul.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test_data.h"

using namespace moelab;
using moelab::kernels::matmul;

using moelab::testing::randvec;

namespace {


// Checks C (stored [m,n] with row stride n) against the double reference of op(A) op(B) + beta * C0,
// with tolerance 1e-5 * sqrt(k) * sum_p |a||b| (+ |beta C0| term).
void check_one(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, const float* c0,
               const float* c, float beta) {
  int bad = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double ref = 0, mag = 0;
      for (int64_t p = 0; p < k; ++p) {
        double av = ta == Trans::Yes ? a[p * m + i] : a[i * k + p];
        double bv = tb == Trans::Yes ? b[j * k + p] : b[p * n + j];
        ref += av * bv;
        mag += std::abs(av * bv);
      }
      if (beta != 0.f) {
        ref += double(beta) * c0[i * n + j];
        mag += std::abs(double(beta) * c0[i * n + j]);
      }
      const double tol = 1e-5 * std::sqrt(double(std::max<int64_t>(k, 1))) * mag + 1e-7;
      const double err = std::abs(double(c[i * n + j]) - ref);
      if (!(err <= tol) && bad++ < 3) {
        FAIL_CHECK("ta=", int(ta), " tb=", int(tb), " m=", m, " n=", n, " k=", k, " beta=", beta, " at (", i, ",",
                   j, "): got ", c[i * n + j], " want ", ref, " tol ", tol);
      }
    }
  CHECK_MESSAGE(bad == 0, "ta=", int(ta), " tb=", int(tb), " m=", m, " n=", n, " k=", k, " beta=", beta);
}

const Trans kTrans[] = {Trans::No, Trans::Yes};
const int64_t kSizes[] = {1, 3, 17, 129};

}  // namespace

TEST_CASE("matmul: every transpose combination and every size of m, n, k vs naive") {
  uint64_t seed = 1;
  int problems = 0;
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (int64_t m : kSizes)
        for (int64_t n : kSizes)
          for (int64_t k : kSizes) {
            auto a = randvec(m * k, seed++), b = randvec(k * n, seed++);
            std::vector<float> c(m * n, std::numeric_limits<float>::quiet_NaN());  // beta = 0 must ignore C
            matmul(ta, tb, 1, m, n, k, a.data(), 0, b.data(), 0, c.data(), 0, 0.f);
            check_one(ta, tb, m, n, k, a.data(), b.data(), nullptr, c.data(), 0.f);
            ++problems;
          }
  CHECK(problems == 256);
}

TEST_CASE("matmul: a known small product") {
  // A [2,3], B [3,2]
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9, 10, 11, 12}, c(4, -1.f);
  matmul(Trans::No, Trans::No, 1, 2, 2, 3, a.data(), 0, b.data(), 0, c.data(), 0, 0.f);
  CHECK(c == std::vector<float>{58, 64, 139, 154});
  // A^T stored [3,2] = a read as [3,2]: A^T A-style product op(A) = [2,3]
  std::vector<float> at = {1, 4, 2, 5, 3, 6};  // [3,2], transpose of a
  std::vector<float> bt = {7, 9, 11, 8, 10, 12};  // [2,3], transpose of b
  std::vector<float> c2(4, -1.f);
  matmul(Trans::Yes, Trans::Yes, 1, 2, 2, 3, at.data(), 0, bt.data(), 0, c2.data(), 0, 0.f);
  CHECK(c2 == std::vector<float>{58, 64, 139, 154});
}

TEST_CASE("matmul: beta = 1 accumulates into a non-zero C") {
  uint64_t seed = 1000;
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (int64_t s : kSizes) {
        const int64_t m = s, n = (s * 7) % 131 + 1, k = 129 / s + 2;  // mix the sizes across dims
        auto a = randvec(m * k, seed++), b = randvec(k * n, seed++), c0 = randvec(m * n, seed++, 5.f, 10.f);
        auto c = c0;
        matmul(ta, tb, 1, m, n, k, a.data(), 0, b.data(), 0, c.data(), 0, 1.f);
        check_one(ta, tb, m, n, k, a.data(), b.data(), c0.data(), c.data(), 1.f);
        // and an arbitrary beta
        auto c2 = c0;
        matmul(ta, tb, 1, m, n, k, a.data(), 0, b.data(), 0, c2.data(), 0, -0.5f);
        check_one(ta, tb, m, n, k, a.data(), b.data(), c0.data(), c2.data(), -0.5f);
      }
}

TEST_CASE("matmul: batched with strides (padded, and stride 0 for a shared operand)") {
  uint64_t seed = 2000;
  const int64_t batch = 3;
  struct Dims { int64_t m, n, k; };
  // small problems go through the per-thread path, the big one through the serial path with threaded BLAS
  for (Dims d : {Dims{3, 17, 5}, Dims{17, 3, 129}, Dims{129, 17, 3}, Dims{170, 170, 170}})
    for (Trans ta : kTrans)
      for (Trans tb : kTrans)
        for (float beta : {0.f, 1.f}) {
          const int64_t m = d.m, n = d.n, k = d.k;
          const bool big = m * n * k >= (int64_t{1} << 22);
          if (big && beta == 0.f) continue;  // keep the naive reference cheap
          const int64_t sa = m * k + 7, sb = k * n + 3, sc = m * n + 5;
          auto a = randvec(batch * sa, seed++), b = randvec(batch * sb, seed++);
          auto c0 = randvec(batch * sc, seed++, -3.f, 3.f);
          auto c = c0;
          matmul(ta, tb, batch, m, n, k, a.data(), sa, b.data(), sb, c.data(), sc, beta);
          for (int64_t i = 0; i < batch; ++i)
            check_one(ta, tb, m, n, k, a.data() + i * sa, b.data() + i * sb, c0.data() + i * sc,
                      c.data() + i * sc, beta);
          // the padding between problems is untouched
          for (int64_t i = 0; i < batch; ++i)
            for (int64_t p = m * n; p < sc && i * sc + p < int64_t(c.size()); ++p)
              REQUIRE(c[i * sc + p] == c0[i * sc + p]);

          // stride 0 on B: every problem uses B[0]
          if (big) continue;
          auto cs = c0;
          matmul(ta, tb, batch, m, n, k, a.data(), sa, b.data(), 0, cs.data(), sc, beta);
          for (int64_t i = 0; i < batch; ++i)
            check_one(ta, tb, m, n, k, a.data() + i * sa, b.data(), c0.data() + i * sc, cs.data() + i * sc, beta);
        }
}

TEST_CASE("matmul: k = 0 gives C = beta * C") {
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) {
      const int64_t m = 3, n = 5;
      std::vector<float> a(1, 1.f), b(1, 1.f);
      auto c0 = randvec(2 * m * n, 77, 1.f, 2.f);
      auto c = c0;
      matmul(ta, tb, 2, m, n, 0, a.data(), 0, b.data(), 0, c.data(), m * n, 1.f);
      CHECK(c == c0);
      c = c0;
      matmul(ta, tb, 2, m, n, 0, a.data(), 0, b.data(), 0, c.data(), m * n, 0.5f);
      for (size_t i = 0; i < c.size(); ++i) CHECK(c[i] == 0.5f * c0[i]);
      std::vector<float> cn(2 * m * n, std::numeric_limits<float>::quiet_NaN());
      matmul(ta, tb, 2, m, n, 0, a.data(), 0, b.data(), 0, cn.data(), m * n, 0.f);
      for (float v : cn) CHECK(v == 0.f);
    }
}

TEST_CASE("matmul: m = 0 or n = 0 does nothing and does not crash") {
  std::vector<float> a(64, 1.f), b(64, 1.f), c(64, 3.f);
  for (Trans ta : kTrans)
    for (Trans tb : kTrans) {
      matmul(ta, tb, 1, 0, 4, 4, a.data(), 0, b.data(), 0, c.data(), 0, 0.f);
      matmul(ta, tb, 1, 4, 0, 4, a.data(), 0, b.data(), 0, c.data(), 0, 0.f);
      matmul(ta, tb, 3, 0, 0, 4, a.data(), 0, b.data(), 0, c.data(), 0, 1.f);
      matmul(ta, tb, 0, 4, 4, 4, a.data(), 0, b.data(), 0, c.data(), 0, 0.f);  // batch 0
    }
  for (float v : c) CHECK(v == 3.f);
}

TEST_CASE("add_bias_rows and sum_rows_into vs naive") {
  uint64_t seed = 3000;
  for (int64_t rows : {1, 3, 17, 1000})
    for (int64_t n : {1, 3, 17, 129}) {
      auto y0 = randvec(rows * n, seed++), bias = randvec(n, seed++);
      auto y = y0;
      kernels::add_bias_rows(y.data(), bias.data(), rows, n);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n; ++j) REQUIRE(y[r * n + j] == y0[r * n + j] + bias[j]);

      auto d0 = randvec(n, seed++, 10.f, 20.f);  // pre-filled: sum_rows_into accumulates
      auto d = d0;
      kernels::sum_rows_into(d.data(), y0.data(), rows, n);
      for (int64_t j = 0; j < n; ++j) {
        double ref = d0[j], mag = std::abs(d0[j]);
        for (int64_t r = 0; r < rows; ++r) {
          ref += y0[r * n + j];
          mag += std::abs(y0[r * n + j]);
        }
        CHECK_MESSAGE(std::abs(d[j] - ref) <= 1e-6 * rows * mag + 1e-6, "rows=", rows, " n=", n, " j=", j,
                      " got ", d[j], " want ", ref);
      }
    }
  // exact small example
  std::vector<float> y = {1, 2, 3, 4, 5, 6}, bias = {10, 20, 30}, db = {1, 1, 1};
  kernels::sum_rows_into(db.data(), y.data(), 2, 3);
  CHECK(db == std::vector<float>{6, 8, 10});
  kernels::add_bias_rows(y.data(), bias.data(), 2, 3);
  CHECK(y == std::vector<float>{11, 22, 33, 14, 25, 36});
}
