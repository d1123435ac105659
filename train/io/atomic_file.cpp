#include "train/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "train/io/files.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {
constexpr const char* kTempPrefix = ".moelab-tmp.";
}  // namespace

std::string temp_name(const std::string& name) { return kTempPrefix + std::to_string(::getpid()) + "." + name; }

std::optional<std::string> temp_name_target(const std::string& file_name) {
  const std::string prefix = kTempPrefix;
  if (file_name.rfind(prefix, 0) != 0) return std::nullopt;
  size_t i = prefix.size();
  const size_t digits_start = i;
  while (i < file_name.size() && i - digits_start < 10 && file_name[i] >= '0' && file_name[i] <= '9') ++i;
  if (i == digits_start || i >= file_name.size() || file_name[i] != '.' || i + 1 == file_name.size()) return std::nullopt;
  return file_name.substr(i + 1);
}

std::string output_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  fs::path target = path;
  for (int hops = 0; fs::is_symlink(fs::symlink_status(target, ec)); ++hops) {
    MOELAB_CHECK(hops < 40, what, ": ", path, " is a chain of more than 40 symbolic links (a loop?)");
    const fs::path next = fs::read_symlink(target, ec);
    MOELAB_CHECK(!ec, what, ": cannot read the link ", target.string(), ": ", ec.message());
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  struct stat st;
  if (::stat(target.c_str(), &st) == 0)
    MOELAB_CHECK(S_ISREG(st.st_mode), what, ": ", path, target.string() == path ? "" : " (-> " + target.string() + ")",
                 " is ", describe_file_type(st.st_mode), "; moelab writes regular files only and will not replace it");
  return target.string();
}

void write_file_atomic(const std::string& path_in, const std::vector<std::string_view>& pieces) {
  const std::string path = output_file(path_in, "cannot write " + path_in);
  const fs::path p(path);
  const std::string tmp = (p.parent_path() / temp_name(p.filename().string())).string();
  ::unlink(tmp.c_str());  // our own pid's leftover, if any (a name no other process uses)
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  MOELAB_CHECK(fd >= 0, "cannot write ", path_in, ": ", tmp, ": ", std::strerror(errno));
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path_in + ": " + std::strerror(err));
  };
  for (std::string_view piece : pieces) {
    size_t done = 0;
    while (done < piece.size()) {
      const ssize_t w = ::write(fd, piece.data() + done, piece.size() - done);
      if (w < 0) fail(errno);
      done += static_cast<size_t>(w);
    }
  }
  if (::fsync(fd) != 0) fail(errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path_in + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path_in + ": " + std::strerror(err));
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, std::vector<std::string_view>{bytes});
}

}  // namespace moelab::train
