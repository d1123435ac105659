#include "train/cli/process.h"

#include "core/parallel.h"
#include "train/memory.h"

namespace moelab::cli {

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }
}  // namespace

void set_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

void tune_malloc_for_training() { train::use_fixed_mmap_threshold(); }

const volatile std::sig_atomic_t* catch_stop_signals() {
  g_stop_signal = 0;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  return &g_stop_signal;
}

}  // namespace moelab::cli
