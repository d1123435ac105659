#include "train/token_routing.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <numeric>

#include <unicode/uchar.h>

#include "core/error.h"
#include "train/data/pretokenize.h"
#include "train/routing_metrics.h"

namespace moelab::train {

namespace {
enum Class : uint8_t { kLetters, kDigits, kSpace, kNewline, kPunct, kOther };
}

const std::vector<std::string>& token_class_names() {
  static const std::vector<std::string> names{"letters", "digits", "space", "newline", "punct", "other"};
  return names;
}

int token_class(const std::string& text) {
  if (text.empty()) return kOther;
  if (text.find('\n') != std::string::npos) return kNewline;
  bool letters = true, digits = true, blanks = true, punct = true;
  size_t i = 0;
  const bool leading_space = text.size() > 1 && text[0] == ' ';
  while (i < text.size()) {
    const auto [len, cp] = utf8_char_at(text, i);
    if (cp == kNotUtf8) return kOther;  // a byte of a multi-byte character
    const bool space = u_isUWhiteSpace(static_cast<UChar32>(cp));
    blanks &= space;
    if (!(i == 0 && leading_space)) {
      letters &= u_isalpha(static_cast<UChar32>(cp)) != 0;
      digits &= cp >= '0' && cp <= '9';
      punct &= cp < 128 && std::ispunct(static_cast<int>(cp)) != 0;
    }
    i += len;
  }
  if (blanks) return kSpace;
  if (letters) return kLetters;
  if (digits) return kDigits;
  if (punct) return kPunct;
  return kOther;
}

std::string display_token(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto [len, cp] = utf8_char_at(text, i);
    if (cp == kNotUtf8) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(text[i]));
      out += buf;
    } else {
      out.append(text, i, len);
    }
    i += len;
  }
  return out;
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::from_texts(std::vector<std::string> texts) {
  auto v = std::make_shared<TokenVocabulary>();
  v->cls.reserve(texts.size());
  for (std::string& t : texts) {
    v->cls.push_back(static_cast<uint8_t>(token_class(t)));
    t = display_token(t);
  }
  v->text = std::move(texts);
  return v;
}

TokenExpertCounts::TokenExpertCounts(std::shared_ptr<const TokenVocabulary> vocab, int64_t num_experts)
    : vocab_(std::move(vocab)), V_(static_cast<int64_t>(vocab_->text.size())), E_(num_experts) {
  reset();
}

void TokenExpertCounts::reset() { counts_.assign(static_cast<size_t>(V_ * E_), 0.0); }

void TokenExpertCounts::add(const int32_t* ids, int64_t num_ids, const std::vector<int32_t>& assigned_token,
                            const std::vector<int32_t>& assigned_expert) {
  for (size_t a = 0; a < assigned_token.size(); ++a) {
    const int32_t t = assigned_token[a], e = assigned_expert[a];
    if (t < 0 || t >= num_ids || e < 0 || e >= E_) continue;
    const int32_t id = ids[t];
    if (id >= 0 && id < V_) counts_[static_cast<size_t>(id * E_ + e)] += 1;
  }
}

nlohmann::json TokenExpertCounts::to_json(int top_n) const {
  const auto& names = token_class_names();
  std::vector<double> token_total(V_, 0.0);
  std::vector<std::vector<double>> joint;  // [token][expert], tokens seen only (MI needs no empty rows)
  std::vector<std::vector<double>> class_expert(names.size(), std::vector<double>(E_, 0.0));
  for (int64_t v = 0; v < V_; ++v) {
    const double* row = &counts_[static_cast<size_t>(v * E_)];
    token_total[v] = std::accumulate(row, row + E_, 0.0);
    if (token_total[v] == 0) continue;
    joint.emplace_back(row, row + E_);
    for (int64_t e = 0; e < E_; ++e) class_expert[vocab_->cls[v]][e] += row[e];
  }
  nlohmann::json top = nlohmann::json::array();
  std::vector<int64_t> order(V_);
  for (int64_t e = 0; e < E_; ++e) {
    std::iota(order.begin(), order.end(), 0);
    const auto n = std::min<int64_t>(top_n, V_);
    std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](int64_t a, int64_t b) {
      const double ca = counts_[static_cast<size_t>(a * E_ + e)], cb = counts_[static_cast<size_t>(b * E_ + e)];
      return ca != cb ? ca > cb : a < b;
    });
    nlohmann::json list = nlohmann::json::array();
    for (int64_t i = 0; i < n; ++i) {
      const double c = counts_[static_cast<size_t>(order[i] * E_ + e)];
      if (c == 0) break;
      list.push_back({vocab_->text[order[i]], static_cast<int64_t>(c), static_cast<int64_t>(token_total[order[i]])});
    }
    top.push_back(std::move(list));
  }
  std::vector<std::vector<int64_t>> ce(names.size(), std::vector<int64_t>(E_));
  for (size_t c = 0; c < names.size(); ++c)
    for (int64_t e = 0; e < E_; ++e) ce[c][e] = static_cast<int64_t>(class_expert[c][e]);
  return {{"top_tokens", top},
          {"token_classes", names},
          {"class_expert", ce},
          {"token_mi", mutual_information(joint)},
          {"class_mi", mutual_information(class_expert)}};
}

}  // namespace moelab::train
