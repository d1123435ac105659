#include "train/io/progress.h"

#include <algorithm>
#include <cstdio>

#include "train/io/files.h"

namespace moelab::train {

Progress::Progress(std::ostream& out, bool tty, std::string label, double total_bytes)
    : out_(out), tty_(tty), label_(std::move(label)), total_(std::max(total_bytes, 1.0)) {}

std::string Progress::line(double done) const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = std::min(1.0, done / total_);
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s %5.1f%%  %s of %s  %.1f MB/s", label_.c_str(), 100 * fraction,
                human_bytes(done).c_str(), human_bytes(total_).c_str(), done / 1e6 / std::max(seconds, 1e-9));
  if (!tty_) return buf;
  const int width = 30, filled = static_cast<int>(width * fraction);
  return "\r\033[K[" + std::string(filled, '#') + std::string(width - filled, ' ') + "] " + buf;
}

void Progress::update(double done) {
  if (tty_) {
    out_ << line(done) << std::flush;
    return;
  }
  const int tenths = static_cast<int>(10 * std::min(1.0, done / total_));
  if (tenths <= tenths_shown_) return;
  tenths_shown_ = tenths;
  out_ << line(done) << "\n" << std::flush;
}

void Progress::finish() {
  if (tty_) out_ << "\n" << std::flush;
}

}  // namespace moelab::train
