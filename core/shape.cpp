#include "core/shape.h"

#include "core/error.h"

namespace moelab {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int normalize_dim(int dim, int rank, const char* op) {
  int d = dim < 0 ? dim + rank : dim;
  MOELAB_CHECK(d >= 0 && d < rank, op, ": dim ", dim, " out of range for rank ", rank);
  return d;
}

}  // namespace moelab
