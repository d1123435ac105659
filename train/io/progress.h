// train/io/progress.h: progress of a long job over a known number of bytes. On a terminal, a bar
// redrawn in place; otherwise (a log file, a pipe) a plain line at every further tenth done.
#pragma once
#include <chrono>
#include <ostream>
#include <string>

namespace moelab::train {

class Progress {
 public:
  Progress(std::ostream& out, bool tty, std::string label, double total_bytes);
  void update(double done_bytes);
  // Ends the bar's line (on a terminal).
  void finish();

 private:
  std::string line(double done) const;
  std::ostream& out_;
  bool tty_;
  std::string label_;
  double total_;
  int tenths_shown_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace moelab::train
