// train/token_routing.h: what the experts learn, cheaply: counts of (input token id, expert) over
// the eval batches' routing (no extra forward), turned into each expert's most frequent tokens with
// their shares, the routing split by token class, and mutual informations (docs/metrics.md).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moelab::train {

// Token classes, by the text a token stands for: "letters" (optionally after one leading space,
// as BPE words are), "digits", "space" (blanks, no newline), "newline" (any text holding one),
// "punct" (ASCII punctuation and symbols), "other" (mixed, non-ASCII non-letters, bytes).
const std::vector<std::string>& token_class_names();
int token_class(const std::string& text);
// Text for display: valid UTF-8 kept, each byte of an invalid sequence written as \xNN.
std::string display_token(const std::string& text);

struct TokenVocabulary {
  std::vector<std::string> text;  // per id, for display
  std::vector<uint8_t> cls;       // per id, an index into token_class_names()
  static std::shared_ptr<const TokenVocabulary> from_texts(std::vector<std::string> texts);
};

// One MoE layer's (token, expert) counts over a window; every assignment before capacity counts.
class TokenExpertCounts {
 public:
  TokenExpertCounts(std::shared_ptr<const TokenVocabulary> vocab, int64_t num_experts);
  void add(const int32_t* ids, int64_t num_ids, const std::vector<int32_t>& assigned_token,
           const std::vector<int32_t>& assigned_expert);
  std::vector<double>& counts() { return counts_; }  // [V * E], for summing over processes
  void reset();
  // {"top_tokens": [[[text, count in the expert, count of the token overall], ...] per expert],
  //  "token_classes": names, "class_expert": [class][expert] counts, "token_mi", "class_mi"}
  nlohmann::json to_json(int top_n) const;

 private:
  std::shared_ptr<const TokenVocabulary> vocab_;
  int64_t V_, E_;
  std::vector<double> counts_;
};

}  // namespace moelab::train
