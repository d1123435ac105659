#include "test_data.h"

#include <unistd.h>

#include <fstream>

#include "core/rng.h"

namespace moelab::testing {

Tensor randn(const Shape& shape, uint64_t seed, float scale) {
  Tensor t = Tensor::empty(shape);
  Rng(seed).fill_normal(t, 0.f, scale);
  return t;
}

IndexTensor randint(const Shape& shape, int32_t n, uint64_t seed) {
  IndexTensor t = IndexTensor::empty(shape);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<int32_t>(rng.randint(n));
  return t;
}

std::vector<float> randvec(int64_t n, uint64_t seed, float lo, float hi) {
  Tensor t = Tensor::empty({n});
  Rng(seed).fill_uniform(t, lo, hi);
  return t.to_vector();
}

TempDir::TempDir(const std::string& name) {
  static int counter = 0;
  path = std::filesystem::temp_directory_path() /
         (name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::filesystem::path TempDir::write(const std::string& relative, const std::string& text) const {
  const std::filesystem::path p = path / relative;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string numbered_lines(const std::string& line, int lines) {
  std::string out;
  for (int i = 0; i < lines; ++i) out += line + " " + std::to_string(i) + "\n";
  return out;
}

}  // namespace moelab::testing
