// core/storage.h: 64-byte aligned buffers from a caching allocator.
// Why cache: training allocates the same activation/gradient sizes every step; handing them back
// to the kernel (glibc frees large blocks with munmap) makes the next step page-fault them in again,
// which costs ~2.5 us per 4 KiB page on this VM (docs/performance.md, trap 3).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace moelab {

class Storage {
 public:
  explicit Storage(size_t bytes);  // uninitialised, 64-byte aligned
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_;
  size_t bytes_;      // the block's size (its cache class; may exceed the request)
  size_t requested_;  // what was asked for
};

struct AllocatorStats {
  size_t live_bytes = 0;    // handed out and not yet returned (block sizes)
  size_t live_requested_bytes = 0;  // the same blocks, counted at the sizes asked for
  size_t cached_bytes = 0;  // returned and kept for reuse
  size_t os_allocs = 0;     // calls that reached the system allocator
  size_t peak_live_bytes = 0;  // the most live_bytes has been since start or the last reset
};
AllocatorStats allocator_stats();
void allocator_reset_peak();  // peak_live_bytes = live_bytes
void allocator_release_cache();  // give cached blocks back to the system

}  // namespace moelab
