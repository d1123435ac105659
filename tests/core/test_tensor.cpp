// tests/core/test_tensor.cpp: Tensor / IndexTensor construction, views, clones and the caching allocator.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/storage.h"
#include "core/tensor.h"

using namespace moelab;

namespace {
bool aligned64(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }
}  // namespace

TEST_CASE("tensor: empty/zeros/full/from set shape, numel and values") {
  Tensor e = Tensor::empty({2, 3, 4});
  CHECK(e.defined());
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.dim() == 3);
  CHECK(e.numel() == 24);
  CHECK(e.size(0) == 2);
  CHECK(e.size(-1) == 4);
  CHECK_THROWS_AS(e.size(3), Error);

  Tensor z = Tensor::zeros({5, 7});
  CHECK(z.numel() == 35);
  for (int64_t i = 0; i < z.numel(); ++i) CHECK(z[i] == 0.f);

  Tensor f = Tensor::full({3, 2}, 2.5f);
  for (float v : f.to_vector()) CHECK(v == 2.5f);

  Tensor t = Tensor::from({2, 2}, {1.f, -2.f, 3.5f, 4.f});
  CHECK(t.to_vector() == std::vector<float>{1.f, -2.f, 3.5f, 4.f});
  CHECK(t[2] == 3.5f);
  CHECK_THROWS_AS(Tensor::from({2, 2}, {1.f, 2.f, 3.f}), Error);

  Tensor s = Tensor::from({1}, {7.f});
  CHECK(s.item() == 7.f);
  CHECK_THROWS_AS(t.item(), Error);

  IndexTensor it = IndexTensor::from({3}, {4, -1, 9});
  CHECK(it.to_vector() == std::vector<int32_t>{4, -1, 9});
  IndexTensor iz = IndexTensor::zeros({4});
  for (int32_t v : iz.to_vector()) CHECK(v == 0);
  IndexTensor ifull = IndexTensor::full({2, 2}, 5);
  for (int32_t v : ifull.to_vector()) CHECK(v == 5);

  Tensor undefined;
  CHECK_FALSE(undefined.defined());
}

TEST_CASE("tensor: data() is 64-byte aligned for many sizes") {
  for (int64_t n : {1, 3, 15, 16, 17, 63, 64, 65, 1000, 1023, 4097, 5000, 100003}) {
    Tensor t = Tensor::empty({n});
    CHECK_MESSAGE(aligned64(t.data()), "n=", n);
    IndexTensor it = IndexTensor::empty({n});
    CHECK_MESSAGE(aligned64(it.data()), "n=", n);
  }
  CHECK(aligned64(Tensor::zeros({0, 3}).data()));
}

