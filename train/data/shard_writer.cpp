#include "train/data/shard_writer.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "train/data/shard_format.h"
#include "train/io/atomic_file.h"

namespace moelab::train {

ShardWriter::ShardWriter(std::string dir, std::string name, std::string split, int first_index, int64_t max_tokens,
                         int width, bool single)
    : dir_(std::move(dir)), name_(std::move(name)), split_(std::move(split)), index_(first_index),
      max_tokens_(std::min(max_tokens, kShardMaxTokens)), width_(width), single_(single) {}

void ShardWriter::append_bytes(const char* bytes, int64_t count, uint16_t domain, std::vector<ShardInfo>& written) {
  while (count > 0) {
    if (count_ == max_tokens_) {
      MOELAB_CHECK(!single_, "prepare: the ", split_, " split has more than ", max_tokens_,
                   " tokens, more than one shard holds (lower --val-fraction)");
      write(written);
    }
    // a train shard's whole size at once: no copies as it grows (pages are touched only as filled)
    if (!single_ && buffer_.capacity() == 0) buffer_.reserve(static_cast<size_t>(max_tokens_ * width_));
    const int64_t n = std::min(count, max_tokens_ - count_);
    if (runs_.empty() || runs_.back().domain != domain) runs_.push_back({count_, domain});
    buffer_.append(bytes, static_cast<size_t>(n * width_));
    count_ += n, bytes += n * width_, count -= n;
  }
}

void ShardWriter::append(const int32_t* ids, int64_t count, uint16_t domain, std::vector<ShardInfo>& written) {
  std::string bytes;
  append_token_bytes(bytes, ids, count, width_);
  append_bytes(bytes.data(), count, domain, written);
}

void ShardWriter::finish(std::vector<ShardInfo>& written) {
  if (count_ > 0) write(written);
}

void ShardWriter::write(std::vector<ShardInfo>& written) {
  const std::string file = shard_file_name(name_, split_, index_++);
  const std::string header = shard_header(count_, width_);
  write_file_atomic((std::filesystem::path(dir_) / file).string(), std::vector<std::string_view>{header, buffer_});
  written.push_back({file, split_, count_, runs_});
  buffer_.clear();
  buffer_.shrink_to_fit();
  count_ = 0;
  runs_.clear();
}

}  // namespace moelab::train
