#include "train/io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace moelab::train {

std::string describe_file_type(unsigned mode) {
  if (S_ISDIR(mode)) return "a folder, not a file";
  if (S_ISCHR(mode)) return "a character device, not a regular file";
  if (S_ISBLK(mode)) return "a block device, not a regular file";
  if (S_ISFIFO(mode)) return "a FIFO, not a regular file (reading it could block forever)";
  if (S_ISSOCK(mode)) return "a socket, not a regular file";
  return "not a regular file";
}

namespace {

// Opens a regular file for reading without blocking on a FIFO that appeared after the check.
int open_regular(const std::string& path, const std::string& what, struct stat& st) {
  MOELAB_CHECK(::stat(path.c_str(), &st) == 0, what, ": cannot open ", path, ": ", std::strerror(errno));
  MOELAB_CHECK(S_ISREG(st.st_mode), what, ": ", path, " is ", describe_file_type(st.st_mode));
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MOELAB_CHECK(fd >= 0, what, ": cannot open ", path, ": ", std::strerror(errno));
  struct stat again;
  if (::fstat(fd, &again) != 0 || !S_ISREG(again.st_mode)) {
    ::close(fd);
    throw Error(what + ": " + path + " changed while it was opened (no longer a regular file)");
  }
  st = again;
  return fd;
}
}  // namespace

uint64_t regular_file_size(const std::string& path, const std::string& what) {
  struct stat st;
  MOELAB_CHECK(::stat(path.c_str(), &st) == 0, what, ": cannot open ", path, ": ", std::strerror(errno));
  MOELAB_CHECK(S_ISREG(st.st_mode), what, ": ", path, " is ", describe_file_type(st.st_mode));
  return static_cast<uint64_t>(st.st_size);
}

std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  struct stat st;
  const int fd = open_regular(path, what, st);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    throw Error(what + ": " + path + " is " + human_bytes(static_cast<double>(size)) + ", more than the " +
                human_bytes(static_cast<double>(max_bytes)) + " moelab reads for it");
  }
  std::string bytes(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t r = ::read(fd, bytes.data() + done, size - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      const int err = errno;
      ::close(fd);
      throw Error(what + ": cannot read " + path + ": " + (r == 0 ? "it shrank while being read" : std::strerror(err)));
    }
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  return bytes;
}

double machine_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1000 && u < 5) bytes /= 1000, ++u;
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : bytes < 1e6 ? "%.1f %s" : "%.3g %s", bytes, units[u]);
  return buf;
}

}  // namespace moelab::train
