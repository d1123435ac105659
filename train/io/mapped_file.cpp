#include "train/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "train/io/files.h"

namespace moelab::train {

MappedFile::MappedFile(const std::string& path, const std::string& what) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MOELAB_CHECK(fd >= 0, what, ": cannot open ", path, ": ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    throw Error(what + ": " + path + " is " + (err ? std::string(std::strerror(err)) : describe_file_type(st.st_mode)));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file
    MOELAB_CHECK(p != MAP_FAILED, what, ": cannot map ", path, ": ", std::strerror(err));
    data_ = static_cast<const unsigned char*>(p);
    // windows are read at random offsets: read-ahead would only fill memory with pages never used
    ::madvise(p, size_, MADV_RANDOM);
  } else {
    ::close(fd);
  }
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
}

void MappedFile::release(uint64_t offset, uint64_t bytes) const {
  if (!data_ || bytes == 0 || offset >= size_) return;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = offset / page * page, end = std::min(size_, offset + bytes);
  // a private read-only mapping never holds changed pages: dropping them loses nothing
  ::madvise(const_cast<unsigned char*>(data_) + begin, end - begin, MADV_DONTNEED);
}

}  // namespace moelab::train
