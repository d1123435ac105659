// bench/timing.h: median wall time of a callable, each sample long enough to time reliably.
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace moelab::bench {

// Runs fn once to warm up, picks an inner count so one sample takes >= min_sample_s, then
// returns the median seconds per call over `repeats` samples.
template <class Fn>
double median_seconds(Fn&& fn, int repeats, double min_sample_s = 0.02) {
  using clock = std::chrono::steady_clock;
  fn();
  int inner = 1;
  for (;;) {
    auto t0 = clock::now();
    for (int i = 0; i < inner; ++i) fn();
    double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s >= min_sample_s || inner > (1 << 20)) break;
    inner *= 2;
  }
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = clock::now();
    for (int i = 0; i < inner; ++i) fn();
    samples.push_back(std::chrono::duration<double>(clock::now() - t0).count() / inner);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace moelab::bench
