// tests/train/run_losses.h: the training losses a run folder's metrics.jsonl logged, by step (the
// resume tests compare two runs' losses exactly).
#pragma once
#include <filesystem>
#include <map>

namespace moelab::testing {

std::map<int, double> logged_losses(const std::filesystem::path& run);

}  // namespace moelab::testing
