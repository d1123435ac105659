// tests/core/test_rng.cpp: the counter-based RNG is reproducible, thread-count independent and well distributed.
#include <doctest/doctest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

using namespace moelab;

namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

// Restores the OpenMP thread count when a test changes it.
struct ThreadGuard {
  int saved = omp_get_max_threads();
  ~ThreadGuard() { omp_set_num_threads(saved); }
};

}  // namespace

TEST_CASE("rng: same seed and stream give the same sequence") {
  Rng a(42, 3), b(42, 3);
  for (int i = 0; i < 1000; ++i) REQUIRE(a.next_u64() == b.next_u64());
  for (int i = 0; i < 100; ++i) {
    REQUIRE(a.uniform() == b.uniform());
    REQUIRE(a.normal() == b.normal());
    REQUIRE(a.randint(97) == b.randint(97));
  }
  CHECK(a.counter() == b.counter());
  CHECK(a.counter() == 1300);
  CHECK(a.seed() == 42);
  CHECK(a.stream() == 3);

  Tensor ta = Tensor::empty({1000}), tb = Tensor::empty({1000});
  Rng(7).fill_normal(ta);
  Rng(7).fill_normal(tb);
  CHECK(bitwise_equal(ta, tb));
}

TEST_CASE("rng: next_u64 is a pure function of (seed, stream, counter)") {
  Rng r(5, 9);
  r.set_counter(123);
  CHECK(r.next_u64() == Rng::hash(5, 9, 123));
  CHECK(r.counter() == 124);
  const uint64_t v = r.next_u64();
  r.set_counter(124);
  CHECK(r.next_u64() == v);  // resume from a checkpointed counter
}

TEST_CASE("rng: different seeds or streams give different sequences") {
  auto draw = [](uint64_t seed, uint64_t stream) {
    Rng r(seed, stream);
    std::vector<uint64_t> v(64);
    for (auto& x : v) x = r.next_u64();
    return v;
  };
  const auto base = draw(1, 0);
  const auto other_seed = draw(2, 0);
  const auto other_stream = draw(1, 1);
  int same_seed = 0, same_stream = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    same_seed += base[i] == other_seed[i];
    same_stream += base[i] == other_stream[i];
  }
  CHECK(same_seed == 0);
  CHECK(same_stream == 0);
  // (seed, stream) are not interchangeable
  CHECK(draw(1, 2) != draw(2, 1));

  Tensor a = Tensor::empty({4096}), b = Tensor::empty({4096});
  Rng(10, 0).fill_normal(a);
  Rng(10, 1).fill_normal(b);
  int equal = 0;
  for (int64_t i = 0; i < a.numel(); ++i) equal += a[i] == b[i];
  CHECK(equal < 5);
}

TEST_CASE("rng: fill_normal and fill_uniform are bitwise identical for 1 and 2 threads") {
  ThreadGuard guard;
  const int64_t n = int64_t{1} << 20;
  Tensor t1 = Tensor::empty({n}), t2 = Tensor::empty({n});
  Tensor u1 = Tensor::empty({n}), u2 = Tensor::empty({n});
  omp_set_num_threads(1);
  Rng r1(2024, 5);
  r1.fill_normal(t1, 0.5f, 2.f);
  r1.fill_uniform(u1, -3.f, 3.f);
  omp_set_num_threads(2);
  Rng r2(2024, 5);
  r2.fill_normal(t2, 0.5f, 2.f);
  r2.fill_uniform(u2, -3.f, 3.f);
  CHECK(bitwise_equal(t1, t2));
  CHECK(bitwise_equal(u1, u2));
  CHECK(r1.counter() == r2.counter());
  CHECK(r1.counter() == static_cast<uint64_t>(2 * n));
}

TEST_CASE("rng: fill_normal has mean ~0 and std ~1; mean/stddev arguments apply") {
  const int64_t n = int64_t{1} << 20;
  Tensor t = Tensor::empty({n});
  Rng r(99);
  r.fill_normal(t);
  double s = 0, ss = 0;
  int64_t beyond4 = 0;
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE(std::isfinite(t[i]));
    s += t[i];
    ss += double(t[i]) * t[i];
    beyond4 += std::abs(t[i]) > 4.f;
  }
  const double mean = s / n;
  const double stdev = std::sqrt(ss / n - mean * mean);
  CHECK(std::abs(mean) < 0.01);
  CHECK(std::abs(stdev - 1.0) < 0.01);
  // P(|z| > 4) ~ 6.3e-5 -> ~66 of 1M; a broken tail would give 0 or hundreds
  CHECK(beyond4 > 20);
  CHECK(beyond4 < 200);

  Tensor u = Tensor::empty({n});
  Rng(99).fill_normal(u, 3.f, 0.5f);
  // same counters, so each value is an exact affine map of the standard one
  for (int64_t i = 0; i < n; i += 997) CHECK(u[i] == doctest::Approx(3.0 + 0.5 * t[i]).epsilon(1e-6));
}

