// train/cli/process.h: everything that changes the whole process, in one place. Library functions
// never do these; the program's commands call them before they start work.
#pragma once
#include <csignal>

namespace moelab::cli {

// Threads for OpenMP loops and BLAS (0: leave OMP_NUM_THREADS / all cores).
void set_threads(int threads);
// malloc tuned for training (train/memory.h: use_fixed_mmap_threshold).
void tune_malloc_for_training();
// From now on SIGINT and SIGTERM set the returned flag (to the signal number) instead of killing
// the process: training polls it between steps, saves a checkpoint and returns.
const volatile std::sig_atomic_t* catch_stop_signals();

}  // namespace moelab::cli
