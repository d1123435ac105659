// train/data/bpe.h: byte-level BPE (GPT-2 style). Text is split into words (pretokenize.h); each
// word's bytes start as 256 single-byte tokens, and the adjacent pair with the lowest merge rank is
// merged until no listed pair is left (leftmost first among equal ranks). Special tokens (e.g.
// <|endoftext|>) have ids but are never produced from text: encode() treats "<|endoftext|>" in a
// document as ordinary characters, so no document can forge a document boundary.
//
// Files: the Hugging Face tokenizer.json format (BPE model, ByteLevel pre-tokenizer and decoder),
// read and written; GPT-2's ranks as js-tiktoken ships them (npm), read.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moelab::train {

class Bpe {
 public:
  // Tokens 0..255 are the bytes; merges[i] = (left, right) makes token 256 + i; specials follow.
  static Bpe from_merges(const std::vector<std::pair<int32_t, int32_t>>& merges,
                         const std::vector<std::string>& special_tokens);
  // Hugging Face tokenizer.json (as a parsed document); `where` names it in errors.
  static Bpe from_hf_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_hf_json() const;
  // js-tiktoken's ranks module (e.g. node_modules/js-tiktoken/dist/ranks/gpt2.js): its text.
  static Bpe from_tiktoken_js(const std::string& js, const std::string& where);

  std::vector<int32_t> encode(std::string_view text) const;
  // The same ids as encode(), from pieces of about 1 MB encoded on all OpenMP threads.
  std::vector<int32_t> encode_parallel(std::string_view text) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  const std::string& token_bytes(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  // id of a special token, or -1
  int32_t special_id(const std::string& name) const;
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

 private:
  struct Merge {
    int32_t rank, id;
  };
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  static Bpe read_hf_json(const nlohmann::json& j, const std::string& where);
  static Bpe read_tiktoken_js(const std::string& js, const std::string& where);
  std::vector<bool> special_mask() const;  // by id
  void add_merge(int32_t a, int32_t b, int32_t rank, int32_t id);
  void index_tokens();

  std::string name_;                               // "gpt2", or empty
  std::vector<std::string> tokens_;                // id -> bytes (special tokens: their text)
  std::unordered_map<std::string, int32_t> ids_;   // bytes -> id (ordinary tokens)
  std::unordered_map<uint64_t, Merge> merges_;     // (left, right) -> rank, merged id
  std::vector<std::pair<int32_t, int32_t>> merge_list_;  // by rank
  std::map<std::string, int32_t> specials_;
  int32_t byte_id_[256];
  uint64_t instance_ = 0;  // identifies this vocabulary for the per-thread word cache
};

// GPT-2's map of bytes to printable characters (the alphabet of tokenizer.json's vocab and merges).
std::string byte_to_unicode(unsigned char b);

}  // namespace moelab::train