TEST_CASE("rng: scalar normal() matches fill_normal") {
  Tensor t = Tensor::empty({256});
  Rng(17, 4).fill_normal(t);
  Rng r(17, 4);
  for (int64_t i = 0; i < 256; ++i) CHECK(r.normal() == t[i]);
}

TEST_CASE("rng: fill_uniform stays in [lo, hi) and is spread over it") {
  const int64_t n = int64_t{1} << 20;
  Tensor t = Tensor::empty({n});
  Rng r(3, 1);
  r.fill_uniform(t, -2.f, 3.f);
  float lo = INFINITY, hi = -INFINITY;
  double s = 0;
  int bins[10] = {};
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, t[i]);
    hi = std::max(hi, t[i]);
    s += t[i];
    int b = static_cast<int>((t[i] + 2.f) / 0.5f);
    if (b >= 0 && b < 10) ++bins[b];
  }
  CHECK(lo >= -2.f);
  CHECK(hi < 3.f);
  CHECK(lo < -1.99f);
  CHECK(hi > 2.99f);
  CHECK(s / n == doctest::Approx(0.5).epsilon(0.01));
  for (int b = 0; b < 10; ++b) CHECK(std::abs(bins[b] - n / 10) < n / 100);

  Tensor d = Tensor::empty({n});
  Rng(3, 1).fill_uniform(d);  // default [0, 1)
  float dmin = INFINITY, dmax = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    dmin = std::min(dmin, d[i]);
    dmax = std::max(dmax, d[i]);
  }
  CHECK(dmin >= 0.f);
  CHECK(dmax < 1.f);

  Rng s1(8);
  for (int i = 0; i < 10000; ++i) {
    float v = s1.uniform();
    REQUIRE(v >= 0.f);
    REQUIRE(v < 1.f);
    int64_t k = s1.randint(7);
    REQUIRE(k >= 0);
    REQUIRE(k < 7);
  }
}

// The largest raw draw (top 24 bits all ones) maps to u = 1 - 2^-24. lo + (hi - lo) * u must still be
// below hi; with lo = 1, hi = 2 the exact value 2 - 2^-24 is not a float and rounds (to even) to 2.
TEST_CASE("rng: fill_uniform never returns hi, even for the largest raw draw") {
  // Find a counter whose hash has all top 24 bits set (expected ~2^24 tries, a few tens of ms).
  uint64_t c = 0;
  while ((Rng::hash(0, 0, c) >> 40) != 0xFFFFFFu) ++c;
  REQUIRE((Rng::hash(0, 0, c) >> 40) == 0xFFFFFFu);
  Rng r(0, 0);
  r.set_counter(c);
  CHECK(r.uniform() < 1.f);
  for (auto [lo, hi] : {std::pair{0.f, 1.f}, std::pair{-1.f, 1.f}, std::pair{1.f, 2.f}, std::pair{10.f, 11.f},
                        std::pair{-0.1f, 0.1f}}) {
    Tensor t = Tensor::empty({1});
    r.set_counter(c);
    r.fill_uniform(t, lo, hi);
    CHECK_MESSAGE(t[0] >= lo, "lo=", lo, " hi=", hi);
    CHECK_MESSAGE(t[0] < hi, "lo=", lo, " hi=", hi, " got ", t[0]);
  }
}

TEST_CASE("rng: fills advance the counter by numel; two fills == one fill of the sum (bitwise)") {
  const int64_t n = 70000, m = 50001;  // both above the parallel grain
  for (int kind = 0; kind < 2; ++kind) {
    Tensor whole = Tensor::empty({n + m});
    Rng a(11, 2);
    a.set_counter(5);
    if (kind == 0) a.fill_normal(whole, 1.f, 2.f);
    else a.fill_uniform(whole, -1.f, 4.f);
    CHECK(a.counter() == static_cast<uint64_t>(5 + n + m));

    Tensor parts = Tensor::empty({n + m});
    Tensor first = parts.reshape({n + m, 1}).slice_rows(0, n);
    Tensor second = parts.reshape({n + m, 1}).slice_rows(n, n + m);
    Rng b(11, 2);
    b.set_counter(5);
    if (kind == 0) {
      b.fill_normal(first, 1.f, 2.f);
      CHECK(b.counter() == static_cast<uint64_t>(5 + n));
      b.fill_normal(second, 1.f, 2.f);
    } else {
      b.fill_uniform(first, -1.f, 4.f);
      CHECK(b.counter() == static_cast<uint64_t>(5 + n));
      b.fill_uniform(second, -1.f, 4.f);
    }
    CHECK(b.counter() == a.counter());
    CHECK(bitwise_equal(whole, parts));
    // and a scalar draw continues right after
    CHECK(a.next_u64() == b.next_u64());
  }
}
