// bench/kernels_bench.h: `moelab bench kernels`, op throughput against raw BLAS and memcpy.
#pragma once
#include <ostream>
#include <vector>

namespace moelab::bench {

struct KernelBenchOptions {
  int repeats = 7;
  std::vector<int> thread_counts = {1, 2};
};

int run_kernel_bench(const KernelBenchOptions& opts, std::ostream& out);

}  // namespace moelab::bench
