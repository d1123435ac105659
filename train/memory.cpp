#include "train/memory.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "core/storage.h"

namespace moelab::train {

ProcessMemory process_memory() {
  ProcessMemory m;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2)
      m.rss_bytes = resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  struct rusage ru;
  if (::getrusage(RUSAGE_SELF, &ru) == 0) m.peak_rss_bytes = static_cast<size_t>(ru.ru_maxrss) * 1024;
  return m;
}

std::string describe(const MemoryBudget& b, const ProcessMemory& m) {
  const double mb = 1.0 / (1024.0 * 1024.0);
  const AllocatorStats a = allocator_stats();
  const struct mallinfo2 mi = ::mallinfo2();
  char line[512];
  std::snprintf(line, sizeof line,
                "memory: peak RSS %.1f MB = %.2fx needed %.1f MB (params %.1f, grads %.1f, optimizer %.1f, "
                "activations %.1f); %.2fx after the process baseline of %.1f MB; tensors: peak %.1f MB live, %.1f MB cached "
                "for reuse; malloc: %.1f MB in use, %.1f MB free in its arenas",
                m.peak_rss_bytes * mb, static_cast<double>(m.peak_rss_bytes) / static_cast<double>(b.needed()),
                b.needed() * mb, b.params_bytes * mb, b.grads_bytes * mb, b.optimizer_bytes * mb,
                b.activations_bytes * mb,
                static_cast<double>(m.peak_rss_bytes - b.baseline_rss_bytes) / static_cast<double>(b.needed()),
                b.baseline_rss_bytes * mb, a.peak_live_bytes * mb, a.cached_bytes * mb, (mi.uordblks + mi.hblkhd) * mb, mi.fordblks * mb);
  return line;
}

void use_fixed_mmap_threshold() { ::mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024); }

}  // namespace moelab::train
