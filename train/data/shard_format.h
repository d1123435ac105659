// train/data/shard_format.h: llm.c's token shard (dev/data/data_common.py, write_datafile): a header
// of 256 little-endian int32 (magic, version, token count, then zeros), then the tokens.
//   magic 20240520, version 1: uint16 tokens (GPT-2's vocabulary and anything up to 65,536 ids)
//   magic 20240801, version 7: uint32 tokens (llm.c's llama-3 variant; larger vocabularies)
// nanoGPT's train.bin / val.bin are the raw uint16 tokens without a header. docs/data.md.
#pragma once
#include <cstdint>
#include <string>

namespace moelab::train {

constexpr int32_t kShardMagic16 = 20240520, kShardVersion16 = 1;
constexpr int32_t kShardMagic32 = 20240801, kShardVersion32 = 7;
constexpr int64_t kShardHeaderBytes = 256 * 4;
constexpr int64_t kShardMaxTokens = (int64_t{1} << 31) - 1;  // the count is an int32

// Where the tokens of a file are: after `header_bytes`, `count` of `width` bytes each.
struct ShardLayout {
  int64_t header_bytes = 0;
  int width = 2;
  int64_t count = 0;
};

// Bytes per token for a vocabulary: 2 while every id fits in uint16, else 4.
int token_width(int64_t vocab_size);
// Appends ids to `out` as a shard holds them: `width` bytes each, little-endian.
void append_token_bytes(std::string& out, const int32_t* ids, int64_t count, int width);
// The 1024-byte header of a shard of `count` tokens of `width` bytes.
std::string shard_header(int64_t count, int width);
// Checks an llm.c shard's header against the file size; errors name `path`: "not a token shard
// (magic ...)", "version ...", "truncated: ...".
ShardLayout read_shard_header(const unsigned char* bytes, uint64_t file_size, const std::string& path);
// nanoGPT's raw uint16 file: every 2 bytes a token (an odd size is an error naming `path`).
ShardLayout raw_uint16_layout(uint64_t file_size, const std::string& path);
// True when a file starting with these bytes has one of the shard magics (format auto-detection).
bool looks_like_shard(const unsigned char* bytes, uint64_t size);

}  // namespace moelab::train
