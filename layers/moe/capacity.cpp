#include "layers/moe/capacity.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace moelab::nn {

namespace {

using u128 = unsigned __int128;

// factor = digits * 10^exponent, from the shortest decimal that reads back as the same double.
struct Decimal {
  u128 digits = 0;
  int exponent = 0;
  bool ok = true;
};

Decimal shortest_decimal(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // e.g. "1.1", "1e-05", "2.5e+20", "123"
  Decimal d;
  const char* p = buf;
  bool fraction = false;
  for (; p < r.ptr && *p != 'e'; ++p) {
    if (*p == '.') {
      fraction = true;
      continue;
    }
    d.ok = d.ok && !__builtin_mul_overflow(d.digits, u128{10}, &d.digits) &&
           !__builtin_add_overflow(d.digits, static_cast<u128>(*p - '0'), &d.digits);
    if (fraction) --d.exponent;
  }
  if (p < r.ptr) {  // 'e'
    int e = 0;
    std::from_chars(p + 1 + (p[1] == '+'), r.ptr, e);
    d.exponent += e;
  }
  return d;
}

bool times_pow10(u128& x, int n) {
  for (int i = 0; i < n; ++i)
    if (__builtin_mul_overflow(x, u128{10}, &x)) return false;
  return true;
}

int64_t scaled(double factor, int64_t count, int64_t divisor, int64_t limit, bool round_up) {
  if (factor <= 0 || count <= 0) return 0;
  const long double estimate = static_cast<long double>(factor) * count / divisor;
  if (estimate >= static_cast<long double>(limit) + 1) return limit;
  if (estimate < 1e-3L) return round_up ? 1 : 0;  // 0 < value < 1
  Decimal d = shortest_decimal(factor);
  u128 num = d.digits, den = static_cast<u128>(divisor);
  bool ok = d.ok && !__builtin_mul_overflow(num, static_cast<u128>(count), &num);
  ok = ok && (d.exponent >= 0 ? times_pow10(num, d.exponent) : times_pow10(den, -d.exponent));
  if (!ok) {  // beyond 128 bits: cannot happen for factors a config can hold below `limit`; stay safe
    const long double r = round_up ? std::ceil(estimate) : std::floor(estimate);
    return static_cast<int64_t>(std::min<long double>(r, static_cast<long double>(limit)));
  }
  const u128 q = num / den + (round_up && num % den != 0 ? 1 : 0);
  return q >= static_cast<u128>(limit) ? limit : static_cast<int64_t>(q);
}

}  // namespace

int64_t scaled_floor(double factor, int64_t count, int64_t divisor, int64_t limit) {
  return scaled(factor, count, divisor, limit, false);
}

int64_t scaled_ceil(double factor, int64_t count, int64_t divisor, int64_t limit) {
  return scaled(factor, count, divisor, limit, true);
}

int64_t expert_capacity(double factor, int64_t tokens, int64_t k, int64_t experts, bool times_k) {
  if (factor <= 0) return -1;
  const int64_t most = std::max<int64_t>(1, tokens * k);  // an expert cannot receive more assignments
  if (times_k) return scaled_ceil(factor, tokens * k, experts, most);
  return std::max<int64_t>(1, scaled_floor(factor, tokens, experts, most));
}

}  // namespace moelab::nn
