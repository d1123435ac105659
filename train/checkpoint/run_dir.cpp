#include "train/checkpoint/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "train/io/atomic_file.h"
#include "train/io/files.h"

namespace moelab::train {
namespace fs = std::filesystem;

RunLock::RunLock(const std::string& out_dir) {
  const std::string path = out_dir + "/.lock";
  // never through a link or into a device: the pid is written into this file
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  MOELAB_CHECK(fd_ >= 0, "train.out_dir: cannot create ", path, ": ", std::strerror(errno),
               errno == ELOOP ? " (it is a symbolic link; moelab will not write through it)" : "");
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw Error("train.out_dir: " + path + " is not a regular file; move it away");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    throw Error("train.out_dir: " + out_dir + " is in use by another moelab process" +
                (n > 0 ? " (pid " + std::string(pid, static_cast<size_t>(n)) + ")" : std::string()) +
                "; give another --out");
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, me.data(), me.size(), 0) < 0) { /* the pid is only a hint */ }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

void drop_metrics_after(const std::string& metrics_path, int64_t step) {
  std::error_code ec;
  if (!std::filesystem::exists(metrics_path, ec)) return;
  std::istringstream in(read_regular_file(metrics_path, "train.out_dir", static_cast<uint64_t>(machine_memory_bytes() / 4)));
  std::ostringstream kept;
  std::string line;
  bool dropped = false;
  while (std::getline(in, line)) {
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    // rows past the checkpoint, its step's eval row (the resumed run evaluates there again), and
    // half a line a kill left behind
    const int64_t at = row.is_object() && row.contains("step") && row["step"].is_number_integer()
                           ? row["step"].get<int64_t>() : -1;
    if (!row.is_object() || at > step || (at == step && row.contains("val_loss"))) {
      dropped = true;
      continue;
    }
    kept << line << "\n";
  }
  if (dropped) write_file_atomic(metrics_path, kept.str());
}

}  // namespace moelab::train
