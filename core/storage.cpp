#include "core/storage.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace moelab {
namespace {

constexpr size_t kAlign = 64;

// Size classes: four per power of two above 4 KiB, so a reused block wastes at most 25%.
size_t size_class(size_t bytes) {
  if (bytes <= 4096) return (bytes + kAlign - 1) / kAlign * kAlign;
  size_t p = 4096;
  while (p * 2 < bytes) p *= 2;
  size_t step = p / 4;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_blocks;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: Storage may outlive static destructors
  return *c;
}

}  // namespace

Storage::Storage(size_t bytes) : requested_(bytes) {
  bytes_ = size_class(bytes == 0 ? kAlign : bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.live_requested_bytes += requested_;
    // Best fit among cached blocks up to twice the size: a block cached in one class also serves
    // smaller requests, so blocks needed at different moments of a step are shared.
    auto it = c.free_blocks.lower_bound(bytes_);
    while (it != c.free_blocks.end() && it->second.empty() && it->first <= 2 * bytes_) ++it;
    if (it != c.free_blocks.end() && !it->second.empty() && it->first <= 2 * bytes_) {
      bytes_ = it->first;
      ptr_ = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= bytes_;
      c.stats.live_bytes += bytes_;
      c.stats.peak_live_bytes = std::max(c.stats.peak_live_bytes, c.stats.live_bytes);
      return;
    }
    c.stats.live_bytes += bytes_;
    c.stats.peak_live_bytes = std::max(c.stats.peak_live_bytes, c.stats.live_bytes);
    c.stats.os_allocs += 1;
  }
  ptr_ = std::aligned_alloc(kAlign, bytes_);
  if (!ptr_) throw std::bad_alloc();
}

Storage::~Storage() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks[bytes_].push_back(ptr_);
  c.stats.live_bytes -= bytes_;
  c.stats.live_requested_bytes -= requested_;
  c.stats.cached_bytes += bytes_;
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void allocator_reset_peak() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak_live_bytes = c.stats.live_bytes;
}

void allocator_release_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [bytes, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

}  // namespace moelab
