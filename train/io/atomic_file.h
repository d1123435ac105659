// train/io/atomic_file.h: whole-file writes that never leave half a file: the bytes go to a temp
// file in the same folder (PATH.tmp.PID), which is fsynced and renamed over PATH. On failure the
// temp file is removed and whatever was at PATH is left as it was.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace moelab::train {

// Writes `bytes` to `path` atomically; throws moelab::Error naming the path and the OS error.
void write_file_atomic(const std::string& path, const std::string& bytes);
// The same, for a file made of several pieces written in order (no concatenated copy).
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces);

}  // namespace moelab::train
