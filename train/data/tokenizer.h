// train/data/tokenizer.h: char-level (vocabulary = the sorted distinct Unicode characters of the
// corpus), byte-level (256 ids) or byte-level BPE (bpe.h: trained, read from a Hugging Face
// tokenizer.json, or GPT-2's own). Stored in the checkpoint sidecar.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "train/data/bpe.h"

namespace moelab::train {

// Decodes UTF-8; throws naming `where` and the byte offset of the first invalid sequence.
std::u32string utf8_decode(const std::string& s, const std::string& where);
std::string utf8_encode(const std::u32string& s);

class Tokenizer {
 public:
  // char-level over these texts; `names` (e.g. file paths) go into the error of an invalid one
  static Tokenizer chars_of(const std::vector<const std::string*>& texts, const std::vector<std::string>& names = {});
  static Tokenizer bytes();
  static Tokenizer bpe(Bpe bpe);
  static Tokenizer from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;

  std::vector<int32_t> encode(const std::string& text, const std::string& where) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  int vocab_size() const;
  bool byte_level() const { return byte_level_; }
  // "char", "byte" or "bpe"
  std::string kind() const { return bpe_ ? "bpe" : byte_level_ ? "byte" : "char"; }
  const Bpe* bpe_model() const { return bpe_.get(); }
  // The id `moelab prepare` puts before each document (<|endoftext|>), if the vocabulary has one;
  // char and byte vocabularies have none, so their shards have no separator.
  std::optional<int32_t> end_of_text() const;
  // Bytes of text each token stands for (special tokens: 0), for bits per byte.
  std::vector<int> bytes_per_token() const;

 private:
  bool byte_level_ = false;
  std::shared_ptr<const Bpe> bpe_;
  std::u32string chars_;
  std::unordered_map<char32_t, int32_t> index_;
};

}  // namespace moelab::train
