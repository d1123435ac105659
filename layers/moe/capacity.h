// layers/moe/capacity.h: how many assignments an expert keeps, computed exactly.
// A capacity factor such as 1.1 is not a binary fraction: in floating point ceil(60 * 3 * 1.1 / 6)
// is ceil(33.000000000000004) = 34, while the capacity the user asked for is 33. Here the factor is
// taken as the decimal it was written as (the shortest decimal that reads back as the same double:
// 1.1 -> 11/10) and the product is rounded in exact integer arithmetic.
#pragma once
#include <cstdint>

namespace moelab::nn {

// floor or ceil of factor * count / divisor for factor >= 0 (finite), count >= 0, divisor >= 1,
// exact as described above; results above `limit` are `limit` (a factor of 1e300 does not wrap).
int64_t scaled_floor(double factor, int64_t count, int64_t divisor, int64_t limit);
int64_t scaled_ceil(double factor, int64_t count, int64_t divisor, int64_t limit);

// The capacity of one expert for `tokens` tokens, top-k routing over `experts` experts:
//   google:  max(1, floor(tokens * factor / experts))      (mesh-tensorflow, Switch)
//   times_k: ceil(tokens * k * factor / experts)            (DeepSpeed, Megatron)
// -1 (dropless) when factor <= 0. Never above tokens * k (more cannot arrive).
int64_t expert_capacity(double factor, int64_t tokens, int64_t k, int64_t experts, bool times_k);

}  // namespace moelab::nn
