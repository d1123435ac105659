// train/run_dir.h: housekeeping of a run folder while a run writes into it.
#pragma once
#include <cstdint>
#include <string>

namespace moelab::train {

// Holds an exclusive lock on OUT/.lock (flock) for its lifetime, so two runs never write one folder.
class RunLock {
 public:
  explicit RunLock(const std::string& out_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// A resumed run repeats the steps after its checkpoint and its eval at that step: drop those
// metrics.jsonl rows (rewritten atomically), so the log reads as one run.
void drop_metrics_after(const std::string& metrics_path, int64_t step);

}  // namespace moelab::train
