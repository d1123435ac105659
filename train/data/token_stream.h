// train/data/token_stream.h: one split's tokens as a single sequence, whether they are held in
// memory (text tokenised at start-up) or read from memory-mapped shards. Positions run over the
// pieces in order, so a window may start in one shard and end in the next (docs/data.md); readers
// copy tokens out, so a batch is the same whatever holds the tokens.
//
// Each token's domain (its source file) is kept as runs [start, domain] rather than per token.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/data/shard_format.h"
#include "train/io/mapped_file.h"

namespace moelab::train {

// The first position of a run of tokens from one domain (an index into Corpus::domains).
struct DomainRun {
  int64_t start = 0;
  uint16_t domain = 0;
};

class TokenStream {
 public:
  TokenStream() = default;
  // In memory, without domains (tests, benchmarks).
  explicit TokenStream(std::vector<int32_t> tokens);

  // Appends tokens held in memory, all from `domain`.
  void append(const int32_t* tokens, int64_t count, uint16_t domain);
  // Appends a mapped file's tokens (laid out as `layout` says); `runs` start at 0 within the file
  // (empty: the stream has no domains).
  void append_mapped(std::shared_ptr<const MappedFile> file, const ShardLayout& layout,
                     const std::vector<DomainRun>& runs);
  // Ids at or above this are an error naming the shard and the byte offset (0: not checked).
  void set_vocab_size(int64_t vocab_size) { vocab_size_ = vocab_size; }

  int64_t size() const { return size_; }
  bool has_domains() const { return !runs_.empty(); }
  // Copies tokens [start, start + count) into `out`; mapped pages read are released again.
  void read(int64_t start, int64_t count, int32_t* out) const;
  // The domain of each of those tokens (only when has_domains()).
  void read_domains(int64_t start, int64_t count, uint16_t* out) const;
  int32_t at(int64_t i) const;
  // The names of the mapped files, in order (empty for an in-memory stream).
  std::vector<std::string> files() const;

 private:
  struct Piece {
    int64_t start = 0;                        // position of its first token in the stream
    int64_t count = 0;
    int width = 4;                            // bytes per token: 2 or 4 (mapped), 4 (int32 in memory)
    int64_t header_bytes = 0;
    std::shared_ptr<const MappedFile> file;   // null: the in-memory tokens
  };
  const Piece& piece_at(int64_t position) const;
  void copy_from(const Piece& p, int64_t offset, int64_t count, int32_t* out) const;

  std::vector<Piece> pieces_;
  std::vector<int32_t> memory_;               // the in-memory tokens (one piece holds them all)
  std::vector<DomainRun> runs_;
  int64_t size_ = 0;
  int64_t vocab_size_ = 0;
};

}  // namespace moelab::train
