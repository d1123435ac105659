// tests/test_data.h: seeded random test data, shared by every suite (core-only, so tests/core can use it).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace moelab::testing {

// Seeded N(0, scale^2) tensor.
Tensor randn(const Shape& shape, uint64_t seed, float scale = 1.f);
// Seeded integers in [0, n).
IndexTensor randint(const Shape& shape, int32_t n, uint64_t seed);
// Seeded uniform values in [lo, hi), as a plain vector (kernel tests on raw buffers).
std::vector<float> randvec(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f);

// A fresh folder under the system temp dir (named after `name`, this process and a counter),
// removed with everything in it when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name = "moelab_test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `text` to path/relative (folders created as needed); returns the file's path.
  std::filesystem::path write(const std::string& relative, const std::string& text) const;
};

// `lines` lines "<line> <i>\n": a small corpus for short training runs.
std::string numbered_lines(const std::string& line, int lines);

}  // namespace moelab::testing
