#include "train/data/shard_format.h"

#include <cstring>

#include "core/error.h"

namespace moelab::train {

namespace {
int32_t int32_at(const unsigned char* bytes, int index) {
  int32_t v;
  std::memcpy(&v, bytes + 4 * index, 4);  // little-endian hosts only (x86-64, aarch64)
  return v;
}
}  // namespace

int token_width(int64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

void append_token_bytes(std::string& out, const int32_t* ids, int64_t count, int width) {
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(count * width));
  char* dst = out.data() + at;
  for (int64_t i = 0; i < count; ++i) {
    if (width == 2) {
      const auto v = static_cast<uint16_t>(ids[i]);
      std::memcpy(dst + 2 * i, &v, 2);
    } else {
      const auto v = static_cast<uint32_t>(ids[i]);
      std::memcpy(dst + 4 * i, &v, 4);
    }
  }
}

std::string shard_header(int64_t count, int width) {
  MOELAB_CHECK(count >= 0 && count <= kShardMaxTokens, "shard: ", count, " tokens do not fit the header's int32 count");
  MOELAB_CHECK(width == 2 || width == 4, "shard: tokens are 2 or 4 bytes, not ", width);
  int32_t header[256] = {};
  header[0] = width == 2 ? kShardMagic16 : kShardMagic32;
  header[1] = width == 2 ? kShardVersion16 : kShardVersion32;
  header[2] = static_cast<int32_t>(count);
  return std::string(reinterpret_cast<const char*>(header), sizeof header);
}

bool looks_like_shard(const unsigned char* bytes, uint64_t size) {
  if (size < 4) return false;
  const int32_t magic = int32_at(bytes, 0);
  return magic == kShardMagic16 || magic == kShardMagic32;
}

ShardLayout read_shard_header(const unsigned char* bytes, uint64_t file_size, const std::string& path) {
  MOELAB_CHECK(file_size >= static_cast<uint64_t>(kShardHeaderBytes), "data: ", path, " is truncated: ", file_size,
               " bytes, shorter than the ", kShardHeaderBytes, "-byte header of a token shard");
  const int32_t magic = int32_at(bytes, 0), version = int32_at(bytes, 1), count = int32_at(bytes, 2);
  MOELAB_CHECK(magic == kShardMagic16 || magic == kShardMagic32, "data: ", path, " is not a token shard: magic ", magic,
               " at byte 0, expected ", kShardMagic16, " (uint16 tokens) or ", kShardMagic32,
               " (uint32 tokens); a raw uint16 file needs data.format \"nanogpt\"");
  const bool narrow = magic == kShardMagic16;
  const int32_t expected_version = narrow ? kShardVersion16 : kShardVersion32;
  MOELAB_CHECK(version == expected_version, "data: ", path, ": version ", version, " at byte 4, expected ",
               expected_version, " for magic ", magic);
  MOELAB_CHECK(count >= 0, "data: ", path, ": negative token count ", count, " at byte 8");
  ShardLayout l{kShardHeaderBytes, narrow ? 2 : 4, count};
  const uint64_t expected = static_cast<uint64_t>(l.header_bytes + l.count * l.width);
  MOELAB_CHECK(file_size >= expected, "data: ", path, " is truncated: the header says ", count, " tokens (",
               expected, " bytes), the file has ", file_size, " bytes");
  MOELAB_CHECK(file_size == expected, "data: ", path, " has ", file_size - expected, " bytes after the ", count,
               " tokens its header announces (", expected, " bytes)");
  return l;
}

ShardLayout raw_uint16_layout(uint64_t file_size, const std::string& path) {
  MOELAB_CHECK(file_size % 2 == 0, "data: ", path, " has an odd size (", file_size,
               " bytes); a nanoGPT token file holds uint16 tokens");
  return {0, 2, static_cast<int64_t>(file_size / 2)};
}

}  // namespace moelab::train
