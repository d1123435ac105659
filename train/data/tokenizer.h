// train/tokenizer.h: char-level (vocabulary = the sorted distinct Unicode characters of the
// corpus) or byte-level (256 ids). Stored in the checkpoint sidecar.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace moelab::train {

// Decodes UTF-8; throws naming `where` and the byte offset of the first invalid sequence.
std::u32string utf8_decode(const std::string& s, const std::string& where);
std::string utf8_encode(const std::u32string& s);

class Tokenizer {
 public:
  // char-level over these texts; `names` (e.g. file paths) go into the error of an invalid one
  static Tokenizer chars_of(const std::vector<const std::string*>& texts, const std::vector<std::string>& names = {});
  static Tokenizer bytes();
  static Tokenizer from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;

  std::vector<int32_t> encode(const std::string& text, const std::string& where) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  int vocab_size() const { return byte_level_ ? 256 : static_cast<int>(chars_.size()); }
  bool byte_level() const { return byte_level_; }
  // The id `moelab prepare` puts before each document (GPT-2's <|endoftext|>), if the vocabulary
  // has one; char and byte vocabularies have none, so their shards have no separator.
  std::optional<int32_t> end_of_text() const { return std::nullopt; }

 private:
  bool byte_level_ = false;
  std::u32string chars_;
  std::unordered_map<char32_t, int32_t> index_;
};

}  // namespace moelab::train
