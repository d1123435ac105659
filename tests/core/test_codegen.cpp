// The compiler flags the library is built with must not miscompile a known pattern: GCC 12.2 with
// -march=native on AVX-512 CPUs turned the constant {6, 6, 0, 0} into {6, 6, 6, 6} (found by an MoE
// test; cmake/CheckNativeCodegen.cmake picks safe flags). Tests inherit the library's public flags.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace {
__attribute__((noinline)) std::vector<int64_t> counts() { return {6, 6, 0, 0}; }
}  // namespace

TEST_CASE("codegen: constant vectors with zero tails survive the build's architecture flags") {
  const std::vector<int64_t> v = counts();
  CHECK(v[0] == 6);
  CHECK(v[1] == 6);
  CHECK(v[2] == 0);
  CHECK(v[3] == 0);
  const std::vector<int64_t> w = {0, 0, 8, 0};
  CHECK(w[2] == 8);
  CHECK(w[3] == 0);
}
