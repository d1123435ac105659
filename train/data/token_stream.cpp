#include "train/data/token_stream.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace moelab::train {

TokenStream::TokenStream(std::vector<int32_t> tokens) : memory_(std::move(tokens)) {
  size_ = static_cast<int64_t>(memory_.size());
  pieces_.push_back({0, size_, 4, 0, nullptr});
}

void TokenStream::append(const int32_t* tokens, int64_t count, uint16_t domain) {
  MOELAB_CHECK(pieces_.empty() || !pieces_.back().file, "data: in-memory tokens cannot follow mapped shards");
  if (pieces_.empty()) pieces_.push_back({0, 0, 4, 0, nullptr});
  if (count == 0) return;
  if (runs_.empty() || runs_.back().domain != domain) runs_.push_back({size_, domain});
  memory_.insert(memory_.end(), tokens, tokens + count);
  size_ += count;
  pieces_.back().count = size_;
}

void TokenStream::append_mapped(std::shared_ptr<const MappedFile> file, const ShardLayout& layout,
                                const std::vector<DomainRun>& runs) {
  MOELAB_CHECK(pieces_.empty() || pieces_.back().file, "data: mapped shards cannot follow in-memory tokens");
  MOELAB_CHECK(pieces_.empty() || runs.empty() == runs_.empty(), "data: ", file->path(),
               ": either every shard of a split has domains or none has");
  if (layout.count == 0) return;
  for (const DomainRun& r : runs)
    if (runs_.empty() || runs_.back().domain != r.domain) runs_.push_back({size_ + r.start, r.domain});
  pieces_.push_back({size_, layout.count, layout.width, layout.header_bytes, std::move(file)});
  size_ += layout.count;
}

const TokenStream::Piece& TokenStream::piece_at(int64_t position) const {
  // the last piece starting at or before `position`
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), position,
                             [](int64_t pos, const Piece& p) { return pos < p.start; });
  return *std::prev(it);
}

void TokenStream::copy_from(const Piece& p, int64_t offset, int64_t count, int32_t* out) const {
  if (!p.file) {
    std::copy_n(memory_.data() + offset, count, out);
  } else {
    const unsigned char* src = p.file->data() + p.header_bytes + offset * p.width;
    if (p.width == 2) {
      for (int64_t i = 0; i < count; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = v;
      }
    } else {
      for (int64_t i = 0; i < count; ++i) {
        uint32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        MOELAB_CHECK(v <= 0x7FFFFFFFu, "data: ", p.file->path(), ": token ", v, " at byte ",
                     p.header_bytes + (offset + i) * p.width, " does not fit an int32 id");
        out[i] = static_cast<int32_t>(v);
      }
    }
    // the window is copied: its pages leave this process's resident set (O(batch x block) held)
    p.file->release(static_cast<uint64_t>(p.header_bytes + offset * p.width), static_cast<uint64_t>(count * p.width));
  }
  if (vocab_size_ <= 0) return;
  for (int64_t i = 0; i < count; ++i)
    if (out[i] < 0 || out[i] >= vocab_size_) {
      const std::string where = p.file ? p.file->path() + " at byte " + std::to_string(p.header_bytes + (offset + i) * p.width)
                                       : "in-memory tokens at position " + std::to_string(p.start + offset + i);
      throw Error("data: token " + std::to_string(out[i]) + " in " + where + " is not below the vocabulary size " +
                  std::to_string(vocab_size_) + " (shards made with another tokenizer?)");
    }
}

void TokenStream::read(int64_t start, int64_t count, int32_t* out) const {
  MOELAB_CHECK(start >= 0 && count >= 0 && start + count <= size_, "data: tokens [", start, ", ", start + count,
               ") are outside a stream of ", size_);
  while (count > 0) {
    const Piece& p = piece_at(start);
    const int64_t offset = start - p.start, n = std::min(count, p.count - offset);
    copy_from(p, offset, n, out);
    start += n, out += n, count -= n;
  }
}

void TokenStream::read_domains(int64_t start, int64_t count, uint16_t* out) const {
  MOELAB_CHECK(has_domains(), "data: this token stream has no domains");
  auto run = std::upper_bound(runs_.begin(), runs_.end(), start,
                              [](int64_t pos, const DomainRun& r) { return pos < r.start; });
  --run;  // the run holding `start` (runs_ begins at 0)
  for (int64_t i = 0; i < count; ++i) {
    while (std::next(run) != runs_.end() && std::next(run)->start <= start + i) ++run;
    out[i] = run->domain;
  }
}

int32_t TokenStream::at(int64_t i) const {
  int32_t v;
  read(i, 1, &v);
  return v;
}

std::vector<std::string> TokenStream::files() const {
  std::vector<std::string> out;
  for (const Piece& p : pieces_)
    if (p.file) out.push_back(p.file->path());
  return out;
}

}  // namespace moelab::train
