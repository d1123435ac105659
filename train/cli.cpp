// moelab: the command-line entry point.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "bench/kernels_bench.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/parallel.h"

namespace {

void print_info() {
  const moelab::BlasInfo& b = moelab::blas_info();
  std::printf("moelab %s\n", MOELAB_VERSION);
  std::printf("blas library : %s\n", b.library.c_str());
  std::printf("blas config  : %s\n", b.config.c_str());
  std::printf("blas kernels : %s (OPENBLAS_CORETYPE=%s, %s)\n", b.corename.c_str(),
              b.coretype_env.empty() ? "unset" : b.coretype_env.c_str(),
              b.coretype_origin == "user"  ? "set by the user/machine, respected"
              : b.coretype_origin == "auto" ? "chosen by moelab from cpuid"
                                            : "library default");
  std::printf("cpu isa      : %s\n", b.cpu_isa.c_str());
  std::printf("sgemm check  : ok (worst relative error %.2e vs a naive loop)\n", b.selfcheck_max_err);
  std::printf("threads      : %d (OpenMP and OpenBLAS share one libgomp pool)\n", moelab::num_threads());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moelab: train and study Mixture-of-Experts language models on CPU"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print version, BLAS library, kernels and threads");
  int threads = 0;
  app.add_option("--threads", threads, "Threads for OpenMP loops and BLAS (default: OMP_NUM_THREADS or all cores)")
      ->check(CLI::PositiveNumber);

  CLI::App* info = app.add_subcommand("info", "Show the BLAS library, kernel set, self-check and threads");
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  CLI::App* bench_kernels = bench->add_subcommand("kernels", "GFLOP/s of matmul vs raw sgemm; GB/s of elementwise, "
                                                             "softmax, layernorm vs memcpy; at 1 and 2 threads");
  moelab::bench::KernelBenchOptions kb;
  bench_kernels->add_option("--repeats", kb.repeats, "Timed repetitions per case (median reported)")
      ->check(CLI::PositiveNumber);
  bench_kernels->add_option("--threads-list", kb.thread_counts, "Thread counts to run (default: 1 2)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (threads > 0) moelab::set_num_threads(threads);
    if (version || *info || app.get_subcommands().empty()) {
      print_info();
      if (app.get_subcommands().empty() && !version) std::printf("\n%s", app.help().c_str());
      return 0;
    }
    if (*bench_kernels) return moelab::bench::run_kernel_bench(kb, std::cout);
  } catch (const moelab::Error& e) {
    std::fprintf(stderr, "moelab: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
