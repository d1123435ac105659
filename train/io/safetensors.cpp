#include "train/io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "train/io/atomic_file.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {

namespace {
// FNV-1a over 64-bit little-endian words of the data section, then its tail bytes: a cheap guard
// against truncated or bit-flipped tensor data (not a cryptographic hash). Fed piece by piece
// (tensors are 4-byte multiples, so a word can straddle two tensors).
class DataChecksum {
 public:
  void feed(const char* data, size_t size) {
    size_t i = 0;
    while (pending_ > 0 && pending_ < 8 && i < size) word_[pending_++] = data[i++];
    if (pending_ == 8) {
      mix_word(word_);
      pending_ = 0;
    }
    for (; i + 8 <= size; i += 8) mix_word(data + i);
    for (; i < size; ++i) word_[pending_++] = data[i];
  }
  std::string hex() const {
    uint64_t h = h_;
    for (size_t i = 0; i < pending_; ++i) h = (h ^ static_cast<unsigned char>(word_[i])) * 0x100000001b3ULL;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }

 private:
  void mix_word(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h_ = (h_ ^ w) * 0x100000001b3ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
  char word_[8] = {};
  size_t pending_ = 0;
};

std::string data_checksum(const char* data, size_t size) {
  DataChecksum c;
  c.feed(data, size);
  return c.hex();
}
constexpr const char* kChecksumKey = "moelab_data_fnv64";
}  // namespace

void write_safetensors(const std::string& path, const SafeTensors& st_in) {
  static_assert(std::endian::native == std::endian::little, "moelab writes little-endian float32 directly");
  // Written straight from the tensors' memory (no serialised copy: a checkpoint's optimizer state
  // would otherwise double the process's peak memory while saving).
  SafeTensors st = st_in;
  DataChecksum checksum;
  for (const auto& [name, t] : st.tensors) checksum.feed(reinterpret_cast<const char*>(t.data()), t.numel() * 4);
  st.metadata[kChecksumKey] = checksum.hex();
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const auto& [name, t] : st.tensors) {
    const size_t bytes = static_cast<size_t>(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((static_cast<uint64_t>(h.size()) >> (8 * i)) & 0xFF);
  std::vector<std::string_view> pieces{std::string_view(len, 8), h};
  for (const auto& [name, t] : st.tensors)
    pieces.emplace_back(reinterpret_cast<const char*>(t.data()), static_cast<size_t>(t.numel()) * 4);
  write_file_atomic(path, pieces);
}

namespace {
float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal
      int e = -1;
      uint32_t m = mant;
      do { ++e; m <<= 1; } while (!(m & 0x400));
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}
}  // namespace

SafeTensors read_safetensors(const std::string& path) {
  // one copy of the file; no bigger than this machine's memory (the tensors are copied out of it)
  return parse_safetensors(read_regular_file(path, "checkpoint", static_cast<uint64_t>(machine_memory_bytes())), path);
}

namespace {
// A safetensors header nests 3 levels (header, entry, shape): deeper is not a header
// (train/json_depth.h says why it must not reach the error messages below).
constexpr int kMaxHeaderDepth = 8;

struct Entry {
  const std::string* name;
  std::string dtype;
  Shape shape;
  uint64_t begin, end;
};
}  // namespace

SafeTensors parse_safetensors(const std::string& buf, const std::string& path) {
  MOELAB_CHECK(buf.size() >= 8, "checkpoint: ", path, ": ", buf.size(), " bytes is too short for a safetensors file");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(buf[i])) << (8 * i);
  MOELAB_CHECK(n <= buf.size() - 8, "checkpoint: ", path, ": header length ", n, " exceeds the file size ",
               buf.size(), " (truncated or not a safetensors file)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(buf.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint: " + path + ": header is not valid JSON: " + e.what());
  }
  MOELAB_CHECK(header.is_object(), "checkpoint: ", path, ": header is not a JSON object");
  MOELAB_CHECK(!json_deeper_than(header, kMaxHeaderDepth), "checkpoint: ", path, ": header nests deeper than ",
               kMaxHeaderDepth, " levels (not a safetensors header)");
  SafeTensors st;
  const size_t data_size = buf.size() - 8 - n;
  const char* data = buf.data() + 8 + n;
  // 1. Check every entry against the data section before allocating anything: a header may lie
  //    about shapes (a product that overflows) or point many tensors at the same bytes.
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& info = it.value();
    if (name == "__metadata__") {
      MOELAB_CHECK(info.is_object(), "checkpoint: ", path, ": __metadata__ is not an object");
      for (auto m = info.begin(); m != info.end(); ++m)
        if (m.value().is_string() && m.key() != kChecksumKey) st.metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    const std::string where = "checkpoint: " + path + ": tensor " + name;
    MOELAB_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
                 where, ": entry needs dtype, shape and data_offsets");
    const std::string dtype = info.at("dtype").is_string() ? info.at("dtype").get<std::string>() : "?";
    const uint64_t elem = dtype == "F32" ? 4 : (dtype == "F16" || dtype == "BF16") ? 2 : 0;
    MOELAB_CHECK(elem, where, ": unsupported dtype ", info.at("dtype").dump());
    Shape shape;
    MOELAB_CHECK(info.at("shape").is_array(), where, ": shape is not a list");
    uint64_t extent = 1;  // product of the non-zero extents: must not overflow even when one extent is 0
    bool overflow = false, empty = false;
    for (const auto& d : info.at("shape")) {
      MOELAB_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, where, ": bad shape ", info.at("shape").dump());
      const int64_t v = d.get<int64_t>();
      shape.push_back(v);
      if (v == 0) empty = true;
      else overflow = overflow || __builtin_mul_overflow(extent, static_cast<uint64_t>(v), &extent);
    }
    uint64_t bytes = 0;
    overflow = overflow || extent > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(extent, elem, &bytes);
    MOELAB_CHECK(!overflow, where, ": shape ", shape_str(shape), " is too large (the product of its extents overflows)");
    if (empty) bytes = 0;
    const auto& off = info.at("data_offsets");
    MOELAB_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                 where, ": bad data_offsets");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    MOELAB_CHECK(b <= e && e <= data_size && e - b == bytes, where, ": data_offsets [", b, ", ", e, "] do not fit ",
                 dtype, " ", shape_str(shape), " in ", data_size, " data bytes");
    entries.push_back({&name, dtype, std::move(shape), b, e});
  }
  {  // tensors must not share bytes (the format forbids it; it would also multiply the memory used)
    std::vector<const Entry*> by_offset;
    for (const Entry& e : entries)
      if (e.end > e.begin) by_offset.push_back(&e);
    std::stable_sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const Entry& a = *by_offset[i - 1];
      const Entry& b = *by_offset[i];
      MOELAB_CHECK(b.begin >= a.end, "checkpoint: ", path, ": tensors ", *a.name, " [", a.begin, ", ", a.end, ") and ",
                   *b.name, " [", b.begin, ", ", b.end, ") overlap in the data section");
    }
  }
  if (header.contains("__metadata__") && header.at("__metadata__").is_object() &&
      header.at("__metadata__").contains(kChecksumKey)) {
    const nlohmann::json& recorded = header.at("__metadata__").at(kChecksumKey);
    const std::string want = recorded.is_string() ? recorded.get<std::string>() : "?";
    const std::string got = data_checksum(data, data_size);
    MOELAB_CHECK(want == got, "checkpoint: ", path, ": tensor data checksum ", got, " does not match the recorded ", want,
                 " (the file is corrupted or was changed after it was written)");
  }
  // 2. Copy out (at most 2x the data section: F16/BF16 become float32).
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape);
    const int64_t numel = t.numel();
    const char* src = data + e.begin;
    if (e.dtype == "F32") {
      std::memcpy(t.data(), src, numel * 4);
    } else {
      for (int64_t i = 0; i < numel; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        t[i] = e.dtype == "BF16" ? std::bit_cast<float>(static_cast<uint32_t>(h) << 16) : half_to_float(h);
      }
    }
    st.tensors[*e.name] = t;
  }
  return st;
}

}  // namespace moelab::train