TEST_CASE("tensor: reshape is a view sharing storage both ways") {
  Tensor a = Tensor::from({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor b = a.reshape({3, 2});
  CHECK(b.shape() == Shape{3, 2});
  CHECK(b.shares_storage(a));
  CHECK(b.data() == a.data());
  b[4] = 42.f;
  CHECK(a[4] == 42.f);
  a[1] = -7.f;
  CHECK(b[1] == -7.f);

  Tensor c = a.reshape({-1});
  CHECK(c.shape() == Shape{6});
  Tensor d = a.reshape({-1, 3, 1});
  CHECK(d.shape() == Shape{2, 3, 1});
  Tensor e = a.reshape({6, -1});
  CHECK(e.shape() == Shape{6, 1});
  CHECK(e[4] == 42.f);

  // reshape of a row slice keeps the slice offset
  Tensor rows = a.slice_rows(1, 2).reshape({3});
  CHECK(rows.to_vector() == std::vector<float>{3.f, 42.f, 5.f});

  CHECK_THROWS_AS(a.reshape({-1, -1}), Error);
  CHECK_THROWS_AS(a.reshape({4, -1}), Error);
  CHECK_THROWS_AS(a.reshape({-2, 3}), Error);
}

TEST_CASE("tensor: bad reshape throws moelab::Error naming both shapes") {
  Tensor a = Tensor::zeros({2, 3});
  bool threw = false;
  try {
    (void)a.reshape({4, 2});
  } catch (const Error& err) {
    threw = true;
    std::string msg = err.what();
    CHECK_MESSAGE(msg.find("[2,3]") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("[4,2]") != std::string::npos, msg);
  }
  CHECK(threw);

  threw = false;
  try {
    (void)a.reshape({4, -1});
  } catch (const Error& err) {
    threw = true;
    std::string msg = err.what();
    CHECK_MESSAGE(msg.find("[2,3]") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("[4,-1]") != std::string::npos, msg);
  }
  CHECK(threw);
}

TEST_CASE("tensor: slice_rows is an offset view") {
  Tensor a = Tensor::empty({4, 3});
  for (int64_t i = 0; i < 12; ++i) a[i] = static_cast<float>(i);
  Tensor s = a.slice_rows(1, 3);
  CHECK(s.shape() == Shape{2, 3});
  CHECK(s.shares_storage(a));
  CHECK(s.data() == a.data() + 3);
  CHECK(s.to_vector() == std::vector<float>{3, 4, 5, 6, 7, 8});
  s[0] = 100.f;
  CHECK(a[3] == 100.f);

  // slice of a slice accumulates offsets
  Tensor ss = s.slice_rows(1, 2);
  CHECK(ss.data() == a.data() + 6);
  CHECK(ss.to_vector() == std::vector<float>{6, 7, 8});

  // 3-D: a row is the product of trailing extents
  Tensor b = Tensor::zeros({3, 2, 5});
  CHECK(b.slice_rows(2, 3).data() == b.data() + 20);
  CHECK(b.slice_rows(2, 3).shape() == Shape{1, 2, 5});

  Tensor empty_slice = a.slice_rows(4, 4);
  CHECK(empty_slice.numel() == 0);
  CHECK(empty_slice.shape() == Shape{0, 3});

  CHECK_THROWS_AS(a.slice_rows(3, 2), Error);
  CHECK_THROWS_AS(a.slice_rows(-1, 2), Error);
  CHECK_THROWS_AS(a.slice_rows(0, 5), Error);
  IndexTensor it = IndexTensor::from({3, 2}, {1, 2, 3, 4, 5, 6});
  CHECK(it.slice_rows(2, 3).to_vector() == std::vector<int32_t>{5, 6});
}

TEST_CASE("tensor: clone is deep, copy_from copies values") {
  Tensor a = Tensor::from({2, 2}, {1, 2, 3, 4});
  Tensor c = a.clone();
  CHECK_FALSE(c.shares_storage(a));
  CHECK(c.data() != a.data());
  CHECK(c.shape() == a.shape());
  CHECK(c.to_vector() == a.to_vector());
  c[0] = 9.f;
  CHECK(a[0] == 1.f);
  a[1] = -5.f;
  CHECK(c[1] == 2.f);

  // clone of a slice copies only the slice
  Tensor s = a.slice_rows(1, 2).clone();
  CHECK(s.shape() == Shape{1, 2});
  CHECK(s.to_vector() == std::vector<float>{3.f, 4.f});

  Tensor d = Tensor::zeros({4});
  d.copy_from(a);
  CHECK(d.to_vector() == std::vector<float>{1.f, -5.f, 3.f, 4.f});
  CHECK_THROWS_AS(d.copy_from(Tensor::zeros({3})), Error);

  // copy shares storage
  Tensor alias = a;
  alias[3] = 11.f;
  CHECK(a[3] == 11.f);
}

TEST_CASE("tensor: zero-size shapes work, negative extents throw") {
  Tensor z = Tensor::zeros({0, 3});
  CHECK(z.defined());
  CHECK(z.numel() == 0);
  CHECK(z.shape() == Shape{0, 3});
  CHECK(z.to_vector().empty());
  Tensor zf = Tensor::full({0, 3}, 1.f);
  CHECK(zf.numel() == 0);
  Tensor zc = z.clone();
  CHECK(zc.numel() == 0);
  CHECK(zc.shape() == Shape{0, 3});
  Tensor zr = z.reshape({3, 0});
  CHECK(zr.shape() == Shape{3, 0});
  Tensor zi = z.reshape({-1, 3});
  CHECK(zi.shape() == Shape{0, 3});
  CHECK(z.slice_rows(0, 0).numel() == 0);
  Tensor zfrom = Tensor::from({0, 3}, {});
  CHECK(zfrom.numel() == 0);
  z.copy_from(zfrom);
  IndexTensor iz = IndexTensor::zeros({0});
  CHECK(iz.numel() == 0);

  CHECK_THROWS_AS(Tensor::empty({-1, 3}), Error);
  CHECK_THROWS_AS(Tensor::zeros({2, -3}), Error);
  CHECK_THROWS_AS(IndexTensor::empty({-2}), Error);
  CHECK_THROWS_AS(Tensor::zeros({2, 3}).reshape({-3, -2}), Error);
}

TEST_CASE("storage: freed blocks are reused without new system allocations") {
  for (int64_t n : {1, 100, 1000, 3000, 12345, 1 << 18}) {
    {
      Tensor warm = Tensor::empty({n});  // make sure one block of this class is cached
    }
    const AllocatorStats before = allocator_stats();
    CHECK(before.cached_bytes > 0);
    for (int rep = 0; rep < 5; ++rep) {
      Tensor t = Tensor::empty({n});
      CHECK(aligned64(t.data()));
    }
    const AllocatorStats after = allocator_stats();
    CHECK_MESSAGE(after.os_allocs == before.os_allocs, "n=", n);
    CHECK(after.live_bytes == before.live_bytes);
  }

  // The same block comes back, and live/cached bytes move by the block size.
  const AllocatorStats s0 = allocator_stats();
  Tensor a = Tensor::empty({5000});
  const AllocatorStats s1 = allocator_stats();
  CHECK(s1.live_bytes >= s0.live_bytes + 5000 * sizeof(float));
  float* p = a.data();
  a = Tensor();
  const AllocatorStats s2 = allocator_stats();
  CHECK(s2.live_bytes == s0.live_bytes);
  Tensor b = Tensor::empty({5000});
  CHECK(b.data() == p);
  CHECK(allocator_stats().os_allocs == s2.os_allocs);

  // Two live tensors of the same size need two distinct blocks.
  Tensor c = Tensor::empty({5000});
  CHECK(c.data() != b.data());
}

TEST_CASE("storage: release_cache empties the cache") {
  { Tensor t = Tensor::empty({777}); }
  CHECK(allocator_stats().cached_bytes > 0);
  allocator_release_cache();
  CHECK(allocator_stats().cached_bytes == 0);
  const size_t os0 = allocator_stats().os_allocs;
  Tensor t = Tensor::empty({777});
  CHECK(allocator_stats().os_allocs == os0 + 1);
}
