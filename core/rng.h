// core/rng.h: a counter-based RNG. Value i of a stream is a pure function of (seed, stream, i),
// so fills are reproducible whatever the thread count and however the work is split.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace moelab {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}

  void fill_uniform(const Tensor& t, float lo = 0.f, float hi = 1.f);
  void fill_normal(const Tensor& t, float mean = 0.f, float stddev = 1.f);
  float uniform();                       // [0, 1)
  float normal();                        // N(0, 1)
  uint64_t next_u64();                   // raw 64 bits
  int64_t randint(int64_t n);            // [0, n)

  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t counter() const { return counter_; }  // position, for checkpoint/resume
  void set_counter(uint64_t c) { counter_ = c; }

  static uint64_t hash(uint64_t seed, uint64_t stream, uint64_t counter);

 private:
  uint64_t seed_, stream_, counter_ = 0;
};

}  // namespace moelab
