// libFuzzer target: the safetensors reader (train/io/safetensors.cpp, parse_safetensors), which
// loads checkpoints (model.safetensors, optimizer.safetensors) and foreign files.
// Any input must give either tensors whose storage really holds numel() floats, or a
// moelab::Error naming the file; any other exception, crash, sanitizer report, leak or huge
// allocation (libFuzzer's -rss_limit_mb / -malloc_limit_mb) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <typeinfo>

#include "core/error.h"
#include "train/io/safetensors.h"

namespace {
[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_safetensors: %s: %s\n", what, detail.c_str());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string where = "fuzz/input.safetensors";
  try {
    const moelab::train::SafeTensors st =
        moelab::train::parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), where);
    for (const auto& [name, t] : st.tensors) {
      const int64_t n = t.numel();
      if (n < 0) finding("negative numel", name);
      if (static_cast<uint64_t>(n) * 4 > size * 2 + 64) finding("tensor larger than the file allows", name);
      volatile float sink = 0;
      if (n > 0) sink = sink + t.data()[0] + t.data()[n - 1];  // ASan: the storage really holds n floats
    }
  } catch (const moelab::Error& e) {
    if (std::string(e.what()).find(where) == std::string::npos) finding("error does not name the file", e.what());
  } catch (const std::exception& e) {
    finding((std::string("exception other than moelab::Error: ") + typeid(e).name()).c_str(), e.what());
  }
  return 0;
}
