// core/parallel.h: OpenMP loops that only open a parallel region when the work pays for it.
// Splits are static and contiguous; kernels write disjoint outputs per index, so results do not
// depend on the thread count. Inside an existing parallel region (e.g. per-expert work) runs serially.
#pragma once
#include <algorithm>
#include <cstdint>

#include <omp.h>

namespace moelab {

// Calls fn(begin, end) over [0, n) in at most max_threads chunks of at least `grain` items each.
template <class Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  int64_t chunks = std::min<int64_t>(threads, n / std::max<int64_t>(grain, 1));
  if (chunks <= 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    int64_t t = omp_get_thread_num();
    int64_t c = omp_get_num_threads();
    fn(n * t / c, n * (t + 1) / c);
  }
}

int num_threads();            // threads used by our loops and BLAS
void set_num_threads(int n);  // sets both OpenMP and OpenBLAS

}  // namespace moelab
