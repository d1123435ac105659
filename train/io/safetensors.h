// train/io/safetensors.h: the safetensors format (8-byte little-endian header length, JSON header
// with dtype/shape/data_offsets per tensor and an optional __metadata__ of strings, then raw
// little-endian data). Writes are atomic (train/io/atomic_file.h).
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

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
// The same from the bytes of a file; every error names `where` (the path) and the problem. Only ever
// throws moelab::Error (fuzzed: fuzz/fuzz_safetensors.cpp).
SafeTensors parse_safetensors(const std::string& bytes, const std::string& where);

}  // namespace moelab::train
