// train/io/mapped_file.h: a whole regular file mapped read-only (POSIX mmap), for token shards far
// larger than memory. Pages are read on first touch; release() drops a range's pages from this
// process's resident set again (they stay in the page cache), so what a process holds resident is
// what it read recently, not the file's size.
#pragma once
#include <cstdint>
#include <string>

namespace moelab::train {

class MappedFile {
 public:
  // Maps `path` (a regular file; symlinks followed). Errors name `what` and the path.
  MappedFile(const std::string& path, const std::string& what);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Unmaps the pages overlapping [offset, offset + bytes) from this process (re-read on next touch).
  void release(uint64_t offset, uint64_t bytes) const;

 private:
  std::string path_;
  const unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace moelab::train
