// train/io/atomic_file.h: whole-file writes that never leave half a file, and the temp names moelab
// writes. The bytes go to DIR/.moelab-tmp.PID.NAME (created exclusively, never through a link),
// which is fsynced and renamed over the target. On failure the temp file is removed and whatever
// was at the target is left as it was.
//
// Output paths: a symlink is followed (the file it names is replaced; the link stays a link), and a
// target that exists but is not a regular file (a device, FIFO, socket or folder) is refused: moelab
// never replaces /dev/null with a file.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moelab::train {

// Writes `bytes` to `path` atomically; throws moelab::Error naming the path and the OS error.
void write_file_atomic(const std::string& path, const std::string& bytes);
// The same, for a file made of several pieces written in order (no concatenated copy).
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces);

// Where an output to `path` goes: `path`, or the file a symlink at `path` names (followed to the
// end). Throws naming `what` (e.g. "--out report.html") when that exists and is not a regular file.
std::string output_file(const std::string& path, const std::string& what);

// The temp name moelab uses for NAME in its folder: ".moelab-tmp.<pid>.NAME".
std::string temp_name(const std::string& name);
// For a file name made by temp_name (any pid): the NAME it stands for; otherwise nothing.
std::optional<std::string> temp_name_target(const std::string& file_name);

}  // namespace moelab::train
