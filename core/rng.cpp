#include "core/rng.h"

#include <cmath>

#include "core/parallel.h"

namespace moelab {
namespace {

inline uint64_t splitmix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// 24 random bits -> float in [0, 1); (bits + 0.5) keeps it in (0, 1) for log().
inline float unit_open(uint32_t bits24) { return (static_cast<float>(bits24) + 0.5f) * (1.0f / 16777216.0f); }
inline float unit(uint32_t bits24) { return static_cast<float>(bits24) * (1.0f / 16777216.0f); }

inline float normal_from(uint64_t h) {
  float u1 = unit_open(static_cast<uint32_t>(h >> 40));
  float u2 = unit(static_cast<uint32_t>(h >> 8) & 0xFFFFFF);
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
}

}  // namespace

uint64_t Rng::hash(uint64_t seed, uint64_t stream, uint64_t counter) {
  return splitmix(splitmix(seed ^ splitmix(stream + 0x632be59bd9b4e019ULL)) + counter);
}

uint64_t Rng::next_u64() { return hash(seed_, stream_, counter_++); }
float Rng::uniform() { return unit(static_cast<uint32_t>(next_u64() >> 40)); }
float Rng::normal() { return normal_from(next_u64()); }
int64_t Rng::randint(int64_t n) {
  MOELAB_CHECK(n > 0, "randint: n must be positive, got ", n);
  return static_cast<int64_t>(next_u64() % static_cast<uint64_t>(n));
}

void Rng::fill_uniform(const Tensor& t, float lo, float hi) {
  float* p = t.data();
  const uint64_t base = counter_;
  const uint64_t seed = seed_, stream = stream_;
  parallel_for(t.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float v = lo + (hi - lo) * unit(static_cast<uint32_t>(hash(seed, stream, base + i) >> 40));
      p[i] = v < hi ? v : std::nextafter(hi, lo);  // rounding may reach hi; keep [lo, hi)
    }
  });
  counter_ += t.numel();
}

void Rng::fill_normal(const Tensor& t, float mean, float stddev) {
  float* p = t.data();
  const uint64_t base = counter_;
  const uint64_t seed = seed_, stream = stream_;
  parallel_for(t.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = mean + stddev * normal_from(hash(seed, stream, base + i));
  });
  counter_ += t.numel();
}

}  // namespace moelab
