// moelab info (also: moelab --version, and moelab with no command)
#include <cstdio>

#include "core/blas.h"
#include "core/comm/communicator.h"
#include "core/parallel.h"
#include "train/cli/commands.h"

namespace moelab::cli {

void print_info() {
  const BlasInfo& b = blas_info();
  std::printf("moelab %s\n", MOELAB_VERSION);
  std::printf("blas library : %s\n", b.library.c_str());
  std::printf("blas config  : %s\n", b.config.c_str());
  std::printf("blas kernels : %s (OPENBLAS_CORETYPE=%s, %s)\n", b.corename.c_str(),
              b.coretype_env.empty() ? "unset" : b.coretype_env.c_str(),
              b.coretype_origin == "user"  ? "set by the user/machine, respected"
              : b.coretype_origin == "auto" ? "chosen by moelab from cpuid"
                                            : "library default");
  std::printf("cpu isa      : %s\n", b.cpu_isa.c_str());
  std::printf("compiled by  : %s\n", MOELAB_BUILD_FLAGS);
  std::printf("sgemm check  : ok (worst relative error %.2e vs a naive loop)\n", b.selfcheck_max_err);
  std::printf("threads      : %d (OpenMP and OpenBLAS share one libgomp pool)\n", num_threads());
  std::printf("mpi          : %s\n", comm::mpi_library().c_str());
  std::printf("processes    : %d (this is rank %d)\n", comm::world().size(), comm::world().rank());
}

Run add_info(CLI::App& app) {
  app.add_subcommand("info", "Show the BLAS library, kernel set, self-check and threads");
  return [] {
    print_info();
    return 0;
  };
}

}  // namespace moelab::cli
