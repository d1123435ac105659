// train/safetensors.h: the safetensors format (8-byte little-endian header length, JSON header
// with dtype/shape/data_offsets per tensor and an optional __metadata__ of strings, then raw
// little-endian data). Writes are atomic: temp file, fsync, rename.
#pragma once
#include <map>
#include <string>

#include "core/tensor.h"

namespace moelab::train {

struct SafeTensors {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Tensors are written in the map's (sorted) order. Throws naming the path on I/O failure; the
// previous file at `path`, if any, is left intact on failure.
void write_safetensors(const std::string& path, const SafeTensors& st);
// Reads F32 tensors (F16/BF16 converted); throws naming the path and the offending tensor.
SafeTensors read_safetensors(const std::string& path);

// Writes `bytes` to `path` atomically (temp in the same folder, fsync, rename).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace moelab::train
