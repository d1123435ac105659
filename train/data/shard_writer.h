// train/data/shard_writer.h: one split's shards as `moelab prepare` writes them. Tokens are
// buffered in the shard's width; a full shard is written atomically (train/io/atomic_file.h) and
// described in the folder's ShardMeta, so an interrupted prepare never leaves a partial shard.
#pragma once
#include <string>
#include <vector>

#include "train/data/shard_meta.h"

namespace moelab::train {

class ShardWriter {
 public:
  // Shards DIR/<name>_<split>_<index>.bin from `first_index` on, each of at most `max_tokens`;
  // `single`: the whole split in one shard (more than max_tokens is an error).
  ShardWriter(std::string dir, std::string name, std::string split, int first_index, int64_t max_tokens, int width,
              bool single);
  // Appends `count` tokens from one source file (a domain), given as shard bytes (`width` each,
  // append_token_bytes); writes each shard as it fills.
  void append_bytes(const char* bytes, int64_t count, uint16_t domain, std::vector<ShardInfo>& written);
  void append(const int32_t* ids, int64_t count, uint16_t domain, std::vector<ShardInfo>& written);
  // Writes what is buffered (nothing if empty).
  void finish(std::vector<ShardInfo>& written);
  int next_index() const { return index_; }

 private:
  void write(std::vector<ShardInfo>& written);
  std::string dir_, name_, split_;
  int index_;
  int64_t max_tokens_;
  int width_;
  bool single_;
  std::string buffer_;            // the tokens of the shard being filled, little-endian
  int64_t count_ = 0;
  std::vector<DomainRun> runs_;
};

}  // namespace moelab::train
