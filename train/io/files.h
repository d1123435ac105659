// train/io/files.h: reading the files a user or another program hands to moelab. A FIFO would block
// forever and /dev/zero never ends, so only regular files are read (symlinks followed), and every
// read is bounded by a size the caller chooses. Errors name what the file is for and the path.
#pragma once
#include <cstdint>
#include <string>

namespace moelab::train {

// The size of the regular file at `path`; throws "<what>: <path> is a FIFO/device/folder/... " or
// "<what>: cannot open <path>: <reason>".
uint64_t regular_file_size(const std::string& path, const std::string& what);

// The whole file, at most `max_bytes` of it (larger files are an error naming both sizes).
std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes);

// What a non-regular file is, for messages: "a FIFO, not a regular file (reading it could block
// forever)", "a character device, not a regular file", "a folder, not a file", ...
std::string describe_file_type(unsigned mode);

// Physical memory of this machine in bytes (0 if unknown): the budget for input-driven allocations.
double machine_memory_bytes();

// "1.5 GB", "230.0 MB", "12.0 kB": for messages about sizes.
std::string human_bytes(double bytes);

}  // namespace moelab::train
