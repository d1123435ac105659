// core/shape.h: an N-D shape is a vector of extents; helpers to count and print them.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace moelab {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
std::string shape_str(const Shape& s);  // "[2,3,4]"
// Normalises a possibly negative dim index against rank; throws naming `op` if out of range.
int normalize_dim(int dim, int rank, const char* op);

}  // namespace moelab
