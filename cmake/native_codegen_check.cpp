// Configure-time probe (cmake/CheckNativeCodegen.cmake). GCC 12.2 (Debian 12) with AVX-512 enabled by
// -march=native materialises the constant {6, 6, 0, 0} as a broadcast of 6 (its SLP vectoriser path),
// so this returns 1. Exit 0 means the flags compile it correctly.
#include <cstdint>
#include <vector>

__attribute__((noinline)) int64_t sum_tail(const std::vector<int64_t>& v) { return v[2] + v[3]; }

int main() {
  const std::vector<int64_t> v = {6, 6, 0, 0};
  return sum_tail(v) == 0 ? 0 : 1;
}
