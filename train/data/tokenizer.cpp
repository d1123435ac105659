#include "train/data/tokenizer.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "train/data/pretokenize.h"

namespace moelab::train {

std::u32string utf8_decode(const std::string& s, const std::string& where) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto [len, cp] = utf8_char_at(s, i);
    MOELAB_CHECK(cp != kNotUtf8, where, ": invalid UTF-8 at byte ", i, " (line ", 1 + std::count(s.begin(), s.begin() + i, '\n'),
                 "; use \"tokenizer\": \"byte\" for binary or non-UTF-8 text)");
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string utf8_encode(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

Tokenizer Tokenizer::chars_of(const std::vector<const std::string*>& texts, const std::vector<std::string>& names) {
  std::set<char32_t> seen;
  for (size_t i = 0; i < texts.size(); ++i)
    for (char32_t c : utf8_decode(*texts[i], i < names.size() ? "tokenizer: " + names[i] : "tokenizer")) seen.insert(c);
  Tokenizer tok;
  tok.chars_.assign(seen.begin(), seen.end());
  for (size_t i = 0; i < tok.chars_.size(); ++i) tok.index_[tok.chars_[i]] = static_cast<int32_t>(i);
  return tok;
}

Tokenizer Tokenizer::bytes() {
  Tokenizer tok;
  tok.byte_level_ = true;
  return tok;
}

Tokenizer Tokenizer::bpe(Bpe bpe) {
  Tokenizer tok;
  tok.bpe_ = std::make_shared<const Bpe>(std::move(bpe));
  return tok;
}

std::optional<int32_t> Tokenizer::end_of_text() const {
  const int32_t id = bpe_ ? bpe_->special_id("<|endoftext|>") : -1;
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

int Tokenizer::vocab_size() const {
  return bpe_ ? bpe_->vocab_size() : byte_level_ ? 256 : static_cast<int>(chars_.size());
}

std::vector<int> Tokenizer::bytes_per_token() const {
  std::vector<int> out(static_cast<size_t>(vocab_size()), 1);
  if (bpe_) {
    for (int i = 0; i < vocab_size(); ++i)
      out[i] = bpe_->special_id(bpe_->token_bytes(i)) == i ? 0 : static_cast<int>(bpe_->token_bytes(i).size());
  } else if (!byte_level_) {
    for (size_t i = 0; i < chars_.size(); ++i) out[i] = static_cast<int>(utf8_encode(std::u32string(1, chars_[i])).size());
  }
  return out;
}

nlohmann::json Tokenizer::to_json() const {
  if (bpe_) return {{"type", "bpe"}, {"tokenizer_json", bpe_->to_hf_json()}};
  if (byte_level_) return {{"type", "byte"}};
  return {{"type", "char"}, {"vocab", utf8_encode(chars_)}};
}

Tokenizer Tokenizer::from_json(const nlohmann::json& j) {
  MOELAB_CHECK(j.is_object() && j.contains("type"), "tokenizer: missing \"type\" in checkpoint sidecar");
  if (j.at("type") == "byte") return bytes();
  if (j.at("type") == "bpe") {
    MOELAB_CHECK(j.contains("tokenizer_json"), "tokenizer: type bpe without \"tokenizer_json\" in checkpoint sidecar");
    return bpe(Bpe::from_hf_json(j.at("tokenizer_json"), "tokenizer"));
  }
  MOELAB_CHECK(j.at("type") == "char" && j.contains("vocab") && j.at("vocab").is_string(),
               "tokenizer: expected type char with a vocab string, got ", j.dump());
  Tokenizer tok;
  tok.chars_ = utf8_decode(j.at("vocab").get<std::string>(), "tokenizer vocab");
  for (size_t i = 0; i < tok.chars_.size(); ++i) tok.index_[tok.chars_[i]] = static_cast<int32_t>(i);
  return tok;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, const std::string& where) const {
  if (bpe_) return bpe_->encode(text);
  std::vector<int32_t> ids;
  if (byte_level_) {
    for (char c : text) ids.push_back(static_cast<unsigned char>(c));
    return ids;
  }
  const std::u32string cps = utf8_decode(text, where);
  ids.reserve(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    auto it = index_.find(cps[i]);
    if (it == index_.end()) {
      std::string ch = utf8_encode(std::u32string(1, cps[i]));
      throw Error(where + ": character '" + ch + "' (U+" + [&] {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(cps[i]));
        return std::string(buf);
      }() + ") at character " + std::to_string(i + 1) + " is not in the model's vocabulary");
    }
    ids.push_back(it->second);
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  if (bpe_) return bpe_->decode(ids);
  if (byte_level_) {
    std::string s;
    for (int32_t id : ids) s += static_cast<char>(id);
    return s;
  }
  std::u32string s;
  for (int32_t id : ids) s += chars_.at(id);
  return utf8_encode(s);
}

}  // namespace moelab::train
